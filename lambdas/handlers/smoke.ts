import { StageState } from '../core/payloads';
import { smokeStage } from '../core/pipeline';
import { STATES } from '../core/states';
import { defineHandler } from './define';

export const smoke = defineHandler(STATES.smoke, StageState, (input, ctx) => smokeStage(input, ctx.deps));
export const handler = smoke.handler;
