/**
 * Attempts: a run that is killed, crashes or is stopped and then resumed
 * (locally `cutline run … --local` again with the same runId) is one run of
 * several attempts. Every attempt leaves a record, 00_attempts/NNN.json, so
 * the evidence says how many there were and how each previous one ended.
 */
import type { Deps } from '../ports';
import { canonicalJson, readEvidenceJson } from './evidence';

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
