/**
 * Backfill engine through the local runner: copy within a database and
 * across databases, JSONL / CSV loads under seed 003's range contract,
 * throttling (pause, busy query), idempotent reruns.
 */
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runLocal } from '../../cli/runner/run';
import { parseCsv, rangeContract } from '../../lambdas/core/backfill-load';
import { pgliteClient } from '../../lambdas/adapters/local/sql-postgres';
import type { SqlClient } from '../../lambdas/ports';
import { readJson, tempDir } from '../support/local-run';

const LEDGER = path.resolve(import.meta.dirname, 'fixtures/ledger');
let dbs: PGlite[] = [];
let clients: Record<string, SqlClient>;
beforeEach(async () => {
  const a = await PGlite.create();
  const b = await PGlite.create();
  dbs = [a, b];
  for (const d of dbs)
    await d.exec(`CREATE TABLE payments (id bigint PRIMARY KEY, amount numeric(12,2) NOT NULL, paid_at timestamp(6) NOT NULL, ref uuid, note text);
      CREATE TABLE payments_copy (LIKE payments INCLUDING ALL);
      CREATE TABLE state_store (k varchar(80) PRIMARY KEY, v text, active boolean NOT NULL);
      CREATE TABLE state_copy (LIKE state_store INCLUDING ALL);
      CREATE TABLE refs (ref uuid PRIMARY KEY, n int NOT NULL);
      CREATE TABLE ledger (tx_id text PRIMARY KEY, wallet_id text NOT NULL, entry_type text NOT NULL, amount numeric(12,2) NOT NULL, event_time timestamptz NOT NULL);`);
  await a.exec(`INSERT INTO payments SELECT g, g * 0.37, timestamp '2026-01-01' + g * interval '1.5 seconds', md5(g::text)::uuid, CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' || g END FROM generate_series(1, 5000) g`);
  await a.exec(`INSERT INTO state_store SELECT 'agent/' || md5(g::text) || '/state', 'v' || g, g % 2 = 0 FROM generate_series(1, 2500) g;
    INSERT INTO refs SELECT md5(g::text)::uuid, g FROM generate_series(1, 1500) g`);
  clients = { 'pglite://memory/a': pgliteClient(a), 'pglite://memory/b': pgliteClient(b) };
});
afterEach(async () => {
  for (const d of dbs) await d.close();
});

function spec(runId: string, tasks: unknown[], extra: Record<string, unknown> = {}) {
  return {
    version: 1,
    runId,
    owner: 'dba@example.com',
    tCutover: '2026-11-21T02:00:00Z',
    source: { engine: 'postgres', url: 'pglite://memory/a' },
    target: { engine: 'postgres', url: 'pglite://memory/b' },
    backfill: { tasks, ...extra },
  };
}
const run = async (s: unknown) =>
  runLocal({ spec: s, evidenceDir: await tempDir(), workDir: await tempDir('cutline-work-'), clients, approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, out: () => {} });
const digest = async (c: SqlClient, table: string) => (await c.query(`SELECT count(*)::text AS n, md5(string_agg(t::text, ',' ORDER BY id)) AS h FROM ${table} t`)).rows[0];

describe('copy', () => {
  it('same database: INSERT ... SELECT per key range; a second run keeps what exists', async () => {
    const task = { name: 'copy-local', database: 'source', table: 'payments_copy', key: 'id', batchSize: 700, copyFrom: { database: 'source', table: 'payments' } };
    const r = await run(spec('copy-same', [task]));
    expect(r.outcome).toBe('GO');
    const a = clients['pglite://memory/a']!;
    expect(await digest(a, 'payments_copy')).toEqual(await digest(a, 'payments'));
    const r2 = await run(spec('copy-same-again', [task]));
    expect(r2.outcome).toBe('GO');
    const ck = await readJson(path.join(r2.evidenceDir, '05_backfill/copy-local/000000.json'));
    expect([ck.rows, ck.read, ck.keptExisting]).toEqual([0, 700, 700]);
  });

  it('another database: pages under 1 MiB, typed values intact (numeric, timestamp µs, uuid, NULL)', async () => {
    const task = { name: 'copy-remote', table: 'payments', key: 'id', batchSize: 2000, copyFrom: { database: 'source', table: 'payments' } };
    const r = await run(spec('copy-cross', [task]));
    expect(r.outcome).toBe('GO');
    expect(await digest(clients['pglite://memory/b']!, 'payments')).toEqual(await digest(clients['pglite://memory/a']!, 'payments'));
  });
});

