/**
 * Fidelity: the Data API as the Lambdas meet it. `cutline run --local --data-api` sends every statement of the run
 * through the production adapter (DataApiSql, the real RDSDataClient) to a loopback endpoint with the service's
 * limits; before, the loopback endpoint was a test harness only, with no time limit and one connection, so a statement
 * past 45 seconds or a session setting carried to the next call passed locally and would fail on Aurora.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { runLocal } from '../../cli/runner/run';
import { loopbackDataApi } from '../../cli/loopback-data-api';
import { systemClock } from '../../lambdas/adapters/local/runtime';
import { applyMigrations, loadMigrations } from '../../lambdas/core/migrations';
import { dropDatabase, freshDatabase } from '../support/databases';
import { miniSpec, readHistory, tempDir } from '../support/local-run';

const PG = process.env.CUTLINE_TEST_PG_URL;

/** The Lambdas' Data API adapter against the loopback (as --data-api wires it), and a direct pool to look behind it. */
async function loopback(opts: { statementTimeoutMs?: number } = {}) {
  const sql = await loopbackDataApi(PG!, undefined, opts);
  const pool = new pg.Pool({ connectionString: PG, max: 2 });
  return {
    sql,
    pool,
    close: async () => {
      await sql.close();
      await pool.end();
    },
  };
}

