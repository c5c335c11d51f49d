import { StageState } from '../core/payloads';
import { verifyStage } from '../core/pipeline';
import { STATES } from '../core/states';
import { defineHandler } from './define';

export const verify = defineHandler(STATES.verify, StageState, (input, ctx) => verifyStage(input, ctx.deps));
export const handler = verify.handler;
