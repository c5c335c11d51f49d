/**
 * Fault suite (issue 9): the real CLI is SIGKILLed at seeded random points of
 * a run that goes through every stage — schema (a transactional file and a
 * statement-by-statement one with CREATE INDEX CONCURRENTLY), backfill (in
 * place, a copy to another database, a JSONL load), verify, exact gates,
 * go/no-go, cutover (SQL, parameter, jumpbox command, a contract file) — and resumed with the
 * same runId until it ends. Each run must end as an uninterrupted run does:
 * GO, the same rows in every table (compared row by row), every cutover
 * effect exactly once, its evidence verifying, and its attempts counted.
 *
 * CI runs a seeded sample (CUTLINE_FAULT_RUNS, default 3 runs of up to 3
 * kills); `npm run test:faults` runs the full size (17 runs x 3 kills = 51).
 * A failing schedule replays with CUTLINE_FAULT_SEED.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prng, runCli } from '../support/cli-run';
import { dropDatabase, freshDatabase, pgQuery, terminateBackends } from '../support/databases';
import { PG_URL } from '../support/env';
import { readJson, tempDir } from '../support/local-run';

const RUNS = Number(process.env.CUTLINE_FAULT_RUNS ?? 3);
const KILLS = Number(process.env.CUTLINE_FAULT_KILLS_PER_RUN ?? 3);
const SEED = Number(process.env.CUTLINE_FAULT_SEED ?? 20261130);
const ACCOUNTS = 3000;

/** Every row of every table the run touches, as text, in key order (cutline's own tables and volatile timestamps left out). */
async function snapshot(src: string, dst: string): Promise<Record<string, string>> {
  const q = async (url: string, sql: string) => (await pgQuery(url, sql)).rows.map((r) => JSON.stringify(r)).join('\n');
  return {
    'src.accounts': await q(src, 'SELECT id, name, balance::text, uuid::text FROM accounts ORDER BY id'),
    'dst.accounts': await q(dst, 'SELECT id, name, balance::text, uuid::text FROM accounts ORDER BY id'),
    'dst.ledger': await q(dst, 'SELECT tx_id, wallet_id, entry_type, amount::text, event_time::text, memo FROM ledger ORDER BY tx_id'),
    'dst.ledger.columns': await q(dst, "SELECT column_name FROM information_schema.columns WHERE table_name = 'ledger' ORDER BY ordinal_position"),
    'dst.indexes': await q(dst, "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE 'ledger%' ORDER BY 1"),
    'dst.switched': await q(dst, 'SELECT count(*)::int AS n FROM switched'),
  };
}

interface Scenario {
  readonly runId: string;
  readonly src: string;
  readonly dst: string;
  readonly file: string;
  readonly evidence: string;
  readonly workDir: string;
  readonly reloads: string;
}

