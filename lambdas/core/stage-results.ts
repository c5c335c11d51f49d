/**
 * What a Task state leaves at `$.results.<name>`, typed: one zod schema per result a later stage reads, parsed with
 * the state at every handler boundary. Loose objects: a field a schema does not name is kept, never stripped (the
 * evidence and the history see the state as the stage wrote it). Each schema is checked at compile time to produce
 * the type its stage returns, so a changed outcome type that a reader would misread fails typecheck.
 */
import { z } from 'zod';
import type { ActionWaiting } from './actions';
import type { GateOutcome } from './compare/verdict';
import type { ClassifyOutcome } from './decision';
import { CLASSIFICATIONS } from './errors';
import type { VerifyOutcome } from './verify';

const Verdict = z.enum(['PASS', 'FAIL', 'INCONCLUSIVE']);
const CountText = z.string().nullable();

const TableCount = z.looseObject({ table: z.string(), expected: CountText, actual: CountText, error: z.string().optional() });
const AssertionResult = z.looseObject({
  name: z.string(),
  ok: z.boolean(),
  violations: z.number(),
  sample: z.array(z.record(z.string(), z.unknown())),
  error: z.string().optional(),
  ranges: z.number().optional(),
});
const BackfillTally = z.looseObject({ task: z.string(), chunks: z.number(), skipped: z.number(), rows: z.number() });
export const VerifyResult = z.looseObject({
  mode: z.enum(['source-vs-target', 'before-vs-after']),
  tables: z.array(TableCount),
  assertions: z.array(AssertionResult),
  backfill: z.array(BackfillTally).optional(),
}) satisfies z.ZodType<VerifyOutcome>;

const Overall = z.looseObject({ expected: z.string(), actual: z.string(), diff: z.string(), diffPercent: z.number(), verdict: Verdict });
const TableGate = z.looseObject({ table: z.string(), expected: CountText, actual: CountText, diff: CountText, diffPercent: z.number().nullable(), verdict: Verdict, reason: z.string() });
const MethodTable = z.looseObject({ table: z.string(), verdict: Verdict, reason: z.string(), chunks: z.number(), diffs: z.number(), rowsPerSecond: z.number().nullable() });
export const GatesResult = z.looseObject({
  method: z.literal('fast'),
  toleranceRows: z.number().optional(),
  tolerancePercent: z.number().optional(),
  tables: z.array(TableGate),
  overall: Overall,
  verdict: Verdict,
  methodTables: z.array(MethodTable).optional(),
  methodOverall: Overall.optional(),
}) satisfies z.ZodType<GateOutcome>;

const Classification = z.enum(CLASSIFICATIONS);
export const ClassifyResult = z.looseObject({
  outcome: z.literal('NO_GO'),
  classification: Classification,
  stage: z.string(),
  error: z.string(),
  reason: z.string(),
  owner: z.string(),
  retry_at_utc: z.string(),
  unblock_criteria: z.string(),
  cause_classification: Classification.optional(),
}) satisfies z.ZodType<ClassifyOutcome>;

const Waiting = z.looseObject({
  commandId: z.string(),
  sentAt: z.string(),
  running: z.literal(true),
  pollSeconds: z.number(),
  action: z.number().int().min(0),
  effect: z.enum(['ran', 'done-before', 'found-applied', 'followed', 'ran-again']),
  intents: z.number(),
}) satisfies z.ZodType<ActionWaiting>;
/** Cutover and Rollback: a command still running (the Wait loop calls the stage again), or what they did. */
const ActionsResult = z.looseObject({ waiting: Waiting.optional() });

/**
 * `$.results`: the results later stages read, typed; every other stage's result (backfillPlan, gatePlan, smoke, …)
 * kept as it is.
 */
export const Results = z.looseObject({
  preflight: z.looseObject({ baselineCounts: z.record(z.string(), z.string()).optional() }).optional(),
  verify: VerifyResult.optional(),
  gates: GatesResult.optional(),
  goNoGo: z.looseObject({ approver: z.string().optional(), comment: z.string().optional(), decidedAt: z.string().optional(), via: z.string().optional() }).optional(),
  cutover: ActionsResult.optional(),
  rollback: ActionsResult.extend({ ok: z.boolean().optional() }).optional(),
  classify: ClassifyResult.optional(),
});
export type Results = z.infer<typeof Results>;

/** A result a stage cannot run without: its absence means the state machine skipped a stage, which is a bug, named. */
export function required<K extends keyof Results>(results: Results, key: K, stage: string): NonNullable<Results[K]> {
  const v = results[key];
  if (v === undefined || v === null) throw new Error(`${stage} needs the result of ${key} at $.results.${key}; expected the state machine to run ${key} first`);
  return v as NonNullable<Results[K]>;
}
