/**
 * Errors as Step Functions names them. `terminal` errors (States.Runtime, States.DataLimitExceeded and a history over
 * its quota) end the whole execution: no Retry or Catch takes them, not even States.ALL.
 */
export class StatesError extends Error {
  constructor(
    override readonly name: string,
    /** The Cause, as the history and a Catch's {Error, Cause} show it. */
    readonly causeText: string,
  ) {
    super(causeText);
  }
  get terminal(): boolean {
    return isTerminal(this.name);
  }
}

/** Errors Step Functions raises itself that no Retry or Catch takes: they end the execution. */
export function isTerminal(error: string): boolean {
  return error === 'States.Runtime' || error === 'States.DataLimitExceeded';
}

/** Whether a retrier's or catcher's ErrorEquals takes this error (States.ALL takes every error but the terminal ones). */
export function errorMatches(errorEquals: readonly string[], error: StatesError, isTask: boolean): boolean {
  if (errorEquals.includes(error.name)) return true;
  if (error.terminal) return false;
  if (errorEquals.includes('States.ALL')) return true;
  return isTask && errorEquals.includes('States.TaskFailed') && error.name !== 'States.Timeout';
}

/**
 * A Lambda function's error as Step Functions reports it: the error type as Error, and as Cause the JSON Lambda returns
 * (errorType, errorMessage, trace).
 */
export function lambdaError(e: unknown): StatesError {
  if (e instanceof StatesError) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  const name = err.name || 'Error';
  const trace = (err.stack ?? '').split('\n').slice(0, 12);
  return new StatesError(name, JSON.stringify({ errorType: name, errorMessage: err.message, trace }));
}
