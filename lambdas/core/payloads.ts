/**
 * One zod schema per state payload, parsed at every handler boundary and in
 * the local runner. A failed parse is one error type (PayloadParseError)
 * naming the payload and carrying zod's issues as `cause`.
 */
import { z } from 'zod';
import { PayloadParseError } from './errors';
import { describeIssues, RunSpec } from './spec';
import { Results } from './stage-results';

const Execution = z.object({ name: z.string(), id: z.string() });
const Caught = z.object({ Error: z.string(), Cause: z.string().optional() });

/** Input of ValidateSpec: the spec still raw. */
export const RawState = z.object({ spec: z.unknown(), results: Results, execution: Execution });
/** Input of every stage after ValidateSpec. */
export const StageState = z.object({
  spec: RunSpec,
  results: Results,
  execution: Execution,
  /** Set when a person runs the stage by hand (`cutline rollback`): recorded apart from the run's own records. */
  manual: z.object({ by: z.string().min(1) }).optional(),
});
export type StageState = z.infer<typeof StageState>;

export const ChunkInput = z.object({
  spec: RunSpec,
  chunk: z
    .object({ task: z.string(), index: z.number().int().min(0), lo: z.string(), hi: z.string(), key: z.enum(['text', 'uuid']).optional(), file: z.string().optional() })
    .refine((c) => c.key !== undefined || (/^-?\d+$/.test(c.lo) && /^-?\d+$/.test(c.hi)), { message: 'expected integer bounds (decimal strings) for a chunk without a text or uuid key' }),
});

/** One poll of a phase's soak: the Soak map's item (spec, phase index, segment), and after the first poll its last result. */
export const SoakPollInput = z.object({
  spec: RunSpec,
  phase: z.number().int().min(0),
  segment: z.object({ from: z.number().int().min(0), polls: z.number().int().min(1), pollSeconds: z.number().int().min(1), waitFirst: z.boolean() }),
  poll: z.object({ n: z.number().int().min(0), more: z.boolean(), waitSeconds: z.number().int().min(0), streaks: z.record(z.string(), z.number().int().min(0)) }).optional(),
});

const KeyValues = z.array(z.string()).nullable();
const GateChunk = z.object({ table: z.string(), index: z.number().int().min(0), lo: KeyValues, hi: KeyValues });
/** One chunk (the inline Map's iteration) or a batch of them (the Distributed Map's ItemBatcher: the spec once, in BatchInput). */
export const GateChunkInput = z.union([
  z.object({ spec: RunSpec, chunk: GateChunk }),
  z.object({ BatchInput: z.object({ spec: RunSpec }), Items: z.array(GateChunk).min(1) }),
]);
export type GateChunkInput = z.infer<typeof GateChunkInput>;

const BulkCommand = z.object({ name: z.string(), script: z.string(), timeoutSeconds: z.number().int(), pollSeconds: z.number().int() });
export const CommandSendInput = z.object({ spec: RunSpec, command: BulkCommand });
export const CommandPollInput = z.object({ spec: RunSpec, command: BulkCommand, sent: z.object({ commandId: z.string(), sentAt: z.string() }) });

export const GoNoGoInput = z.object({ taskToken: z.string().min(1).max(2048), state: StageState });

/** Classify and Summary run after any failure, so the spec may be invalid here. */
export const EndState = z.object({
  spec: z.unknown(),
  results: Results,
  execution: Execution,
  error: Caught.optional(),
  rollbackError: Caught.optional(),
  classifyError: Caught.optional(),
});
export type EndState = z.infer<typeof EndState>;

export function parsePayload<S extends z.ZodType>(schema: S, name: string, input: unknown): z.infer<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const problems = describeIssues(r.error, input);
  throw new PayloadParseError(
    `${name} payload is invalid: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
    { problems },
    { cause: r.error },
  );
}