describe('copy by a text or uuid key (seed 004 state store)', () => {
  const digestBy = async (c: SqlClient, table: string, key: string) => (await c.query(`SELECT count(*)::text AS n, md5(string_agg(t::text, ',' ORDER BY ${key})) AS h FROM ${table} t`)).rows[0];

  it('another database: key ranges from a keyset walk of the text key, every row copied once; a rerun keeps what exists', async () => {
    const task = { name: 'state', table: 'state_store', key: 'k', batchSize: 700, copyFrom: { database: 'source', table: 'state_store' } };
    const r = await run(spec('copy-text', [task]));
    expect([r.outcome, r.classification]).toEqual(['GO', 'GO']);
    expect(await digestBy(clients['pglite://memory/b']!, 'state_store', 'k')).toEqual(await digestBy(clients['pglite://memory/a']!, 'state_store', 'k'));
    const plan = await readJson(path.join(r.evidenceDir, '04_backfill_plan.json'));
    expect(plan.details.tasks).toEqual([{ name: 'state', rows: '2500', chunks: 4 }]);
    const cks = await Promise.all([0, 1, 2, 3].map((i) => readJson(path.join(r.evidenceDir, `05_backfill/state/00000${i}.json`))));
    expect(cks.map((c) => c.read)).toEqual([700, 700, 700, 400]);
    expect(cks[1].lo > cks[0].hi && cks[2].lo > cks[1].hi).toBe(true);
    const again = await run(spec('copy-text-again', [task]));
    expect(again.outcome).toBe('GO');
    expect((await readJson(path.join(again.evidenceDir, '05_backfill/state/000000.json'))).keptExisting).toBe(700);
  });

  it('the same database by a text key, and another database by a uuid key', async () => {
    const r = await run(
      spec('copy-text-uuid', [
        { name: 'state-local', database: 'source', table: 'state_copy', key: 'k', batchSize: 1000, copyFrom: { database: 'source', table: 'state_store' } },
        { name: 'refs', table: 'refs', key: 'ref', batchSize: 400, copyFrom: { database: 'source', table: 'refs' } },
      ]),
    );
    expect([r.outcome, r.classification]).toEqual(['GO', 'GO']);
    const a = clients['pglite://memory/a']!;
    expect(await digestBy(a, 'state_copy', 'k')).toEqual(await digestBy(a, 'state_store', 'k'));
    expect(await digestBy(clients['pglite://memory/b']!, 'refs', 'ref')).toEqual(await digestBy(a, 'refs', 'ref'));
    expect((await readJson(path.join(r.evidenceDir, '04_backfill_plan.json'))).details.tasks).toEqual([
      { name: 'state-local', rows: '2500', chunks: 3 },
      { name: 'refs', rows: '1500', chunks: 4 },
    ]);
  });
});