describe.runIf(!!PG_URL)('fault suite: SIGKILL anywhere, resume, and the run ends as an uninterrupted one', () => {
  const dbs: string[] = [];
  let dir: string;
  let shared: { migrations: string; contract: string; loads: string[] };
  beforeAll(async () => {
    dir = await tempDir('cutline-faults-');
    const migrations = path.join(dir, 'migrations');
    await mkdir(migrations);
    await writeFile(
      path.join(migrations, 'V1__ledger.sql'),
      'CREATE TABLE ledger (tx_id text PRIMARY KEY, wallet_id text NOT NULL, entry_type text NOT NULL, amount numeric(12,2) NOT NULL, event_time timestamptz NOT NULL);\nCREATE TABLE switched (at timestamptz NOT NULL DEFAULT now());\n',
    );
    await writeFile(path.join(migrations, 'V2__ledger_index.sql'), 'CREATE INDEX CONCURRENTLY IF NOT EXISTS ledger_wallet_idx ON ledger (wallet_id);\nALTER TABLE ledger ADD COLUMN note text;\n');
    // A contract file: applied by Cutover after the actions, after the go.
    const contract = path.join(dir, 'contract');
    await mkdir(contract);
    await writeFile(path.join(contract, 'V3__rename_note.sql'), 'ALTER TABLE ledger RENAME COLUMN note TO memo;\n');
    const loads: string[] = [];
    for (let f = 0; f < 6; f++) {
      const lines = Array.from({ length: 200 }, (_, i) => {
        const n = f * 200 + i;
        return JSON.stringify({ tx_id: `tx-${String(n).padStart(5, '0')}`, wallet_id: `w-${n % 37}`, entry_type: n % 2 ? 'PAYMENT' : 'RECEIVE', amount: (n * 1.25).toFixed(2), event_time: new Date(Date.UTC(2026, 10, 20, 3) + n * 60_000).toISOString() });
      });
      const file = path.join(dir, `ledger-${f}.jsonl`);
      await writeFile(file, `${lines.join('\n')}\n`);
      loads.push(file);
    }
    shared = { migrations, contract, loads };
  });
  afterAll(async () => {
    for (const d of dbs) await dropDatabase(PG_URL!, d);
  });

  async function scenario(name: string): Promise<Scenario> {
    const src = await freshDatabase(PG_URL!, `cutline_fault_${name}_src_${process.pid}`);
    const dst = await freshDatabase(PG_URL!, `cutline_fault_${name}_dst_${process.pid}`);
    dbs.push(`cutline_fault_${name}_src_${process.pid}`, `cutline_fault_${name}_dst_${process.pid}`);
    const ddl = 'CREATE TABLE accounts (id bigint PRIMARY KEY, name text NOT NULL, balance numeric(12,2) NOT NULL, uuid uuid)';
    await pgQuery(src, `${ddl}; INSERT INTO accounts (id, name, balance) SELECT g, 'acct-' || g, (g * 3.17)::numeric(12,2) FROM generate_series(1, ${ACCOUNTS}) g`);
    await pgQuery(dst, ddl);
    const params = path.join(dir, `${name}-params.json`);
    await writeFile(params, JSON.stringify({ '/app/selector': 'old' }));
    const reloads = path.join(dir, `${name}-reloads.txt`);
    const spec = {
      version: 1,
      runId: `fault-${name}`,
      owner: 'ops@example.com',
      tCutover: '2026-11-21T02:00:00Z',
      source: { engine: 'postgres', url: src },
      target: { engine: 'postgres', url: dst },
      jumpbox: { instanceId: 'local' },
      local: { parameters: params },
      migrations: { location: shared.migrations, contractLocation: shared.contract, database: 'target' },
      backfill: {
        maxConcurrency: 2,
        tasks: [
          // Deterministic values, so two runs compare byte for byte; each chunk takes >= 20 ms so kills land inside the backfill too.
          { name: 'uuid', database: 'source', table: 'accounts', key: 'id', batchSize: 150, sql: "UPDATE accounts SET uuid = md5('a' || id)::uuid WHERE id BETWEEN :lo AND :hi AND (SELECT 1 FROM pg_sleep(0.02)) = 1" },
          { name: 'copy', database: 'target', table: 'accounts', key: 'id', batchSize: 300, copyFrom: { database: 'source', table: 'accounts' } },
          { name: 'ledger', database: 'target', table: 'ledger', key: 'tx_id', load: { files: shared.loads, format: 'jsonl', timeColumn: 'event_time', range: 'backfill' } },
        ],
      },
      verify: { rowCounts: 'source-vs-target', tables: ['accounts'] },
      gates: { methods: ['fast', 'exact'], tables: [{ table: 'accounts' }], initialChunkRows: 500, maxChunkRows: 500 },
      cutover: {
        actions: [
          { type: 'sql', sql: 'INSERT INTO switched DEFAULT VALUES' },
          { type: 'parameter', name: '/app/selector', value: 'new' },
          { type: 'command', script: `sleep 0.3 && echo reloaded >> ${reloads}`, timeoutSeconds: 60 },
        ],
      },
      rollback: { actions: [{ type: 'parameter', name: '/app/selector', value: 'old' }] },
    };
    const file = path.join(dir, `${name}.json`);
    await writeFile(file, JSON.stringify(spec));
    return { runId: spec.runId, src, dst, file, evidence: path.join(dir, `ev-${name}`), workDir: path.join(dir, `work-${name}`), reloads };
  }
  const args = (s: Scenario) => ['run', s.file, '--local', '--auto-approve', '--evidence-dir', s.evidence, '--work-dir', s.workDir];

  let reference: { snapshot: Record<string, string>; lines: number };
  beforeAll(async () => {
    const s = await scenario('ref');
    const r = await runCli(args(s));
    expect(r.code, r.lines.join('\n')).toBe(0);
    reference = { snapshot: await snapshot(s.src, s.dst), lines: r.lines.length };
    expect(reference.snapshot['dst.accounts']!.split('\n')).toHaveLength(ACCOUNTS);
    expect(reference.snapshot['dst.ledger.columns']).toContain('memo');
  }, 120_000);

  const rnd = prng(SEED);
  const schedules = Array.from({ length: RUNS }, (_, i) => ({
    name: `r${i}`,
    // Where to kill: a fraction of the reference run's output lines (known once it ran), and a delay after that line.
    kills: Array.from({ length: KILLS }, () => ({ fraction: rnd(), delayMs: Math.floor(rnd() * 40) })),
  }));

  it.each(schedules)('run $name: killed at seeded random points and resumed, it ends as the uninterrupted run', async ({ name, kills }) => {
    const s = await scenario(name);
    let landed = 0;
    const log: string[] = [];
    for (const k of kills) {
      const afterLines = 1 + Math.floor(k.fraction * (reference.lines - 1));
      const r = await runCli(args(s), { afterLines, delayMs: k.delayMs, when: () => true });
      log.push(`kill after ${afterLines} lines (+${k.delayMs} ms): ${r.killed ? 'killed' : `ended ${r.code}`}`);
      // A kill that lands after the run sealed its evidence (the last output lines) leaves a finished run: a new attempt is refused.
      const finished = !r.killed || /already finished GO/.test(r.lines.join('\n'));
      if (finished) {
        if (!r.killed && !/already finished GO/.test(r.lines.join('\n'))) expect(r.code, `${log.join('\n')}\n${r.lines.join('\n')}`).toBe(0);
        break;
      }
      landed++;
    }
    const last = await runCli(args(s));
    const text = last.lines.join('\n');
    // Either an earlier attempt finished it (a new one is refused, exit 2), or this one finishes it.
    if (/already finished GO/.test(text)) expect(last.code).toBe(2);
    else expect(last.code, `${log.join('\n')}\n${text}`).toBe(0);
    expect(await snapshot(s.src, s.dst), log.join('\n')).toEqual(reference.snapshot);
    expect(await readFile(s.reloads, 'utf8'), log.join('\n')).toBe('reloaded\n');
    expect(await readJson(path.join(s.workDir, s.runId, 'parameters.json'))).toEqual({ '/app/selector': 'new' });
    const summary = await readFile(path.join(s.evidence, s.runId, 'summary.md'), 'utf8');
    expect(summary).toContain('GO');
    const attempts = Number(/- attempts: (\d+)/.exec(summary)?.[1]);
    // Every kill that landed after ValidateSpec recorded its attempt left one more attempt behind.
    expect(attempts, log.join('\n')).toBeGreaterThanOrEqual(1);
    expect(attempts, log.join('\n')).toBeLessThanOrEqual(landed + 1);
    const verified = await runCli(['evidence', 'verify', s.runId, '--evidence-dir', s.evidence]);
    expect(verified.code, verified.lines.join('\n')).toBe(0);
  }, 300_000);

  it('killed right after the contract file committed (in Cutover, after the go): the resume goes on to GO, nothing applied twice', async () => {
    const s = await scenario('contract');
    const killed = await runCli(args(s), { afterLines: 1, delayMs: 0, when: (l) => /Contract: \d+\/\d+ V3__rename_note\.sql/.test(l) });
    expect(killed.killed).toBe(true);
    const resumed = await runCli(args(s));
    expect(resumed.code, resumed.lines.join('\n')).toBe(0);
    expect(await snapshot(s.src, s.dst)).toEqual(reference.snapshot);
    expect(await readFile(s.reloads, 'utf8')).toBe('reloaded\n');
    const cutover = await readJson(path.join(s.evidence, s.runId, '10_cutover.json'));
    expect(cutover.details.actions.map((a: { effect: string }) => a.effect)).toEqual(['done-before', 'done-before', 'done-before']);
    expect(await readFile(path.join(s.evidence, s.runId, 'summary.md'), 'utf8')).toContain('- attempts: 2');
  }, 120_000);

  it('backends terminated at random points of a run are retried wherever they land: it ends as the uninterrupted run', async () => {
    const s = await scenario('term');
    // At most 8 terminations on either database, one active backend at a time, then 200 ms of peace.
    const killer = await terminateBackends([s.src, s.dst], { max: 8, pauseMs: 200 });
    const r = await runCli(args(s));
    const terminated = await killer.stop();
    // Where they land is up to the scheduler; at least one did.
    expect(terminated).toBeGreaterThan(0);
    expect(r.code, r.lines.join('\n')).toBe(0);
    expect(await snapshot(s.src, s.dst)).toEqual(reference.snapshot);
    expect(await readFile(s.reloads, 'utf8')).toBe('reloaded\n');
  }, 300_000);
});
