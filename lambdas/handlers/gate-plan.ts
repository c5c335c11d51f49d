import { StageState } from '../core/payloads';
import { gatePlanStage } from '../core/pipeline';
import { STATES } from '../core/states';
import { defineHandler } from './define';

export const gatePlan = defineHandler(STATES.gatePlan, StageState, (input, ctx) => gatePlanStage(input, ctx.deps));
export const handler = gatePlan.handler;
