import { StageState } from '../core/payloads';
import { preflightStage } from '../core/pipeline';
import { STATES } from '../core/states';
import { defineHandler } from './define';

export const preflight = defineHandler(STATES.preflight, StageState, (input, ctx) => preflightStage(input, ctx.deps));
export const handler = preflight.handler;