describe('the loopback Data API', () => {
  it('the mini cutover runs to GO with every statement through the production Data API adapter', async () => {
    const lines: string[] = [];
    const evidenceDir = await tempDir();
    const r = await runLocal({ spec: await miniSpec({ runId: 'via-data-api' }), dataApi: true, evidenceDir, workDir: await tempDir('cutline-work-'), approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, out: (l) => lines.push(l) });
    expect([r.outcome, r.reason], lines.filter((l) => /failed/.test(l)).join('\n')).toEqual(['GO', 'every gate passed, approved, cut over, smoke checks passed']);
    // Preflight met the server through the Data API adapter.
    expect(await readFile(path.join(evidenceDir, 'via-data-api', '02_preflight.json'), 'utf8')).toContain('at data-api loopback/postgres');
  }, 120_000);

  it('an auto-paused cluster answers DatabaseResumingException until it has resumed: the Task is retried, the run ends GO', async () => {
    const evidenceDir = await tempDir();
    const r = await runLocal({ spec: await miniSpec({ runId: 'paused' }), dataApi: { pausedResumeMs: 3000 }, evidenceDir, workDir: await tempDir('cutline-work-'), approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, out: () => {} });
    expect([r.outcome, r.classification]).toEqual(['GO', 'GO']);
    const history = await readHistory(path.join(evidenceDir, 'paused', 'execution-history.jsonl'));
    const resuming = history.filter((e) => e.type === 'TaskFailed' && e.taskFailedEventDetails.error === 'DatabaseResumingException');
    expect(resuming.length).toBeGreaterThan(0);
  }, 120_000);

  it.runIf(!!PG)('on a real PostgreSQL too: each call on whichever pooled connection is free', async () => {
    const url = await freshDatabase(PG!, `cutline_via_data_api_${process.pid}`);
    try {
      const r = await runLocal({ spec: await miniSpec({ runId: 'via-data-api-pg' }), sourceUrl: url, seed: true, dataApi: true, evidenceDir: await tempDir(), workDir: await tempDir('cutline-work-'), approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, out: () => {} });
      expect([r.outcome, r.classification]).toEqual(['GO', 'GO']);
    } finally {
      await dropDatabase(PG!, `cutline_via_data_api_${process.pid}`);
    }
  }, 120_000);

  it.runIf(!!PG)('a call past the statement limit fails with StatementTimeoutException and the statement is stopped', async () => {
    const l = await loopback({ statementTimeoutMs: 300 });
    try {
      await expect(l.sql.query('SELECT pg_sleep(5)')).rejects.toMatchObject({ name: 'StatementTimeoutException' });
      // Stopped: no backend is still sleeping for it.
      const { rows } = await l.pool.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(5)' AND state = 'active'");
      expect(rows[0].n).toBe(0);
    } finally {
      await l.close();
    }
  });

  it.runIf(!!PG)('a session setting does not carry over to the next call; a transaction keeps its own', async () => {
    const l = await loopback();
    try {
      await l.sql.query("SET statement_timeout = '1234ms'");
      expect((await l.sql.query('SHOW statement_timeout')).rows[0]).not.toEqual({ statement_timeout: '1234ms' });
      const inside = await l.sql.transaction(async (tx) => {
        await tx.query("SET LOCAL lock_timeout = '2s'");
        return (await tx.query('SHOW lock_timeout')).rows[0];
      });
      expect(inside).toEqual({ lock_timeout: '2s' });
    } finally {
      await l.close();
    }
  });

  it.runIf(!!PG)('a row over 64 KB is refused, as the service refuses it', async () => {
    const l = await loopback();
    try {
      await expect(l.sql.query("SELECT repeat('x', 70000) AS wide")).rejects.toThrow(/64|65536/);
      expect((await l.sql.query("SELECT repeat('x', 60000) AS wide")).rows).toHaveLength(1);
    } finally {
      await l.close();
    }
  });

  it.runIf(!!PG)('an index build that outlives its call runs on (continueAfterTimeout) and the migration waits for it to be valid', async () => {
    const l = await loopback({ statementTimeoutMs: 300 });
    try {
      await l.pool.query(`DROP TABLE IF EXISTS outlive; DROP FUNCTION IF EXISTS slow_key(int);
        CREATE FUNCTION slow_key(i int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN PERFORM pg_sleep(0.01); RETURN i; END $$;
        CREATE TABLE outlive (id int PRIMARY KEY); INSERT INTO outlive SELECT generate_series(1, 100)`);
      const files = [{ name: 'V1__index.sql', body: 'CREATE INDEX CONCURRENTLY outlive_slow ON outlive (slow_key(id));' }];
      const out = await applyMigrations(l.sql, loadMigrations(files, 'postgres'), { historyTable: 'outlive_hist', executionArn: 'arn:outlive', appliedBy: 'ops', deps: { clock: systemClock, progress: undefined } });
      expect(out.applied.map((a) => a.script)).toEqual(['V1__index.sql']);
      const { rows } = await l.pool.query("SELECT indisvalid FROM pg_index WHERE indexrelid = 'outlive_slow'::regclass");
      expect(rows).toEqual([{ indisvalid: true }]);
    } finally {
      await l.pool.query('DROP TABLE IF EXISTS outlive; DROP TABLE IF EXISTS outlive_hist; DROP FUNCTION IF EXISTS slow_key(int)').catch(() => undefined);
      await l.close();
    }
  }, 60_000);

  it.runIf(!!PG)('a VALIDATE CONSTRAINT that outlives its call runs on (continueAfterTimeout) and the migration waits until the constraint is validated', async () => {
    const l = await loopback({ statementTimeoutMs: 300 });
    try {
      await l.pool.query(`DROP TABLE IF EXISTS outcheck; DROP TABLE IF EXISTS outcheck_hist; DROP TABLE IF EXISTS outcheck_hist_lease; DROP FUNCTION IF EXISTS slow_ok(int);
        CREATE FUNCTION slow_ok(i int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN PERFORM pg_sleep(0.01); RETURN i > 0; END $$;
        CREATE TABLE outcheck (id int PRIMARY KEY); INSERT INTO outcheck SELECT generate_series(1, 100)`);
      // The pattern lint asks for: add NOT VALID (instant), then validate (a scan of the table, writes go on).
      const files = [{ name: 'V1__check.sql', body: 'ALTER TABLE outcheck ADD CONSTRAINT outcheck_ok CHECK (slow_ok(id)) NOT VALID;\nALTER TABLE outcheck VALIDATE CONSTRAINT outcheck_ok;' }];
      const out = await applyMigrations(l.sql, loadMigrations(files, 'postgres'), { historyTable: 'outcheck_hist', executionArn: 'arn:outcheck', appliedBy: 'ops', deps: { clock: systemClock, progress: undefined } });
      expect(out.applied.map((a) => a.script)).toEqual(['V1__check.sql']);
      const { rows } = await l.pool.query("SELECT convalidated FROM pg_constraint WHERE conname = 'outcheck_ok'");
      expect(rows).toEqual([{ convalidated: true }]);
    } finally {
      await l.pool.query('DROP TABLE IF EXISTS outcheck; DROP TABLE IF EXISTS outcheck_hist; DROP TABLE IF EXISTS outcheck_hist_lease; DROP FUNCTION IF EXISTS slow_ok(int)').catch(() => undefined);
      await l.close();
    }
  }, 60_000);

  it.runIf(!!PG)('an index build that outlives its Lambda is followed by the next invocation (the state retries MigrationStillRunning), never dropped while it runs', async () => {
    const l = await loopback({ statementTimeoutMs: 300 });
    const blocker = await l.pool.connect();
    try {
      await l.pool.query('DROP TABLE IF EXISTS outlast; DROP TABLE IF EXISTS outlast_hist; DROP TABLE IF EXISTS outlast_hist_lease; CREATE TABLE outlast (id int PRIMARY KEY); INSERT INTO outlast SELECT generate_series(1, 100)');
      // A writer's open transaction: the concurrent build waits for it (as a build on a big table takes its time).
      await blocker.query('BEGIN');
      await blocker.query('UPDATE outlast SET id = id WHERE false');
      const files = [{ name: 'V1__index.sql', body: 'CREATE INDEX CONCURRENTLY outlast_id ON outlast (id);' }];
      const messages: string[] = [];
      const opts = (remainingMs: () => number) => ({ historyTable: 'outlast_hist', executionArn: 'arn:outlast', appliedBy: 'ops', remainingMs, deps: { clock: systemClock, progress: (p: { message?: string }) => void messages.push(p.message ?? '') } });
      // The first invocation sends the build, its call times out (the build runs on), and its time is up.
      let looks = 0;
      await expect(applyMigrations(l.sql, loadMigrations(files, 'postgres'), opts(() => (looks++ === 0 ? 600_000 : 10_000)))).rejects.toMatchObject({ name: 'MigrationStillRunning' });
      const oid = (await l.pool.query("SELECT 'outlast_id'::regclass::oid AS oid, indisvalid FROM pg_index WHERE indexrelid = 'outlast_id'::regclass")).rows[0];
      expect(oid.indisvalid).toBe(false);
      // The next invocation finds it invalid and still being built: it waits for it (an earlier version dropped it and built it again).
      const second = applyMigrations(l.sql, loadMigrations(files, 'postgres'), opts(() => 600_000));
      for (const until = Date.now() + 30_000; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
        const dropping = (await l.pool.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query ILIKE 'DROP INDEX%outlast_id%'")).rows[0].n;
        if (dropping > 0 || messages.some((m) => /still running/.test(m))) break;
      }
      await blocker.query('COMMIT');
      const out = await second;
      expect(out.applied[0]).not.toHaveProperty('rebuiltInvalidIndexes');
      const after = (await l.pool.query("SELECT 'outlast_id'::regclass::oid AS oid, indisvalid FROM pg_index WHERE indexrelid = 'outlast_id'::regclass")).rows[0];
      expect(after).toEqual({ oid: oid.oid, indisvalid: true });
    } finally {
      await blocker.query('ROLLBACK').catch(() => undefined);
      blocker.release();
      await l.pool.query('DROP TABLE IF EXISTS outlast; DROP TABLE IF EXISTS outlast_hist; DROP TABLE IF EXISTS outlast_hist_lease').catch(() => undefined);
      await l.close();
    }
  }, 90_000);
});
