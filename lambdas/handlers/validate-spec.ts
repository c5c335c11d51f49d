import { RawState } from '../core/payloads';
import { validateSpecStage } from '../core/pipeline';
import { STATES } from '../core/states';
import { defineHandler } from './define';

export const validateSpec = defineHandler(STATES.validateSpec, RawState, (input, ctx) => validateSpecStage(input, ctx.platform, ctx.deps));
export const handler = validateSpec.handler;
