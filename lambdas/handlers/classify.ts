import { EndState } from '../core/payloads';
import { classifyStage } from '../core/pipeline';
import { STATES } from '../core/states';
import { defineHandler } from './define';

export const classify = defineHandler(STATES.classify, EndState, (input, ctx) => classifyStage(input, ctx.deps, ctx.platform));
export const handler = classify.handler;
