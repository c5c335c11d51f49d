import { StageState } from '../core/payloads';
import { rollbackStage } from '../core/pipeline';
import { STATES } from '../core/states';
import { defineHandler } from './define';

export const rollback = defineHandler(STATES.rollback, StageState, (input, ctx) => rollbackStage(input, ctx.deps));
export const handler = rollback.handler;
