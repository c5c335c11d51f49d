import { StageState } from '../core/payloads';
import { gatesStage } from '../core/pipeline';
import { STATES } from '../core/states';
import { defineHandler } from './define';

export const gates = defineHandler(STATES.gates, StageState, (input, ctx) => gatesStage(input, ctx.deps));
export const handler = gates.handler;