describe('load (seed 003 range contract)', () => {
  it('keeps rows in [tCutover-24h, tCutover-1s], counts the rest, loads JSONL and CSV, and is idempotent', async () => {
    const task = { name: 'ledger', table: 'ledger', key: 'tx_id', load: { files: [path.join(LEDGER, 'ledger-1.jsonl'), path.join(LEDGER, 'ledger-2.csv')], format: 'jsonl', timeColumn: 'event_time', range: 'backfill' } };
    const csvTask = { ...task, name: 'ledger-csv', load: { ...task.load, files: [path.join(LEDGER, 'ledger-2.csv')], format: 'csv' } };
    task.load.files = [path.join(LEDGER, 'ledger-1.jsonl')];
    const r = await run(spec('load', [task, csvTask]));
    expect(r.outcome).toBe('GO');
    const b = clients['pglite://memory/b']!;
    const rows = (await b.query('SELECT tx_id, wallet_id, amount FROM ledger ORDER BY tx_id')).rows;
    expect(rows.map((x) => x.tx_id)).toEqual(['tx-bf-pay-1', 'tx-bf-rec-1', 'tx-csv-1', 'tx-csv-2', 'tx-last-second']);
    expect(rows.find((x) => x.tx_id === 'tx-csv-2')!.wallet_id).toBe('wallet "quoted"');
    const j = await readJson(path.join(r.evidenceDir, '05_backfill/ledger/000000.json'));
    expect(j).toMatchObject({ read: 5, rows: 3, outsideRange: 2, range: { from: '2026-11-20T02:00:00.000Z', to: '2026-11-21T01:59:59.000Z' } });
    const c = await readJson(path.join(r.evidenceDir, '05_backfill/ledger-csv/000000.json'));
    expect(c).toMatchObject({ read: 3, rows: 2, outsideRange: 0, keptExisting: 1 });
  });

  it('the contract is exact at its edges', () => {
    const b = rangeContract('2026-11-21T02:00:00Z', 'backfill');
    expect([new Date(b.from).toISOString(), new Date(b.to).toISOString()]).toEqual(['2026-11-20T02:00:00.000Z', '2026-11-21T01:59:59.000Z']);
    expect(new Date(rangeContract('2026-11-21T02:00:00Z', 'sync').from).toISOString()).toBe('2026-11-21T02:00:00.000Z');
  });

  it('CSV: a ragged row is an error naming its line', () => {
    expect(() => parseCsv('a,b\n1,2\n3\n')).toThrow('CSV row 3 has 1 fields; expected 2');
  });

  it('a malformed file is found by Preflight, before anything changes, with the file and line: NO_GO / ENVIRONMENT_BLOCKED', async () => {
    const bad = path.join(await tempDir(), 'bad.jsonl');
    await import('node:fs/promises').then((fs) => fs.writeFile(bad, '{"tx_id":"a","event_time":"2026-11-21T01:00:00Z"}\nnot json\n'));
    const r = await run(spec('load-bad', [{ name: 'bad', table: 'ledger', key: 'tx_id', load: { files: [bad], format: 'jsonl', timeColumn: 'event_time' } }]));
    expect([r.outcome, r.classification]).toEqual(['NO_GO', 'ENVIRONMENT_BLOCKED']);
    expect((await readJson(path.join(r.evidenceDir, '90_classify.json'))).details.reason).toMatch(/backfill task bad: load file .*bad\.jsonl: .*JSONL line 2/);
    expect(await readJson(path.join(r.evidenceDir, '04_backfill_plan.json')).catch(() => 'not run')).toBe('not run');
  });

  it('invalid UTF-8 in a load file stops the run naming the file and line; nothing is stored as U+FFFD', async () => {
    const bad = path.join(await tempDir(), 'latin1.jsonl');
    const line = (s: string) => Buffer.from(`${s}\n`);
    await import('node:fs/promises').then((fs) =>
      fs.writeFile(bad, Buffer.concat([line('{"tx_id":"a","wallet_id":"w","entry_type":"PAYMENT","amount":"1.00","event_time":"2026-11-21T01:00:00Z"}'), Buffer.from('{"tx_id":"b","wallet_id":"Z'), Buffer.from([0xeb]), line('","entry_type":"PAYMENT","amount":"1.00","event_time":"2026-11-21T01:00:00Z"}')])),
    );
    const r = await run(spec('load-latin1', [{ name: 'latin1', table: 'ledger', key: 'tx_id', load: { files: [bad], format: 'jsonl', timeColumn: 'event_time' } }]));
    expect([r.outcome, r.classification]).toEqual(['NO_GO', 'ENVIRONMENT_BLOCKED']);
    expect((await readJson(path.join(r.evidenceDir, '90_classify.json'))).details.reason).toMatch(/latin1\.jsonl: line 2 is not valid UTF-8/);
    expect((await clients['pglite://memory/b']!.query("SELECT count(*)::int AS n FROM ledger WHERE wallet_id LIKE '%\uFFFD%' OR tx_id = 'a'")).rows[0]!.n).toBe(0);
  });
});

describe('throttling', () => {
  it('waits while the busy query says busy, then runs; the wait is in the checkpoint', async () => {
    const a = clients['pglite://memory/a']!;
    // Busy for the first three looks, then calm: counted, not timed.
    await a.query('CREATE TABLE load_signal (polls int)');
    await a.query('INSERT INTO load_signal VALUES (0)');
    const task = { name: 'touch', database: 'source', table: 'payments', key: 'id', batchSize: 5000, sql: "UPDATE payments SET note = coalesce(note, '') WHERE id BETWEEN :lo AND :hi" };
    const r = await run(spec('busy', [task], { pauseMs: 10, busyQuery: { sql: 'UPDATE load_signal SET polls = polls + 1 RETURNING polls < 4 AS busy', database: 'source', pollMs: 20, maxWaitMs: 10000 } }));
    expect(r.outcome).toBe('GO');
    expect((await a.query('SELECT polls FROM load_signal')).rows[0]!.polls).toBe(4);
    const ck = await readJson(path.join(r.evidenceDir, '05_backfill/touch/000000.json'));
    expect(ck.waited_busy_ms).toBeGreaterThan(0);
  });

  it('a database that stays busy past maxWaitMs: NO_GO / BACKFILL_FAILED', async () => {
    const task = { name: 'touch', database: 'source', table: 'payments', key: 'id', batchSize: 5000, sql: 'UPDATE payments SET note = note WHERE id BETWEEN :lo AND :hi' };
    const r = await run(spec('busy-forever', [task], { busyQuery: { sql: 'SELECT 1', database: 'source', pollMs: 20, maxWaitMs: 150 } }));
    expect([r.outcome, r.classification]).toEqual(['NO_GO', 'BACKFILL_FAILED']);
  });
});
