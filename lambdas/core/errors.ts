/**
 * Named errors. Each class's `name` is exactly the string the state machine's
 * Catch / Retry `ErrorEquals` lists, so a Lambda throwing one is routed by name.
 */

/** Outcome classes of a run (seed 003's decision matrix). */
export const CLASSIFICATIONS = [
  'GO',
  'SPEC_INVALID',
  'ENVIRONMENT_BLOCKED',
  'MIGRATION_FAILED',
  'BACKFILL_FAILED',
  'VERIFY_FAILED',
  'GATE_FAILED',
  /** seed 003: the consumer sync gate (a check with this classification) failed. */
  'SYNC_FAILED',
  'APPROVAL_REJECTED',
  'APPROVAL_TIMEOUT',
  'CUTOVER_FAILED',
  'SMOKE_FAILED',
  /** seed 003: a replay changed the canonical payload (an idempotency check or a smoke replay). */
  'IDEMPOTENCY_FAILED',
  /** A progressive cutover: a monitor failed its windows during a phase's soak (every applied phase rolled back). */
  'MONITOR_TRIPPED',
  'ROLLED_BACK',
  'ROLLBACK_FAILED',
  'INTERNAL_ERROR',
] as const;
export type Classification = (typeof CLASSIFICATIONS)[number];

export abstract class CutlineError extends Error {
  abstract readonly classification: Classification;
  constructor(
    message: string,
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A stage failure: its `name` is the ASL error, its classification the NO_GO class. */
function stageError<C extends Classification>(name: string, classification: C) {
  return class extends CutlineError {
    override readonly name = name;
    readonly classification = classification;
  };
}

export class SpecInvalid extends stageError('SpecInvalid', 'SPEC_INVALID') {}
export class EnvironmentBlocked extends stageError('EnvironmentBlocked', 'ENVIRONMENT_BLOCKED') {}
export class MigrationFailed extends stageError('MigrationFailed', 'MIGRATION_FAILED') {}
export class BackfillFailed extends stageError('BackfillFailed', 'BACKFILL_FAILED') {}
export class VerifyFailed extends stageError('VerifyFailed', 'VERIFY_FAILED') {}
export class GateFailed extends stageError('GateFailed', 'GATE_FAILED') {}
export class ApprovalRejected extends stageError('ApprovalRejected', 'APPROVAL_REJECTED') {}
export class CutoverFailed extends stageError('CutoverFailed', 'CUTOVER_FAILED') {}
export class SmokeFailed extends stageError('SmokeFailed', 'SMOKE_FAILED') {}
export class SyncFailed extends stageError('SyncFailed', 'SYNC_FAILED') {}
export class IdempotencyFailed extends stageError('IdempotencyFailed', 'IDEMPOTENCY_FAILED') {}
export class MonitorTripped extends stageError('MonitorTripped', 'MONITOR_TRIPPED') {}
export class PayloadParseError extends stageError('PayloadParseError', 'INTERNAL_ERROR') {}

// PayloadParseError above is the one parse-error type for payloads at a handler
// boundary and in the local runner (Powertools parser style): it names the
// payload and carries zod's issues as `cause`.

/** A transient database condition the state machine retries (Data API names). */
export class TransientDatabaseError extends Error {
  constructor(
    override readonly name: 'StatementTimeoutException' | 'DatabaseResumingException' | 'ThrottlingException' | 'DatabaseConnectionLost',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A statement that outlives a Data API call (CREATE INDEX CONCURRENTLY on a big table) is still running when the
 * invocation's time is nearly up: the Schema / Cutover state retries it (its own Retry), and the next invocation
 * follows the same build instead of starting another or dropping the one that runs.
 */
export class MigrationStillRunning extends Error {
  override readonly name = 'MigrationStillRunning';
}
/** The Retry of the states that apply migrations: up to 40 more invocations, each following the build for up to ~14 minutes. */
export const STILL_RUNNING_RETRY = { ErrorEquals: ['MigrationStillRunning'], IntervalSeconds: 5, MaxAttempts: 40, BackoffRate: 1 } as const;

/**
 * Work that outlives an invocation and is kept as it goes (GatePlan's plan so far, a batch of gate chunks' checkpoints):
 * its state retries it and the next invocation goes on from what was kept.
 */
export class WorkStillRunning extends Error {
  override readonly name = 'WorkStillRunning';
}
/** The Retry of GatePlan and the gate chunk tasks: each invocation keeps what it did, so 40 of them go 40 times as far. */
export const WORK_STILL_RUNNING_RETRY = { ErrorEquals: ['WorkStillRunning'], IntervalSeconds: 1, MaxAttempts: 40, BackoffRate: 1 } as const;

/** Errors that the ASL retries (Retry.ErrorEquals) before any Catch. */
export const TRANSIENT_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'StatementTimeoutException',
  'DatabaseResumingException',
  'DatabaseUnavailableException',
  'ThrottlingException',
  // A dropped connection or terminated backend in a stage (its own retries spent, or none): the stage runs again (every stage is idempotent).
  'DatabaseConnectionLost',
] as const;

/** Error names the ASL catches into Classify. */
export const CAUGHT_ERRORS = [
  'SpecInvalid',
  'EnvironmentBlocked',
  'MigrationFailed',
  'BackfillFailed',
  'VerifyFailed',
  'GateFailed',
  'ApprovalRejected',
  'CutoverFailed',
  'SmokeFailed',
  'SyncFailed',
  'IdempotencyFailed',
  'MonitorTripped',
] as const;

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
