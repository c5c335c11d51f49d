/**
 * Method gates through the local runner and the state machine: GatePlan ->
 * chunk Map (the Distributed Map rewritten inline) -> Gates -> Decide, with
 * evidence per table and chunk; planning and chunks resume after an interruption.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../cli/commands';
import { EXIT } from '../../cli/io';
import { childHistories } from '../../cli/local-history';
import { runLocal } from '../../cli/runner/run';
import { FsEvidenceStore } from '../../lambdas/adapters/local/evidence-fs';
import { silentLogger, systemClock } from '../../lambdas/adapters/local/runtime';
import { pgliteClient } from '../../lambdas/adapters/local/sql-postgres';
import { aggregateGates, checkGateBatch, planGates } from '../../lambdas/core/compare/stage';
import { RunSpec } from '../../lambdas/core/spec';
import type { Deps, SqlClient } from '../../lambdas/ports';
import { filesUnder, readHistory, readJson, tempDir } from '../support/local-run';

const SEED = `CREATE TABLE orders (id bigint PRIMARY KEY, customer text NOT NULL, total numeric(12,2), placed_at timestamptz, note text);
INSERT INTO orders SELECT g, 'c' || (g % 97), (g * 1.37)::numeric(12,2), timestamptz '2026-01-01' + g * interval '1 minute', CASE WHEN g % 5 = 0 THEN NULL ELSE 'n' || g END FROM generate_series(1, 6000) g;
CREATE TABLE lines (order_id bigint, line int, sku text, PRIMARY KEY (order_id, line));
INSERT INTO lines SELECT g / 3 + 1, g % 3, 'sku-' || g FROM generate_series(0, 2999) g;`;

let dbs: PGlite[] = [];
let clients: Record<string, SqlClient>;
beforeEach(async () => {
  const src = await PGlite.create();
  const dst = await PGlite.create();
  dbs = [src, dst];
  for (const d of dbs) await d.exec(SEED);
  clients = { 'pglite://memory/src': pgliteClient(src), 'pglite://memory/dst': pgliteClient(dst) };
});
afterEach(async () => {
  for (const d of dbs) await d.close();
});

function spec(runId: string, gates: Record<string, unknown> = {}) {
  return {
    version: 1,
    runId,
    owner: 'dba@example.com',
    tCutover: '2026-11-21T02:00:00Z',
    source: { engine: 'postgres', url: 'pglite://memory/src' },
    target: { engine: 'postgres', url: 'pglite://memory/dst' },
    verify: { tables: ['orders', 'lines'] },
    gates: { methods: ['fast', 'exact'], tables: [{ table: 'orders' }, { table: 'lines' }], initialChunkRows: 500, maxChunkRows: 500, recheck: 1, ...gates },
  };
}

async function run(s: Record<string, unknown>, evidenceDir: string) {
  return runLocal({ spec: s, evidenceDir, workDir: await tempDir('cutline-work-'), clients, approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, out: () => {} });
}

describe('method gates in the state machine', () => {
  it('identical databases: every table PASSes and the run goes', async () => {
    const dir = await tempDir();
    const r = await run(spec('gates-equal'), dir);
    expect([r.outcome, r.classification]).toEqual(['GO', 'GO']);
    const rec = await readJson(path.join(r.evidenceDir, '07_gates.json'));
    expect(rec.details.methodTables.map((t: { table: string; verdict: string }) => [t.table, t.verdict])).toEqual([
      ['orders', 'PASS'],
      ['lines', 'PASS'],
    ]);
    const files = await filesUnder(r.evidenceDir);
    // 6,000 rows in steps of 500: 12 full chunks and an open-ended tail for rows added later.
    expect(files.filter((f) => f.startsWith('07_gates/chunks/orders/')).length).toBe(13);
    const md = await readFile(path.join(r.evidenceDir, 'summary.md'), 'utf8');
    expect(md).toMatch(/\| orders \| PASS \| 13 \| 0 \|/);
    // `cutline status` turns the history into gate progress: every chunk, every source row.
    const out: string[] = [];
    expect(await main(['status', 'gates-equal', '--evidence-dir', dir, '--json'], { out: (l) => out.push(l), err: () => {}, env: {} })).toBe(EXIT.OK);
    const chunks = files.filter((f) => f.startsWith('07_gates/chunks/')).length;
    expect(JSON.parse(out.join('\n')).gates).toMatchObject({ done: chunks, total: chunks, rows: 9000 });
  });

  it('differences on the target: NO_GO / GATE_FAILED with each key in the diff report (a Distributed Map: a child execution per batch of chunks)', async () => {
    await clients['pglite://memory/dst']!.query('DELETE FROM orders WHERE id = 4242');
    await clients['pglite://memory/dst']!.query("UPDATE orders SET note = '' WHERE id = 10");
    await clients['pglite://memory/dst']!.query("UPDATE lines SET sku = 'SKU-7' WHERE order_id = 3 AND line = 1");
    const dir = await tempDir();
    // 30 s a chunk: GatePlan puts 2 chunks (120 s) in each child execution.
    const r = await run(spec('gates-diff', { distributedAbove: 5, chunkSeconds: 30 }), dir);
    expect([r.outcome, r.classification]).toEqual(['NO_GO', 'GATE_FAILED']);
    const report = await readJson(path.join(r.evidenceDir, '07_gates/report.json'));
    expect(report.map((t: any) => [t.table, t.verdict, t.diffs])).toEqual([
      ['orders', 'FAIL', [{ key: '10', kind: 'changed', columns: ['note'] }, { key: '4242', kind: 'missing' }]],
      ['lines', 'FAIL', [{ key: '3|1', kind: 'changed', columns: ['sku'] }]],
    ]);
    expect(report[0].fast).toEqual({ source: '6000', target: '5999', diff: '-1' });
    const txt = await readFile(path.join(r.evidenceDir, '07_gates/diff.txt'), 'utf8');
    expect(txt).toContain('missing  key 4242');
    expect(txt).toContain('changed  key 3|1  columns: sku');
    const plan = await readJson(path.join(r.evidenceDir, '07_gates/plan.json'));
    expect(plan.items).toBeGreaterThan(5);
    expect((await readJson(path.join(r.evidenceDir, '90_classify.json'))).details.reason).toContain('orders: FAIL');
    // As in AWS: one child execution per batch of chunks (ItemBatcher), each with its own history; results in ResultWriter's files, not the state.
    const children = await childHistories(r.evidenceDir);
    expect(children).toHaveLength(Math.ceil(plan.items / 2));
    for (const c of children.slice(0, 3)) expect((await readHistory(c)).map((e) => e.type)).toEqual(['ExecutionStarted', 'TaskStateEntered', 'TaskScheduled', 'TaskStarted', 'TaskSucceeded', 'TaskStateExited', 'ExecutionSucceeded']);
    const parent = await readHistory(path.join(r.evidenceDir, 'execution-history.jsonl'));
    const exited = parent.find((e) => e.type === 'MapStateExited' && e.stateExitedEventDetails.name === 'GateChunksDistributed');
    const written = JSON.parse(exited.stateExitedEventDetails.output).results.gateChunk;
    // In the work bucket (a folder beside the runs' work folders), not in the evidence: Map results are not evidence and must not sit under Object Lock.
    expect(written).toMatchObject({ MapRunArn: expect.stringContaining(':mapRun:cutline-local/GateChunksDistributed:'), ResultWriterDetails: { Bucket: 'local-WorkBucketName' } });
    expect(path.relative(r.evidenceDir, written.ResultWriterDetails.Key)).toMatch(/^\.\./);
    expect((await readJson(written.ResultWriterDetails.Key)).ResultFiles.SUCCEEDED).toHaveLength(1);
    expect((await readJson(path.join(r.evidenceDir, 'manifest.json'))).files.map((f: { file: string }) => f.file).filter((f: string) => /map-results|SUCCEEDED_/.test(f))).toEqual([]);
    const out: string[] = [];
    await main(['status', 'gates-diff', '--evidence-dir', dir, '--json'], { out: (l) => out.push(l), err: () => {}, env: {} });
    expect(JSON.parse(out.join('\n')).gates).toMatchObject({ done: plan.items, total: plan.items });
  });

  it('fast tolerance applies to the chunked totals, both sides of the threshold', async () => {
    await clients['pglite://memory/dst']!.query('DELETE FROM orders WHERE id IN (1, 2)');
    const dir = await tempDir();
    const within = await run(spec('gates-tol-ok', { methods: ['fast'], tables: [{ table: 'orders' }], fast: { toleranceRows: 2, tolerancePercent: 0.05 } }), dir);
    expect(within.outcome).toBe('GO'); // 2 rows, 0.033%: within 2 rows and 0.05%
    const rec = await readJson(path.join(within.evidenceDir, '07_gates.json'));
    expect(rec.details.methodTables[0]).toMatchObject({ table: 'orders', verdict: 'PASS' });
    const over = await run(spec('gates-tol-over', { methods: ['fast'], tables: [{ table: 'orders' }], fast: { toleranceRows: 1, tolerancePercent: 0.05 } }), dir);
    expect((await readJson(path.join(over.evidenceDir, '07_gates.json'))).details.methodTables[0]).toMatchObject({ table: 'orders', verdict: 'FAIL' });
  });

  it('a table that cannot be compared is INCONCLUSIVE, and INCONCLUSIVE never lets the run go', async () => {
    await clients['pglite://memory/dst']!.query('ALTER TABLE orders ADD COLUMN extra int');
    const dir = await tempDir();
    const r = await run(spec('gates-inconclusive', { tables: [{ table: 'orders' }] }), dir);
    expect([r.outcome, r.classification]).toEqual(['NO_GO', 'GATE_FAILED']);
    const report = await readJson(path.join(r.evidenceDir, '07_gates/report.json'));
    expect(report[0]).toMatchObject({ table: 'orders', verdict: 'INCONCLUSIVE', reason: expect.stringContaining('orders.extra exists on the target but not on the source') });
  });
});

describe('resumable', () => {
  it('the plan is made once and reused; finished chunks are skipped', async () => {
    const dir = await tempDir();
    const deps = { sql: (ref: { url?: string }) => clients[ref.url!]!, evidence: new FsEvidenceStore(dir), clock: systemClock, logger: silentLogger } as unknown as Deps;
    const s = RunSpec.parse(spec('gates-resume'));
    const first = await planGates(s, deps);
    expect(first.reused).toBe(false);
    const again = await planGates(s, deps);
    expect(again.reused).toBe(true);
    expect(again.items).toEqual(first.items);
    const a = await checkGateBatch(s, [first.items![0]!], deps);
    const b = await checkGateBatch(s, [first.items![0]!], deps);
    expect([a.skipped, b.skipped, b.s]).toEqual([0, 1, 'MATCH']);
  });

  it("a chunk that fails keeps no checkpoint, but its error is evidence and Gates names it", async () => {
    const dir = await tempDir();
    const deps = { sql: (ref: { url?: string }) => clients[ref.url!]!, evidence: new FsEvidenceStore(dir), clock: systemClock, logger: silentLogger } as unknown as Deps;
    const s = RunSpec.parse(spec('gates-error', { tables: [{ table: 'orders' }] }));
    const plan = await planGates(s, deps);
    await clients['pglite://memory/dst']!.query('ALTER TABLE orders RENAME TO orders_gone');
    const r = await checkGateBatch(s, [plan.items![0]!], deps);
    expect([r.s, r.skipped]).toEqual(['ERROR', 0]);
    const err = await readJson(path.join(dir, 'gates-error/07_gates/errors/orders/000000.json'));
    expect(err.checks[0].error).toMatch(/relation "orders" does not exist/);
    const tables = await aggregateGates(s, deps);
    expect(tables[0]).toMatchObject({ verdict: 'INCONCLUSIVE' });
    expect(tables[0]!.reason).toMatch(/chunks have no result \(chunk 0: .*relation "orders" does not exist; 1 error record\(s\) in 07_gates\/errors\/orders\/\)/);
  });
});

describe('integrity checks (verify)', () => {
  it('missing state-store keys, orphans of every foreign key, NULL and duplicate new keys: each named, NO_GO / VERIFY_FAILED', async () => {
    const dst = clients['pglite://memory/dst']!;
    await dst.query('CREATE TABLE credverse_state_store (key text PRIMARY KEY, value text)');
    await dst.query("INSERT INTO credverse_state_store VALUES ('issuer:config', '{}'), ('relayer:nonce', '7')");
    await dst.query('CREATE TABLE customers (id int PRIMARY KEY, cuid uuid)');
    await dst.query("INSERT INTO customers VALUES (1, '00000000-0000-0000-0000-000000000001'), (2, NULL), (3, '00000000-0000-0000-0000-000000000001')");
    await dst.query('CREATE TABLE invoices (id int PRIMARY KEY, customer_id int REFERENCES customers (id))');
    await dst.query('INSERT INTO invoices VALUES (10, 1), (11, NULL)');
    // an orphan, as a bulk load with constraints off would leave it
    await dst.query('ALTER TABLE invoices DISABLE TRIGGER ALL');
    await dst.query('INSERT INTO invoices VALUES (12, 99)');
    const s = {
      ...spec('integrity'),
      gates: { tables: [] },
      verify: {
        tables: [],
        integrity: {
          stateStore: { table: 'credverse_state_store', keyColumn: 'key', requiredKeys: ['issuer:config', 'relayer:nonce', 'registry:address'] },
          foreignKeys: ['invoices'],
          newKeys: [{ table: 'customers', column: 'cuid' }],
        },
      },
    };
    const r = await run(s, await tempDir());
    expect([r.outcome, r.classification]).toEqual(['NO_GO', 'VERIFY_FAILED']);
    const v = (await readJson(path.join(r.evidenceDir, '06_verify.json'))).details.assertions;
    expect(v.map((a: any) => [a.name, a.ok, a.violations])).toEqual([
      ['integrity: required keys in credverse_state_store', false, 1],
      ['integrity: no orphans invoices(customer_id) -> customers', false, 1],
      ['integrity: customers.cuid has no NULL', false, 1],
      ['integrity: customers.cuid is unique', false, 1],
    ]);
    expect(v[0].sample).toEqual([{ missing_key: 'registry:address' }]);
    expect(v[1].sample).toEqual([{ customer_id: 99 }]);
  });
});

describe('fast tolerance overall', () => {
  it('each table within tolerance, all tables together over it: GATE_FAILED naming the overall diff', async () => {
    await clients['pglite://memory/dst']!.query('DELETE FROM orders WHERE id = 1');
    await clients['pglite://memory/dst']!.query('DELETE FROM lines WHERE order_id = 1 AND line = 1');
    const r = await run(spec('gates-overall', { methods: ['fast'], fast: { toleranceRows: 1, tolerancePercent: 1 } }), await tempDir());
    const rec = await readJson(path.join(r.evidenceDir, '07_gates.json'));
    expect(rec.details.methodTables.map((t: any) => t.verdict)).toEqual(['PASS', 'PASS']);
    expect(rec.details.methodOverall).toMatchObject({ diff: '-2', verdict: 'FAIL' });
    expect([r.outcome, r.classification]).toEqual(['NO_GO', 'GATE_FAILED']);
  });
});

describe('a NO_GO is fast', () => {
  it('once gates.maxDiffs keys are known, further differing chunks are counted, not drilled into', async () => {
    // One row in ten differs on the target: every chunk of orders differs.
    await clients['pglite://memory/dst']!.query("UPDATE orders SET note = 'changed' WHERE id % 10 = 0");
    const dir = await tempDir();
    const r = await run({ ...spec('gates-many-diffs', { maxDiffs: 20, maxConcurrency: 2, tables: [{ table: 'orders' }] }), verify: { tables: [] } }, dir);
    expect([r.outcome, r.classification]).toEqual(['NO_GO', 'GATE_FAILED']);
    const report = (await readJson(path.join(r.evidenceDir, '07_gates/report.json'))) as { table: string; diffs: unknown[]; diffsTruncated: boolean; exact: { differing: number } }[];
    const orders = report.find((t) => t.table === 'orders')!;
    expect(orders.exact.differing).toBe(12); // 6000 rows / 500 per chunk: every chunk counted as differing
    expect(orders.diffs).toHaveLength(20);
    expect(orders.diffsTruncated).toBe(true);
    // Drilled: only the chunks needed to name 20 keys (50 differing rows per chunk: the first one); the rest were only counted.
    const chunks = await filesUnder(path.join(r.evidenceDir, '07_gates/chunks/orders'));
    const drilled = [];
    for (const f of chunks) {
      const cp = JSON.parse(await readFile(path.join(r.evidenceDir, '07_gates/chunks/orders', f), 'utf8'));
      const exact = cp.checks.find((c: { method: string }) => c.method === 'exact');
      if (exact.diffs?.length) drilled.push(f);
    }
    expect(drilled.length).toBeLessThanOrEqual(2); // two chunks may run at once before either has written its keys
    expect(await readFile(path.join(r.evidenceDir, '07_gates/diff.txt'), 'utf8')).toContain('more differing keys not listed');
  });
});
