import { StageState } from '../core/payloads';
import { backfillPlanStage } from '../core/pipeline';
import { STATES } from '../core/states';
import { defineHandler } from './define';

export const backfillPlan = defineHandler(STATES.backfillPlan, StageState, (input, ctx) => backfillPlanStage(input, ctx.deps));
export const handler = backfillPlan.handler;
