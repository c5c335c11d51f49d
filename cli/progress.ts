/**
 * Live progress of a run from its execution history (Step Functions
 * GetExecutionHistory in AWS, the local runner's history of the same shape offline): the
 * current stage, stages done with durations, and for the chunked stages chunks
 * done / total, rows/s and an ETA. Pure: callers fetch the events.
 */
import { STATES } from '../lambdas/core/states';

/** One history event, normalized from either source. */
export interface ProgressEvent {
  readonly kind: 'enter' | 'exit' | 'fail' | 'end';
  readonly ts: number;
  readonly state?: string;
  readonly output?: unknown;
  /** end: SUCCEEDED | FAILED | ABORTED | TIMED_OUT; fail: the error name. */
  readonly status?: string;
  readonly cause?: string;
}

export interface ChunkProgress {
  readonly done: number;
  readonly total: number | null;
  readonly rows: number;
  readonly rowsPerSecond: number | null;
  readonly etaSeconds: number | null;
}

export interface Progress {
  readonly status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT' | 'PENDING_REDRIVE' | string;
  readonly stage: string | null;
  readonly startedUtc: string | null;
  readonly stages: { name: string; ms: number | null }[];
  readonly backfill?: ChunkProgress;
  readonly gates?: ChunkProgress;
  readonly error?: { error: string; cause: string };
  /** Rollbacks by hand after the run ended (from its evidence). */
  readonly rolledBack?: readonly { by: string; at: string; result: string }[];
}

const parse = (v: unknown): unknown => {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    return undefined;
  }
};

/** GetExecutionHistory events (the SDK's HistoryEvent shape; the local runner writes the same, timestamps as ISO strings). */
export function fromAwsHistory(
  events: readonly {
    type?: string;
    timestamp?: Date | string;
    stateEnteredEventDetails?: { name?: string };
    stateExitedEventDetails?: { name?: string; output?: string };
    executionFailedEventDetails?: { error?: string; cause?: string };
    executionAbortedEventDetails?: { error?: string; cause?: string };
    executionTimedOutEventDetails?: { error?: string; cause?: string };
  }[],
): ProgressEvent[] {
  const out: ProgressEvent[] = [];
  for (const e of events) {
    const ts = e.timestamp ? new Date(e.timestamp).getTime() : 0;
    const t = e.type ?? '';
    if (t.endsWith('StateEntered') && e.stateEnteredEventDetails?.name) out.push({ kind: 'enter', ts, state: e.stateEnteredEventDetails.name });
    else if (t.endsWith('StateExited') && e.stateExitedEventDetails?.name) out.push({ kind: 'exit', ts, state: e.stateExitedEventDetails.name, output: parse(e.stateExitedEventDetails.output) });
    else if (t === 'ExecutionSucceeded') out.push({ kind: 'end', ts, status: 'SUCCEEDED' });
    else if (t === 'ExecutionFailed' || t === 'ExecutionAborted' || t === 'ExecutionTimedOut') {
      const d = e.executionFailedEventDetails ?? e.executionAbortedEventDetails ?? e.executionTimedOutEventDetails;
      out.push({ kind: 'end', ts, status: t === 'ExecutionFailed' ? 'FAILED' : t === 'ExecutionAborted' ? 'ABORTED' : 'TIMED_OUT', ...(d?.error ? { cause: `${d.error}: ${d.cause ?? ''}` } : {}) });
    }
  }
  return out;
}

/** States inside a Map iteration or the backfill phases' loop: progress counts them as chunks, not stages. */
const INNER: ReadonlySet<string> = new Set([
  STATES.commandSend,
  STATES.commandWait,
  STATES.commandPoll,
  STATES.commandDone,
  STATES.commandFinished,
  STATES.backfillPhasesLeft,
  STATES.backfillPhase,
  STATES.backfillMode,
  STATES.backfillChunks,
  STATES.backfillChunk,
  STATES.backfillChunksDistributed,
  STATES.backfillPhaseDone,
  STATES.backfillDone,
  STATES.gateChunk,
  STATES.gateChunkDistributed,
]);

