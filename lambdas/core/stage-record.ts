/**
 * What every stage shares: its evidence record (PASS or FAIL, also when it throws), who runs it, and the run lease.
 */
import type { RecordedStep } from './evidence-layout';
import { stepKey } from './evidence-layout';
import { isResumeOf } from './attempts';
import type { Deps } from '../ports';
import { CutlineError, errorMessage } from './errors';
import { canonicalJson, type StepResult, stepRecord } from './evidence';
import type { StageState } from './payloads';
import { holdRunLease } from './lease';

export interface Who {
  readonly runId: string;
  readonly owner: string;
}

/** Run a stage and write its NN_<step>.json record, PASS or FAIL. */
export async function recorded<T>(
  deps: Deps,
  who: Who,
  step: RecordedStep,
  command: string,
  fn: () => Promise<{ value: T; result?: StepResult; details: Record<string, unknown> } | { value: T; pending: true }>,
): Promise<T> {
  const started = deps.clock.now();
  const write = (result: StepResult, details: Record<string, unknown>) =>
    deps.evidence.put(
      stepKey(who.runId, step),
      canonicalJson(stepRecord({ step, command, owner: who.owner, now: deps.clock.now(), result, details, durationMs: deps.clock.now().getTime() - started.getTime() })),
      'application/json',
    );
  try {
    const out = await fn();
    // Paused at a running command: the stage records its outcome when the Wait loop brings it back to its end.
    if ('pending' in out) return out.value;
    await write(out.result ?? 'PASS', out.details);
    return out.value;
  } catch (e) {
    const details = e instanceof CutlineError ? e.details : {};
    await write('FAIL', { error: e instanceof Error ? e.name : 'Error', message: errorMessage(e), ...details });
    throw e;
  }
}

export const who = (s: StageState): Who => ({ runId: s.spec.runId, owner: s.spec.owner });

/**
 * The run lease is held by the run, not by one execution: a resume (in AWS a new execution) takes over the databases
 * its interrupted attempt held; another run is refused until the lease ends.
 */
export const leaseHolder = (s: { spec: { runId: string } }) => `run:${s.spec.runId}`;

/** Every stage after Preflight renews the run lease; a run that lost it (expired, taken by another) stops here. */
export const renewLease = (s: StageState, deps: Deps) => holdRunLease(s.spec, leaseHolder(s), deps.sql);

/** The invocation a stage runs in: its time left (Lambda's context; locally the runner's function timeout). */
export interface Invocation {
  readonly remainingMs?: () => number;
}

/**
 * Where a run's records go: under the execution's own name (the spec's runId when it matches, as `start` names
 * executions), or under the run a resume execution works on once ValidateSpec accepted it (results.validateSpec).
 */
export function endWho(s: { spec: unknown; execution: { name: string }; results?: Record<string, unknown> }): Who {
  const spec = (s.spec ?? {}) as Record<string, unknown>;
  const owner = typeof spec.owner === 'string' ? spec.owner : 'unknown';
  if (s.results?.validateSpec && typeof spec.runId === 'string' && isResumeOf(s.execution.name, spec.runId)) return { runId: spec.runId, owner };
  const named = /^[A-Za-z0-9_-]{1,80}$/.test(s.execution.name) ? s.execution.name : 'invalid-execution-name';
  return { runId: named, owner };
}
