import { StageState } from '../core/payloads';
import { schemaStage } from '../core/pipeline';
import { STATES } from '../core/states';
import { defineHandler } from './define';

export const schema = defineHandler(STATES.schema, StageState, (input, ctx) => schemaStage(input, ctx.deps, ctx));
export const handler = schema.handler;
