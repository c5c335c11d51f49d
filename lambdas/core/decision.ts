/**
 * Decision matrix (seed 003): GO only when every gate passed and the approval
 * was given and cutover + smoke succeeded; every NO_GO carries its
 * classification, owner, retry_at_utc and unblock_criteria.
 */
import { CLASSIFICATIONS, type Classification, GateFailed, VerifyFailed } from './errors';
import type { VerifyOutcome } from './verify';
import { failingGates, type GateOutcome } from './compare/verdict';
import { STAGE_ORDER, STATES, type TaskKey } from './states';

/** Decide: throw the NO_GO the results call for, or say what GO will do. */
export function decide(verify: VerifyOutcome, gate: GateOutcome): { verdict: 'PROCEED'; reasons: string[] } {
  const failedAssertions = verify.assertions.filter((a) => !a.ok);
  const unreadable = verify.tables.filter((t) => t.error);
  if (failedAssertions.length || unreadable.length) {
    const reasons = [
      ...failedAssertions.map((a) =>
        a.error
          ? `assertion "${a.name}" could not run: ${a.error}`
          : `assertion "${a.name}" found ${a.violations} violating row(s)${a.sample[0] ? `, first ${JSON.stringify(a.sample[0]).slice(0, 200)}` : ''}; expected 0`,
      ),
      ...unreadable.map((t) => `table ${t.table}: count failed: ${t.error}`),
    ];
    throw new VerifyFailed(`verify failed: ${reasons.join('; ')}`, { reasons });
  }
  if (gate.verdict !== 'PASS') {
    const bad = [
      ...gate.tables.filter((t) => t.verdict !== 'PASS').map((t) => `${t.table}: ${t.reason} (expected ${t.expected}, got ${t.actual})`),
      ...(gate.methodTables ?? []).filter((t) => t.verdict !== 'PASS').map((t) => `${t.table}: ${t.verdict}: ${t.reason}`),
      ...(gate.methodOverall?.verdict === 'FAIL' ? [`all method tables: diff ${gate.methodOverall.diff} rows (${gate.methodOverall.diffPercent}%) over the fast tolerance`] : []),
    ];
    const overall = gate.overall.verdict !== 'PASS' ? [`overall: diff ${gate.overall.diff} rows (${gate.overall.diffPercent}%)`] : [];
    const reasons = [...bad, ...overall];
    throw new GateFailed(`${failingGates(gate)} ${gate.verdict}: ${reasons.join('; ')}`, { reasons, verdict: gate.verdict });
  }
  return {
    verdict: 'PROCEED',
    reasons: [
      `${verify.tables.length} table count(s) within tolerance`,
      ...(gate.methodTables?.length ? [`${gate.methodTables.length} table(s) passed the method gates chunk by chunk`] : []),
      `${verify.assertions.length} assertion(s) returned no rows`,
    ],
  };
}

/** What Catch puts at $.error. */
export interface CaughtError {
  readonly Error: string;
  readonly Cause?: string;
}

const BY_ERROR: Record<string, Classification> = {
  SpecInvalid: 'SPEC_INVALID',
  PayloadParseError: 'SPEC_INVALID',
  EnvironmentBlocked: 'ENVIRONMENT_BLOCKED',
  MigrationFailed: 'MIGRATION_FAILED',
  BackfillFailed: 'BACKFILL_FAILED',
  VerifyFailed: 'VERIFY_FAILED',
  GateFailed: 'GATE_FAILED',
  ApprovalRejected: 'APPROVAL_REJECTED',
  CutoverFailed: 'CUTOVER_FAILED',
  SmokeFailed: 'SMOKE_FAILED',
  SyncFailed: 'SYNC_FAILED',
  IdempotencyFailed: 'IDEMPOTENCY_FAILED',
  MonitorTripped: 'MONITOR_TRIPPED',
};

/** An error with no name of ours is classified by the stage it stopped in. */
const BY_STAGE: Partial<Record<TaskKey, Classification>> = {
  validateSpec: 'SPEC_INVALID',
  preflight: 'ENVIRONMENT_BLOCKED',
  schema: 'MIGRATION_FAILED',
  commandSend: 'BACKFILL_FAILED',
  commandPoll: 'BACKFILL_FAILED',
  backfillPlan: 'BACKFILL_FAILED',
  backfillChunk: 'BACKFILL_FAILED',
  verify: 'VERIFY_FAILED',
  gates: 'GATE_FAILED',
  decide: 'GATE_FAILED',
  gatePlan: 'GATE_FAILED',
  gateChunk: 'GATE_FAILED',
  goNoGo: 'APPROVAL_TIMEOUT',
  cutover: 'CUTOVER_FAILED',
  smoke: 'SMOKE_FAILED',
  phase: 'CUTOVER_FAILED',
};

