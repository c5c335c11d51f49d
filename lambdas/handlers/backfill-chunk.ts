import { ChunkInput } from '../core/payloads';
import { backfillChunkStage } from '../core/pipeline';
import { STATES } from '../core/states';
import { defineHandler } from './define';

export const backfillChunk = defineHandler(STATES.backfillChunk, ChunkInput, (input, ctx) => backfillChunkStage(input, ctx.deps));
export const handler = backfillChunk.handler;