/** A stage's Wait loop at a running jumpbox command: its states fold into the stage, however many looks it takes. */
const LOOPS: ReadonlyMap<string, string> = new Map([
  [STATES.cutoverCommandRunning, STATES.cutover],
  [STATES.cutoverCommandWait, STATES.cutover],
  [STATES.rollbackCommandRunning, STATES.rollback],
  [STATES.rollbackCommandWait, STATES.rollback],
]);
const LOOPED = new Set(LOOPS.values());

/** Chunks done of total, rows, and the rate and ETA from the first chunk's start to `lastTs`. */
export function chunkProgress(done: number, total: number | null, rows: number, firstTs: number | null, lastTs: number): ChunkProgress {
  const secs = firstTs !== null ? (lastTs - firstTs) / 1000 : 0;
  const rate = secs > 0 && done > 0 ? done / secs : null;
  return {
    done,
    total,
    rows,
    rowsPerSecond: secs > 0 && rows > 0 ? Math.round(rows / secs) : null,
    etaSeconds: total !== null && rate ? Math.max(0, Math.round((total - done) / rate)) : null,
  };
}

/** A Distributed Map's Map Run: its label (the Map state's name) and item counts (DescribeMapRun). */
export interface MapRunProgress {
  readonly label: string;
  readonly done: number;
  readonly total: number;
}

/**
 * Rates run from a stage's first chunk to its latest finished one.
 * @param mapRuns item counts of the run's Distributed Map runs (their chunks run in child executions, not in this history).
 */
export function progressOf(events: readonly ProgressEvent[], mapRuns: readonly MapRunProgress[] = []): Progress {
  const stages: { name: string; ms: number | null; t0: number }[] = [];
  let status = 'RUNNING';
  let error: Progress['error'];
  const bf = { done: 0, rows: 0, total: null as number | null, first: null as number | null, last: 0 };
  const gt = { done: 0, rows: 0, total: null as number | null, first: null as number | null, last: 0 };
  for (const e of events) {
    if (e.kind === 'end') {
      status = e.status ?? 'FAILED';
      if (e.cause) {
        const i = e.cause.indexOf(': ');
        error = { error: e.cause.slice(0, i), cause: e.cause.slice(i + 2) };
      }
      continue;
    }
    const name = e.state!;
    if (name === STATES.backfillChunk || name === STATES.gateChunk) {
      const c = name === STATES.backfillChunk ? bf : gt;
      if (e.kind === 'enter') c.first ??= e.ts;
      if (e.kind === 'exit') {
        c.done++;
        c.last = e.ts;
        const rows = (e.output as { rows?: unknown } | undefined)?.rows;
        if (typeof rows === 'number') c.rows += rows;
      }
      continue;
    }
    if (INNER.has(name) || LOOPS.has(name)) continue;
    // The backfill phases loop at the top level: one stage from BackfillPhases to the next stage entered.
    const loop = stages.at(-1)?.name === STATES.backfillPhases ? stages.at(-1)! : undefined;
    if (loop && loop.ms === null && e.kind === 'enter') loop.ms = e.ts - loop.t0;
    if (name === STATES.backfillPhases && e.kind === 'exit') continue;
    const last = stages.at(-1);
    if (e.kind === 'enter' && LOOPED.has(name) && last?.name === name) last.ms = null;
    else if (e.kind === 'enter') stages.push({ name, ms: null, t0: e.ts });
    else if (e.kind === 'exit') {
      const st = [...stages].reverse().find((s) => s.name === name && s.ms === null);
      if (st) st.ms = e.ts - st.t0;
      const results = (e.output as { results?: Record<string, unknown> } | undefined)?.results;
      if (name === STATES.backfillPlan) {
        const count = (results?.backfillPlan as { count?: unknown } | undefined)?.count;
        if (typeof count === 'number') bf.total = count;
      }
      if (name === STATES.gatePlan) {
        const count = (results?.gatePlan as { count?: unknown } | undefined)?.count;
        if (typeof count === 'number') gt.total = count;
      }
    }
  }
  const gateRuns = mapRuns.filter((r) => r.label === STATES.gateChunksDistributed);
  if (gateRuns.length) {
    gt.done = gateRuns.reduce((n, r) => n + r.done, 0);
    gt.total = gateRuns.reduce((n, r) => n + r.total, 0);
    gt.first ??= stages.find((s) => s.name === STATES.gateChunksDistributed)?.t0 ?? null;
    gt.last = events.at(-1)?.ts ?? 0;
  }
  const backfillRuns = mapRuns.filter((r) => r.label === STATES.backfillChunksDistributed);
  if (backfillRuns.length) {
    bf.done += backfillRuns.reduce((n, r) => n + r.done, 0);
    bf.first ??= stages.find((s) => s.name === STATES.backfillPhases)?.t0 ?? null;
    bf.last = events.at(-1)?.ts ?? 0;
  }
  const open = [...stages].reverse().find((s) => s.ms === null);
  const first = events.find((e) => e.kind === 'enter');
  return {
    status,
    stage: status === 'RUNNING' ? (open?.name ?? null) : (stages.at(-1)?.name ?? null),
    startedUtc: first ? new Date(first.ts).toISOString() : null,
    stages: stages.map((s) => ({ name: s.name, ms: s.ms })),
    ...(bf.total !== null || bf.done ? { backfill: chunkProgress(bf.done, bf.total, bf.rows, bf.first, bf.last) } : {}),
    ...(gt.total !== null || gt.done ? { gates: chunkProgress(gt.done, gt.total, gt.rows, gt.first, gt.last) } : {}),
    ...(error ? { error } : {}),
  };
}

