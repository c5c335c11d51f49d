import { StageState } from '../core/payloads';
import { decideStage } from '../core/pipeline';
import { STATES } from '../core/states';
import { defineHandler } from './define';

export const decide = defineHandler(STATES.decide, StageState, (input, ctx) => decideStage(input, ctx.deps));
export const handler = decide.handler;
