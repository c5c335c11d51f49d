import { StageState } from '../core/payloads';
import { cutoverStage } from '../core/pipeline';
import { STATES } from '../core/states';
import { defineHandler } from './define';

export const cutover = defineHandler(STATES.cutover, StageState, (input, ctx) => cutoverStage(input, ctx.deps, ctx));
export const handler = cutover.handler;