const UNBLOCK: Record<Classification, string> = {
  GO: '',
  SPEC_INVALID: 'Fix the run spec (`cutline validate spec.json` lists every problem with its JSON path) and start a new run.',
  ENVIRONMENT_BLOCKED: 'Fix every failing preflight check listed in 02_preflight.json (databases, parameters, jumpbox), then rerun.',
  MIGRATION_FAILED: 'Fix the failing migration named in 03_schema.json (history shows which statements applied); never edit an applied file.',
  BACKFILL_FAILED: 'Fix the failing chunk named in the evidence (05_backfill, 90_classify.json).',
  VERIFY_FAILED: 'Resolve every verify violation listed in 06_verify.json (counts, assertions), rerun backfill if needed.',
  GATE_FAILED: 'Reconcile the tables over tolerance listed in 07_gates.json, or agree a tolerance change with the approvers.',
  APPROVAL_REJECTED: "Address the approver's comment in 09_approval.json and start a new run with a new tCutover.",
  APPROVAL_TIMEOUT: 'No decision arrived before the approval timeout; agree a new window and start a new run.',
  CUTOVER_FAILED: 'Cutover actions failed and the rollback ran; see 10_cutover.json and 12_rollback.json.',
  SMOKE_FAILED: 'Smoke checks failed; see 11_smoke.json (after cutover) or 08_decide.json (promotion checks: nothing was promoted).',
  SYNC_FAILED: 'The consumer sync check failed (its output is in the stage record named in 90_classify.json); nothing was promoted. Fix the consumer, then start a new run with a new tCutover.',
  IDEMPOTENCY_FAILED: 'A replay changed the canonical payload (before/after hashes in the stage record named in 90_classify.json). Fix duplicate handling, then start a new run with a new tCutover.',
  MONITOR_TRIPPED: 'A monitor failed its windows during a phase soak (its values in 13_phases/<phase>/tripped.json); every applied phase was rolled back. Fix the cause, then start a new run.',
  ROLLED_BACK: 'The rollback restored the previous state; fix the cause in 10_cutover.json / 11_smoke.json / 13_phases/ and rehearse again.',
  ROLLBACK_FAILED: 'MANUAL ACTION: the rollback did not complete; follow 12_rollback.json step by step now.',
  INTERNAL_ERROR: 'An unexpected error; see 90_classify.json for the cause and report it.',
};

/**
 * Classes a resume can clear (nothing was decided or cut over yet): the same
 * run goes on, its checkpoints, plan and baselines kept. The others need a new run.
 */
export const RESUMABLE: readonly Classification[] = ['ENVIRONMENT_BLOCKED', 'MIGRATION_FAILED', 'BACKFILL_FAILED', 'VERIFY_FAILED', 'GATE_FAILED', 'INTERNAL_ERROR'];

/** The command that resumes a run on its platform. */
export function resumeHint(platform: 'aws' | 'local'): string {
  return platform === 'local'
    ? 'Then resume the same run: `cutline run <spec> --local --resume` (finished chunks and the first attempt\'s baselines are kept).'
    : 'Then resume the same run: `cutline resume <runId>` (a new execution of the same run: finished chunks and the first attempt\'s baselines are kept).';
}

/** Retry waits per class: environment problems are often quick to fix; rejections need a new window. */
const RETRY_HOURS: Record<Classification, number> = {
  GO: 0,
  SPEC_INVALID: 0,
  ENVIRONMENT_BLOCKED: 1,
  MIGRATION_FAILED: 4,
  BACKFILL_FAILED: 1,
  VERIFY_FAILED: 4,
  GATE_FAILED: 4,
  APPROVAL_REJECTED: 24,
  APPROVAL_TIMEOUT: 24,
  CUTOVER_FAILED: 24,
  SMOKE_FAILED: 24,
  SYNC_FAILED: 24,
  IDEMPOTENCY_FAILED: 24,
  MONITOR_TRIPPED: 24,
  ROLLED_BACK: 24,
  ROLLBACK_FAILED: 0,
  INTERNAL_ERROR: 4,
};

export interface ClassifyOutcome {
  readonly outcome: 'NO_GO';
  readonly classification: Classification;
  readonly stage: string;
  readonly error: string;
  readonly reason: string;
  readonly owner: string;
  readonly retry_at_utc: string;
  readonly unblock_criteria: string;
  /** For ROLLED_BACK / ROLLBACK_FAILED: what made the run roll back. */
  readonly cause_classification?: Classification;
}

/** The stage a run stopped in: the first stage in order with no result. */
export function stoppedStage(results: Record<string, unknown>): TaskKey {
  return STAGE_ORDER.find((k) => results[k] === undefined) ?? (results.phase !== undefined ? 'phase' : 'smoke');
}

function causeMessage(cause: string | undefined): string {
  if (!cause) return 'no cause given';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: string; message?: string };
    return parsed.errorMessage ?? parsed.message ?? cause;
  } catch {
    return cause;
  }
}

export function classify(input: {
  error: CaughtError;
  results: Record<string, unknown>;
  owner: string;
  now: Date;
  rollback?: { ok: boolean };
  /** Where the run runs: the unblock text names the command that resumes it there. */
  platform?: 'aws' | 'local';
}): ClassifyOutcome {
  const stage = stoppedStage(input.results);
  const timedOut = input.error.Error === 'States.Timeout' || input.error.Error === 'States.HeartbeatTimeout';
  // A phase waiting for its sign-off (PhaseGoNoGo) that nobody gave in time.
  const signOff = timedOut && (input.results.phase as { approval?: unknown } | undefined)?.approval !== undefined;
  let classification: Classification = BY_ERROR[input.error.Error] ?? (signOff ? 'APPROVAL_TIMEOUT' : undefined) ?? BY_STAGE[stage] ?? 'INTERNAL_ERROR';
  if (!CLASSIFICATIONS.includes(classification)) classification = 'INTERNAL_ERROR';
  let cause: Classification | undefined;
  if (input.rollback) {
    cause = classification;
    classification = input.rollback.ok ? 'ROLLED_BACK' : 'ROLLBACK_FAILED';
  }
  return {
    outcome: 'NO_GO',
    classification,
    stage: STATES[stage],
    error: input.error.Error,
    reason: causeMessage(input.error.Cause),
    owner: input.owner,
    retry_at_utc: new Date(input.now.getTime() + RETRY_HOURS[classification] * 3_600_000).toISOString(),
    unblock_criteria: RESUMABLE.includes(classification) ? `${UNBLOCK[classification]} ${resumeHint(input.platform ?? 'aws')}` : UNBLOCK[classification],
    ...(cause ? { cause_classification: cause } : {}),
  };
}
