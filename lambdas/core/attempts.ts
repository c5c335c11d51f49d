/**
 * Attempts: a run that is killed, crashes or is stopped and then resumed
 * (locally `cutline run … --local` again with the same runId; in AWS
 * `cutline resume <runId>`, a new execution with a resume name) is one run of
 * several attempts. Every attempt leaves a record, 00_attempts/NNN.json, so
 * the evidence says how many there were and how each previous one ended.
 */
import { manifestKey, specKey, stepKey } from './evidence-layout';
import type { Deps } from '../ports';
import { RESUMABLE } from './decision';
import type { Classification } from './errors';
import { canonicalJson, readEvidenceJson, sha256Hex } from './evidence';

export interface AttemptRecord {
  readonly attempt: number;
  readonly started_utc: string;
  /** The execution (Step Functions ARN, or the local runner's). */
  readonly execution: string;
  readonly platform: 'aws' | 'local';
  /** How the attempt before this one ended, as the evidence shows it. */
  readonly previous: null | { attempt: number; started_utc: string; ended: 'interrupted' | 'finished' };
}

export const attemptKey = (runId: string, n: number) => `${runId}/00_attempts/${String(n).padStart(3, '0')}.json`;

/** Attempt records of a run, oldest first (numbered 1, 2, … without gaps: read until the first missing one, no listing). */
export async function readAttempts(runId: string, deps: Pick<Deps, 'evidence'>): Promise<AttemptRecord[]> {
  const out: AttemptRecord[] = [];
  for (let n = 1; ; n++) {
    const r = await readEvidenceJson<AttemptRecord>(deps.evidence, attemptKey(runId, n));
    if (!r) return out;
    out.push(r);
  }
}

/** Record the start of an attempt (numbered after the last one; a concurrent writer of the same number makes this one take the next). */
export async function recordAttempt(
  runId: string,
  execution: string,
  platform: 'aws' | 'local',
  finished: boolean,
  deps: Pick<Deps, 'evidence' | 'clock'>,
): Promise<AttemptRecord> {
  const before = await readAttempts(runId, deps);
  let n = (before.at(-1)?.attempt ?? 0) + 1;
  const last = before.at(-1);
  for (;;) {
    const rec: AttemptRecord = {
      attempt: n,
      started_utc: deps.clock.now().toISOString(),
      execution,
      platform,
      previous: last ? { attempt: last.attempt, started_utc: last.started_utc, ended: finished ? 'finished' : 'interrupted' } : null,
    };
    if (await deps.evidence.putIfAbsent(attemptKey(runId, n), canonicalJson(rec), 'application/json')) return rec;
    n++;
  }
}

/**
 * In AWS an execution name is single-use, so a resume is a new execution named after its run:
 * `<runId, first 60 characters>-r<n>-<first 8 hex of sha256(runId)>` (at most 80 characters, as names must be).
 */
export function resumeExecutionName(runId: string, n: number): string {
  return `${runId.slice(0, 60)}-r${n}-${sha256Hex(runId).slice(0, 8)}`;
}

/** Is this execution name a resume of that run? (The name alone says so: no other run can produce it.) */
export function isResumeOf(executionName: string, runId: string): boolean {
  const m = /-r(\d{1,4})-[0-9a-f]{8}$/.exec(executionName);
  return !!m && resumeExecutionName(runId, Number(m[1])) === executionName;
}

/** A run's outcome once Summary sealed it (its manifest exists), else undefined: a run killed inside Summary is not sealed. */
export async function sealedOutcome(runId: string, deps: Pick<Deps, 'evidence'>): Promise<{ outcome: 'GO' | 'NO_GO'; classification: Classification } | undefined> {
  if ((await deps.evidence.get(manifestKey(runId))) === undefined) return undefined;
  return (await readEvidenceJson<{ details: { outcome: 'GO' | 'NO_GO'; classification: Classification } }>(deps.evidence, stepKey(runId, 'summary')))?.details;
}

/** Why this run cannot be resumed (never started; or it ended in a way a resume cannot clear), or undefined. */
export async function resumeProblem(runId: string, deps: Pick<Deps, 'evidence'>): Promise<string | undefined> {
  if ((await deps.evidence.get(specKey(runId))) === undefined) return `run ${runId} has no evidence of a start (no ${specKey(runId)}); expected a run started with \`cutline start\` to resume`;
  const ended = await sealedOutcome(runId, deps);
  if (ended && !RESUMABLE.includes(ended.classification))
    return `run ${runId} ended ${ended.outcome}${ended.outcome === 'GO' ? '' : ` / ${ended.classification}`}, which a resume cannot clear (it was decided, cut over or rolled back); expected a new runId`;
  return undefined;
}