/** Pass and Choice states: in the JSON, not worth a place in the one-line summary. */
const PLUMBING: ReadonlySet<string> = new Set([STATES.start, STATES.useValidatedSpec, STATES.gateMode, STATES.outcome, STATES.done]);

/**
 * The manifest root the Summary state returned, as the execution history
 * recorded it: an anchor for the evidence kept outside the evidence bucket.
 */
export function recordedManifestRoot(events: readonly ProgressEvent[]): string | undefined {
  const exit = [...events].reverse().find((e) => e.kind === 'exit' && e.state === STATES.summary);
  const root = (exit?.output as { results?: { summary?: { manifestRoot?: unknown } } } | undefined)?.results?.summary?.manifestRoot;
  return typeof root === 'string' ? root : undefined;
}

const dur = (s: number) => (s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`);

export function chunkLine(what: string, c: ChunkProgress): string {
  const pct = c.total ? ` (${Math.floor((c.done / c.total) * 100)}%)` : '';
  const rate = c.rowsPerSecond !== null ? `, ${c.rowsPerSecond.toLocaleString('en-US')} rows/s` : '';
  const eta = c.etaSeconds !== null && c.total !== null && c.done < c.total ? `, ETA ${dur(c.etaSeconds)}` : '';
  return `${what}: ${c.done}/${c.total ?? '?'} chunks${pct}${c.rows ? `, ${c.rows.toLocaleString('en-US')} rows` : ''}${rate}${eta}`;
}

export function renderProgress(runId: string, p: Progress): string[] {
  const lines = [`${runId}: ${p.status}${p.stage ? ` · ${p.status === 'RUNNING' ? 'in' : 'last stage'} ${p.stage}` : ''}${p.startedUtc ? ` · started ${p.startedUtc}` : ''}`];
  if (p.backfill) lines.push(`  ${chunkLine('backfill', p.backfill)}`);
  if (p.gates && (p.gates.total || p.gates.done)) lines.push(`  ${chunkLine('gates', p.gates)}`);
  const done = p.stages.filter((s) => s.ms !== null && !PLUMBING.has(s.name));
  if (done.length) lines.push(`  done: ${done.map((s) => `${s.name} ${(s.ms! / 1000).toFixed(1)}s`).join(', ')}`);
  if (p.error) lines.push(`  error: ${p.error.error}: ${p.error.cause.slice(0, 300)}`);
  for (const r of p.rolledBack ?? []) lines.push(`  rolled back by hand by ${r.by} at ${r.at}: ${r.result}`);
  return lines;
}
