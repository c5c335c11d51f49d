/**
 * Fault injection: the runner process is killed (SIGKILL) at random chunk
 * boundaries and in the middle of chunks, 20 times, and resumed with the same
 * runId each time. The final tables must equal an uninterrupted run's,
 * checksum for checksum.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_URL } from '../support/env';
import { filesUnder, miniSpec, tempDir } from '../support/local-run';
import { dropDatabase, freshDatabase, pgUrlFor } from '../support/databases';
import { prng, ROOT, runCli } from '../support/cli-run';

const TABLES = ['s3_cloudbackup_agents', 's3_cloudbackup_jobs', 's3_cloudbackup_runs', 's3_cloudbackup_run_commands', 's3_cloudbackup_restore_points', 's3_cloudbackup_agent_destinations'];

async function checksum(url: string): Promise<Record<string, string>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const out: Record<string, string> = {};
  for (const t of TABLES) {
    const key = (await c.query(`SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] WHERE i.indrelid = '${t}'::regclass AND i.indisprimary`)).rows[0].attname;
    out[t] = (await c.query(`SELECT md5(string_agg(t::text, ',' ORDER BY ${key})) AS h FROM ${t} t`)).rows[0].h;
  }
  await c.end();
  return out;
}

describe.runIf(!!PG_URL)('killed and resumed 20 times', () => {
  const dbs = [`cutline_fault_ref_${process.pid}`, `cutline_fault_run_${process.pid}`];
  beforeAll(async () => {
    for (const d of dbs) await freshDatabase(PG_URL!, d);
  });
  afterAll(async () => {
    for (const d of dbs) await dropDatabase(PG_URL!, d);
  });

  it('ends with the same tables as an uninterrupted run', async () => {
    const dir = await tempDir('cutline-faults-');
    const spec = await miniSpec({ runId: 'fault-run' });
    // Deterministic uuids (md5 of the agent id), so two runs can be compared byte for byte.
    spec.backfill.tasks[0].sql = spec.backfill.tasks[0].sql.replace('gen_random_uuid()', `md5('agent-' || "agent_id"::text)::uuid`);
    expect(spec.backfill.tasks[0].sql).toContain('md5(');
    spec.backfill.maxConcurrency = 2;
    // Every chunk takes at least 40 ms, so a kill lands during the backfill, not after it.
    for (const t of spec.backfill.tasks) {
      t.batchSize = Math.max(2, Math.floor(t.batchSize / 3));
      t.sql = `${t.sql} AND (SELECT 1 FROM pg_sleep(0.04)) = 1`;
    }
    spec.local.seed = [path.resolve(ROOT, 'test/e2e/fixtures/scale-1-100.sql'), spec.local.seed[1]];
    const file = path.join(dir, 'spec.json');
    await writeFile(file, JSON.stringify(spec));
    const ref = pgUrlFor(PG_URL!, dbs[0]!);
    const url = pgUrlFor(PG_URL!, dbs[1]!);
    const base = ['run', file, '--local', '--auto-approve'];

    const clean = await runCli([...base, '--source-url', ref, '--seed', '--evidence-dir', path.join(dir, 'ev-ref')]);
    expect(clean.code).toBe(0);
    const total = Number(/backfill: \d+\/(\d+) chunks/.exec(clean.lines.find((l) => /backfill: \d+\/\d+ chunks/.test(l))!)![1]);
    expect(total).toBeGreaterThan(30);

    const seed = Number(process.env.CUTLINE_FAULT_SEED ?? 20261121);
    const rnd = prng(seed);
    const evidence = path.join(dir, 'ev-run');
    let kills = 0;
    let boundary = 0;
    let first = true;
    for (let i = 0; i < 20; i++) {
      const atBoundary = i % 2 === 0;
      const afterLines = 1 + Math.floor(rnd() * 3);
      const r = await runCli([...base, '--source-url', url, ...(first ? ['--seed'] : []), '--evidence-dir', evidence], {
        afterLines,
        delayMs: atBoundary ? 0 : Math.floor(rnd() * 40),
      });
      first = false;
      if (process.env.CUTLINE_FAULT_DEBUG) process.stderr.write(`FAULT ${i} code=${r.code} killed=${r.killed} ${JSON.stringify(r.lines.filter((l) => /backfill|stderr|GO|NO_GO/.test(l)).slice(0, 4))}\n`);
      if (r.killed) {
        kills++;
        if (atBoundary) boundary++;
      }
      if (!r.killed) break; // it finished before the kill point: nothing left to interrupt
    }
    const done = await runCli([...base, '--source-url', url, '--evidence-dir', evidence]);
    expect(done.lines.join('\n')).toMatch(/already finished|GO: every gate passed/);
    expect(kills).toBe(20);
    expect(boundary).toBe(10);
    expect(await checksum(url)).toEqual(await checksum(ref));
    const files = await filesUnder(path.join(evidence, 'fault-run'));
    // A kill between write and rename can leave a .tmp file: never read as evidence (list() skips it).
    expect(files.filter((f) => f.startsWith('05_backfill/') && f.endsWith('.json'))).toHaveLength(total);
  }, 600_000);
});
