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
  'APPROVAL_REJECTED',
  'APPROVAL_TIMEOUT',
  'CUTOVER_FAILED',
  'SMOKE_FAILED',
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

export class SpecInvalid extends CutlineError {
  override readonly name = 'SpecInvalid';
  readonly classification = 'SPEC_INVALID' as const;
}
export class EnvironmentBlocked extends CutlineError {
  override readonly name = 'EnvironmentBlocked';
  readonly classification = 'ENVIRONMENT_BLOCKED' as const;
}
export class MigrationFailed extends CutlineError {
  override readonly name = 'MigrationFailed';
  readonly classification = 'MIGRATION_FAILED' as const;
}
export class BackfillFailed extends CutlineError {
  override readonly name = 'BackfillFailed';
  readonly classification = 'BACKFILL_FAILED' as const;
}
export class VerifyFailed extends CutlineError {
  override readonly name = 'VerifyFailed';
  readonly classification = 'VERIFY_FAILED' as const;
}
export class GateFailed extends CutlineError {
  override readonly name = 'GateFailed';
  readonly classification = 'GATE_FAILED' as const;
}
export class ApprovalRejected extends CutlineError {
  override readonly name = 'ApprovalRejected';
  readonly classification = 'APPROVAL_REJECTED' as const;
}
export class CutoverFailed extends CutlineError {
  override readonly name = 'CutoverFailed';
  readonly classification = 'CUTOVER_FAILED' as const;
}
export class SmokeFailed extends CutlineError {
  override readonly name = 'SmokeFailed';
  readonly classification = 'SMOKE_FAILED' as const;
}

/**
 * The one parse-error type for payloads at a handler boundary or in the local
 * runner (Powertools parser style): names the schema and carries zod's issues
 * as `cause`.
 */
export class PayloadParseError extends CutlineError {
  override readonly name = 'PayloadParseError';
  readonly classification = 'INTERNAL_ERROR' as const;
}

/** A transient database condition the state machine retries (Data API names). */
export class TransientDatabaseError extends Error {
  constructor(
    override readonly name: 'StatementTimeoutException' | 'DatabaseResumingException' | 'ThrottlingException',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Errors that the ASL retries (Retry.ErrorEquals) before any Catch. */
export const TRANSIENT_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'StatementTimeoutException',
  'DatabaseResumingException',
  'ThrottlingException',
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
] as const;

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
