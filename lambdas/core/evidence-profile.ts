/**
 * The seed 003 evidence profile: the contract's file names (01_precheck.log ...
 * 09_rollback_or_no_rollback.log, 99_summary.md), each with command, exit_code,
 * UTC timestamp, owner and result, rendered from the run's own step records.
 * Pure: the Summary stage writes the files before it builds the manifest, so
 * they are covered by the hash chain like every other record.
 */
import type { SmokeResult } from './smoke';
import type { StepRecord } from './evidence';

export interface ProfileInput {
  readonly runId: string;
  readonly owner: string;
  readonly outcome: 'GO' | 'NO_GO';
  readonly classification: string;
  readonly nowUtc: string;
  /** Step records by their file stem (02_preflight, 06_verify, ...). */
  readonly steps: ReadonlyMap<string, StepRecord>;
  readonly chunks: readonly { task: string; rows: number; ms: number }[];
  readonly summaryMd: string;
}

interface Entry {
  readonly command: string;
  readonly exit_code: number | 'not run';
  readonly timestamp_utc: string;
  readonly owner: string;
  readonly result: string;
  readonly details?: unknown;
}

function block(e: Entry): string {
  const head = [`command: ${e.command}`, `exit_code: ${e.exit_code}`, `UTC timestamp: ${e.timestamp_utc}`, `owner: ${e.owner}`, `result: ${e.result}`];
  return `${head.join('\n')}\n${e.details === undefined ? '' : `details:\n${JSON.stringify(e.details, null, 2)}\n`}`;
}

function fromRecord(r: StepRecord): Entry {
  return { command: r.command, exit_code: r.exit_code, timestamp_utc: r.timestamp_utc, owner: r.owner, result: r.result, details: r.details };
}

export function seed003Files(p: ProfileInput): { name: string; body: string }[] {
  const notRun = (what: string): Entry => ({ command: `${what} (stage not reached)`, exit_code: 'not run', timestamp_utc: p.nowUtc, owner: p.owner, result: 'NOT_RUN' });
  const records = (stems: string[], what: string): Entry[] => {
    const found = stems.flatMap((s) => (p.steps.has(s) ? [fromRecord(p.steps.get(s)!)] : []));
    return found.length ? found : [notRun(what)];
  };
  const smoke = p.steps.get('11_smoke');
  const checks = ((smoke?.details.checks as SmokeResult[] | undefined) ?? []).map((c) => ({ ...c }));
  const smokeSlice = (pick: (c: SmokeResult) => boolean, what: string): Entry[] => {
    if (!smoke) return [notRun(what)];
    const mine = checks.filter(pick);
    if (!mine.length) return [{ command: what, exit_code: 'not run', timestamp_utc: smoke.timestamp_utc, owner: smoke.owner, result: 'SKIPPED', details: { reason: 'the spec has no such smoke check' } }];
    return mine.map((c) => ({
      command: `${c.replay ? 'replay and compare' : 'request'} ${c.url} (expect ${c.expectStatus}): ${c.name}`,
      exit_code: c.ok ? 0 : 1,
      timestamp_utc: smoke.timestamp_utc,
      owner: smoke.owner,
      result: c.ok ? 'PASS' : 'FAIL',
      details: c,
    }));
  };
  const tasks = new Map<string, { chunks: number; rows: number; ms: number }>();
  for (const c of p.chunks) {
    const t = tasks.get(c.task) ?? { chunks: 0, rows: 0, ms: 0 };
    tasks.set(c.task, { chunks: t.chunks + 1, rows: t.rows + c.rows, ms: t.ms + c.ms });
  }
  const backfill = records(['04_backfill_plan', '05_bulk_copy'], 'backfill');
  if (tasks.size)
    backfill.push({
      command: 'backfill chunks',
      exit_code: 0,
      timestamp_utc: p.nowUtc,
      owner: p.owner,
      result: 'PASS',
      details: [...tasks].map(([task, t]) => ({ task, chunks: t.chunks, rows: t.rows, rowsPerSecond: t.ms > 0 ? Math.round((t.rows * 1000) / t.ms) : null })),
    });
  const decision: Entry = { command: 'go/no-go decision (seed 003 matrix)', exit_code: p.outcome === 'GO' ? 0 : 1, timestamp_utc: p.nowUtc, owner: p.owner, result: p.outcome, details: { classification: p.classification } };
  const rollback = p.steps.get('12_rollback');
  const noRollback: Entry = {
    command: 'no rollback',
    exit_code: 0,
    timestamp_utc: p.nowUtc,
    owner: p.owner,
    result: p.outcome === 'GO' ? 'NO_ROLLBACK' : 'NO_PROMOTION',
    details: { reason: p.outcome === 'GO' ? 'the run ended GO' : `the run ended NO_GO (${p.classification}) before cutover promotion` },
  };
  const files: [string, Entry[]][] = [
    ['01_precheck.log', records(['01_validate', '02_preflight'], 'precheck')],
    ['02_alembic_upgrade.log', records(['03_schema'], 'schema migrations')],
    ['03_backfill.log', backfill],
    ['04_sync_happy.log', records(['06_verify', '07_gates'], 'verify and gates')],
    ['05_smoke_200.log', smokeSlice((c) => !c.replay && c.expectStatus >= 200 && c.expectStatus < 300, 'smoke 200')],
    ['06_smoke_404.log', smokeSlice((c) => !c.replay && c.expectStatus >= 400 && c.expectStatus < 500, 'smoke 404')],
    ['07_idempotency_duplicate.log', smokeSlice((c) => c.replay, 'idempotency replay')],
    ['08_cutover_decision.log', [...records(['08_decide', '09_approval'], 'decision'), decision, ...(p.steps.has('10_cutover') ? [fromRecord(p.steps.get('10_cutover')!)] : [])]],
    ['09_rollback_or_no_rollback.log', [rollback ? fromRecord(rollback) : noRollback]],
  ];
  return [
    ...files.map(([name, entries]) => ({ name, body: `# ${name} · run ${p.runId}\n\n${entries.map(block).join('\n')}` })),
    { name: '99_summary.md', body: p.summaryMd },
  ];
}

/** 09_rollback_or_no_rollback.log after a rollback by hand: what it said, then the rollback's own entry. */
export function seed003AfterManualRollback(previous: string, record: StepRecord): string {
  return `${previous.trimEnd()}\n\n${block(fromRecord(record))}`;
}
