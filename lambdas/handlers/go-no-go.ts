import { GoNoGoInput } from '../core/payloads';
import { requestApprovalStage } from '../core/pipeline';
import { STATES } from '../core/states';
import { defineHandler } from './define';

export const goNoGo = defineHandler(STATES.goNoGo, GoNoGoInput, (input, ctx) => requestApprovalStage(input, ctx.deps, ctx.approvalBaseUrl));
export const handler = goNoGo.handler;
