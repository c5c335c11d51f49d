import { EndState } from '../core/payloads';
import { summaryStage } from '../core/pipeline';
import { STATES } from '../core/states';
import { defineHandler } from './define';

export const summary = defineHandler(STATES.summary, EndState, (input, ctx) => summaryStage(input, ctx.deps));
export const handler = summary.handler;
