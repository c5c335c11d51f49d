import { GateChunkInput } from '../core/payloads';
import { gateChunkStage } from '../core/pipeline';
import { STATES } from '../core/states';
import { defineHandler } from './define';

export const gateChunk = defineHandler(STATES.gateChunk, GateChunkInput, (input, ctx) => gateChunkStage(input, ctx.deps));
export const handler = gateChunk.handler;
