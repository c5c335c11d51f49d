/**
 * The seed 003 evidence profile: the contract's file names (01_precheck.log ...
 * 09_rollback_or_no_rollback.log, 99_summary.md), each with command, exit_code,
 * UTC timestamp, owner and result, rendered from the run's own step records.
 * Pure: the Summary stage writes the files before it builds the manifest, so
 * they are covered by the hash chain like every other record.
 */
import type { CheckResult } from './checks';
import type { SmokeResult } from './smoke';

const is2xx = (n: number) => n >= 200 && n < 300;
const is4xx = (n: number) => n >= 400 && n < 500;
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
  // Smoke ran after cutover (11_smoke) or as the promotion gate (08_decide, smoke.at = promotion).
  const decideRec = p.steps.get('08_decide');
  const promoted = decideRec?.details.checks as SmokeResult[] | undefined;
  const smoke = promoted ? decideRec : p.steps.get('11_smoke');
  const checks = (promoted ?? (smoke?.details.checks as SmokeResult[] | undefined) ?? []).map((c) => ({ ...c }));
  // The runbook checks of every stage, each with the record it is in (its time and owner).
  const stepChecks = [...p.steps.values()].flatMap((r) => ((r.details.stepChecks as CheckResult[] | undefined) ?? []).map((c) => ({ c, r })));
  const checkEntry = ({ c, r }: { c: CheckResult; r: StepRecord }): Entry => ({
    command: `${c.kind} check at ${c.at}: ${c.name}${c.http ? ` (${c.http.method} ${c.http.url}, expect ${c.http.expectStatus})` : ''}`,
    exit_code: c.command?.exitCode ?? (c.ok ? 0 : 1),
    timestamp_utc: r.timestamp_utc,
    owner: r.owner,
    result: c.ok ? 'PASS' : 'FAIL',
    details: c,
  });
  const slice = (pickSmoke: (c: SmokeResult) => boolean, pickCheck: (c: CheckResult) => boolean, what: string, stage: string): Entry[] => {
    const mineChecks = stepChecks.filter((x) => pickCheck(x.c)).map(checkEntry);
    const mine = checks.filter(pickSmoke).map(
      (c): Entry => ({
        command: `${c.replay ? 'replay and compare' : 'request'} ${c.url} (expect ${c.expectStatus}): ${c.name}`,
        exit_code: c.ok ? 0 : 1,
        timestamp_utc: smoke!.timestamp_utc,
        owner: smoke!.owner,
        result: c.ok ? 'PASS' : 'FAIL',
        details: c,
      }),
    );
    if (mine.length || mineChecks.length) return [...mine, ...mineChecks];
    const reached = smoke ?? decideRec;
    if (!reached) return [notRun(what)];
    return [{ command: what, exit_code: 'not run', timestamp_utc: reached.timestamp_utc, owner: reached.owner, result: 'SKIPPED', details: { reason: `the spec has no ${stage}` } }];
  };
  const smokeSlice = (pick: (c: SmokeResult) => boolean, status: (n: number) => boolean, what: string) =>
    slice(pick, (c) => c.classification === 'SMOKE_FAILED' && !!c.http && status(c.http.expectStatus), what, 'such smoke check');
  const tasks = new Map<string, { chunks: number; rows: number; ms: number }>();
  for (const c of p.chunks) {
    const t = tasks.get(c.task) ?? { chunks: 0, rows: 0, ms: 0 };
    tasks.set(c.task, { chunks: t.chunks + 1, rows: t.rows + c.rows, ms: t.ms + c.ms });
  }
  const backfill = records(['04_backfill_plan', '05_bulk_copy'], 'backfill');
  // The chunks that have checkpoints passed; the backfill as a whole did not when the run stopped in it.
  const backfillFailed = p.classification === 'BACKFILL_FAILED';
  if (tasks.size || backfillFailed)
    backfill.push({
      command: 'backfill chunks',
      exit_code: backfillFailed ? 1 : 0,
      timestamp_utc: p.nowUtc,
      owner: p.owner,
      result: backfillFailed ? 'FAIL' : 'PASS',
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
    ['04_sync_happy.log', slice(() => false, (c) => c.classification === 'SYNC_FAILED', 'consumer sync', 'sync check (a check classified SYNC_FAILED)')],
    ['05_smoke_200.log', smokeSlice((c) => !c.replay && is2xx(c.expectStatus), is2xx, 'smoke 200')],
    ['06_smoke_404.log', smokeSlice((c) => !c.replay && is4xx(c.expectStatus), is4xx, 'smoke 404')],
    ['07_idempotency_duplicate.log', slice((c) => c.replay, (c) => c.classification === 'IDEMPOTENCY_FAILED', 'idempotency replay', 'idempotency check (a smoke replay or a check classified IDEMPOTENCY_FAILED)')],
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

/**
 * The seed 004 artifacts (its `scripts/db-migration/artifacts/verify/` names), from the run's own records: row counts
 * of each side and their diff (06_verify), each method's per-table values of each side and their diff (07_gates), the
 * state store's required keys and the gate over them. `<ts>` is the verify record's UTC time. Identical sides give an
 * empty diff, as `diff` does. A stage that did not run leaves its files out (the manifest lists what exists).
 */
export function seed004Files(p: Pick<ProfileInput, 'steps' | 'nowUtc'> & { stateStore?: { table: string; keyColumn: string; requiredKeys: readonly string[] } }): { name: string; body: string }[] {
  const verify = p.steps.get('06_verify');
  const gates = p.steps.get('07_gates');
  const ts = (verify?.timestamp_utc ?? p.nowUtc).replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const files: { name: string; body: string }[] = [];
  const lines = (rows: [string, string][]) => rows.map(([k, v]) => `${k}\t${v}\n`).join('');
  // src-<stem>-<ts>.txt, tgt-<stem>-<ts>.txt and their diff, <diff>-<ts>.patch (seed 004's names).
  const sides = (stem: string, diff: string, rows: { name: string; src: string; tgt: string }[]) => {
    const src = `src-${stem}-${ts}.txt`;
    const tgt = `tgt-${stem}-${ts}.txt`;
    const srcText = lines(rows.map((r) => [r.name, r.src]));
    const tgtText = lines(rows.map((r) => [r.name, r.tgt]));
    const patch = `${diff}-${ts}.patch`;
    files.push({ name: `verify/${src}`, body: srcText }, { name: `verify/${tgt}`, body: tgtText }, { name: `verify/${patch}`, body: unifiedDiff(src, srcText, tgt, tgtText) });
  };
  const tables = (verify?.details.tables as { table: string; expected: string | null; actual: string | null; error?: string }[] | undefined) ?? [];
  if (verify?.details.mode === 'source-vs-target' && tables.length) sides('rowcounts', 'rowcount-diff', tables.map((t) => ({ name: t.table, src: t.expected ?? `ERROR ${t.error ?? ''}`.trim(), tgt: t.actual ?? `ERROR ${t.error ?? ''}`.trim() })));
  type Report = { table: string; fast?: { source: string; target: string }; exact?: { source: string; target: string; matching: number; differing: number; unstable: number; errors: number } };
  const reports = (gates?.details.methodReports as Report[] | undefined) ?? [];
  const fast = reports.filter((r) => r.fast).map((r) => ({ name: r.table, src: r.fast!.source, tgt: r.fast!.target }));
  if (fast.length) sides('method-fast', 'method-diff-fast', fast);
  // exact: rows per side, and on the target the chunks whose canonical row hashes differ from the source's.
  const exact = reports
    .filter((r) => r.exact)
    .map((r) => {
      const e = r.exact!;
      const off = [e.differing ? `${e.differing} chunk(s) differ` : '', e.unstable ? `${e.unstable} unstable` : '', e.errors ? `${e.errors} error(s)` : ''].filter(Boolean).join(', ');
      return { name: r.table, src: `${e.source} rows`, tgt: `${e.target} rows${off ? `, ${off}` : ''}` };
    });
  if (exact.length) sides('method-exact', 'method-diff-exact', exact);
  const ss = p.stateStore;
  const gate = ((verify?.details.assertions as { name: string; ok: boolean; sample: { missing_key?: string }[]; error?: string }[] | undefined) ?? []).find((a) => ss && a.name === `integrity: required keys in ${ss.table}`);
  if (ss && gate) {
    const missing = new Set(gate.sample.map((s) => s.missing_key).filter((k): k is string => !!k));
    files.push({ name: `verify/tgt-state-store-${ts}.txt`, body: lines(ss.requiredKeys.map((k) => [k, missing.has(k) ? 'MISSING' : 'present'])) });
    files.push({
      name: `verify/state-store-gate-${ts}.txt`,
      body: `table: ${ss.table}\nkey column: ${ss.keyColumn}\nrequired: ${ss.requiredKeys.length}\nmissing: ${[...missing].join(', ') || 'none'}\n${gate.error ? `error: ${gate.error}\n` : ''}result: ${gate.ok ? 'PASS' : 'FAIL'}\n`,
    });
  }
  return files;
}

/** A unified diff of two small texts as one hunk (empty when equal, as `diff -u` prints nothing). */
export function unifiedDiff(aName: string, a: string, bName: string, b: string): string {
  if (a === b) return '';
  const al = a.split('\n').slice(0, -1);
  const bl = b.split('\n').slice(0, -1);
  const out = [`--- ${aName}`, `+++ ${bName}`, `@@ -1,${al.length} +1,${bl.length} @@`];
  // Lines keyed by their first field (table names): the same key on both sides is context or a change.
  const key = (l: string) => l.split('\t')[0];
  const bByKey = new Map(bl.map((l) => [key(l), l]));
  const seen = new Set<string>();
  for (const l of al) {
    const other = bByKey.get(key(l));
    seen.add(key(l)!);
    if (other === l) out.push(` ${l}`);
    else {
      out.push(`-${l}`);
      if (other !== undefined) out.push(`+${other}`);
    }
  }
  for (const l of bl) if (!seen.has(key(l)!)) out.push(`+${l}`);
  return `${out.join('\n')}\n`;
}
