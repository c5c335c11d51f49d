/** Reads are retried after a dropped connection, writes are not. */
import { describe, expect, it } from 'vitest';
import type { Deps } from '../../lambdas/ports';
import { RunSpec } from '../../lambdas/core/spec';
import { base } from '../support/spec-base';

describe('reads are retried after a dropped connection, writes are not', () => {
  it('isReadOnly: SELECT / WITH ... SELECT / SHOW yes; INSERT, data-modifying CTEs, SELECT INTO, FOR UPDATE, nextval no', async () => {
    const { isReadOnly } = await import('../../lambdas/core/retry');
    for (const sql of ['SELECT count(*) AS n FROM t', '  select 1', 'WITH a AS (SELECT 1) SELECT * FROM a', 'SHOW server_version', 'SELECT last_update, updated_at FROM t', 'SELECT CAST(x AS CHAR CHARACTER SET utf8mb4) FROM t'])
      expect(isReadOnly(sql), sql).toBe(true);
    for (const sql of ['INSERT INTO t VALUES (1)', 'WITH m AS (INSERT INTO x SELECT 1 RETURNING *) SELECT * FROM m', 'SELECT * INTO t2 FROM t', 'SELECT * FROM t FOR UPDATE', "SELECT nextval('s')", 'UPDATE t SET a = 1', 'CREATE TABLE t (a int)'])
      expect(isReadOnly(sql), sql).toBe(false);
  });

  it('withReadRetries runs a read again after "terminating connection", a write never', async () => {
    const { withReadRetries } = await import('../../lambdas/core/retry');
    const calls: string[] = [];
    let fail = 1;
    const inner = {
      dialect: 'postgres' as const,
      label: 'fake',
      query: async (sql: string) => {
        calls.push(sql);
        if (fail-- > 0) throw new Error('terminating connection due to administrator command');
        return { rows: [], columns: [], rowsAffected: 0 };
      },
      transaction: async <T>(fn: (tx: never) => Promise<T>) => fn(undefined as never),
      close: async () => {},
    };
    const c = withReadRetries(inner, { sleep: async () => {} });
    await c.query('SELECT 1');
    expect(calls).toEqual(['SELECT 1', 'SELECT 1']);
    fail = 1;
    await expect(c.query('UPDATE t SET a = 1')).rejects.toThrow(/terminating connection/);
    expect(calls).toHaveLength(3);
  });

  it('a read that ran past its call (StatementTimeoutException) is not run again in the same invocation: the state retries the stage', async () => {
    const { withReadRetries } = await import('../../lambdas/core/retry');
    let calls = 0;
    const inner = {
      dialect: 'postgres' as const,
      label: 'fake',
      query: async () => {
        calls++;
        throw Object.assign(new Error('The statement ran past 45 seconds'), { name: 'StatementTimeoutException' });
      },
      transaction: async <T>(fn: (tx: never) => Promise<T>) => fn(undefined as never),
      close: async () => {},
    };
    await expect(withReadRetries(inner, { sleep: async () => {} }).query('SELECT count(*) FROM big')).rejects.toMatchObject({ name: 'StatementTimeoutException' });
    expect(calls).toBe(1);
  });

  it('EXPLAIN runs nothing, whatever it plans: a read; EXPLAIN ANALYZE runs the statement: not one', async () => {
    const { isReadOnly } = await import('../../lambdas/core/retry');
    for (const sql of ['EXPLAIN INSERT INTO t SELECT * FROM s WHERE id BETWEEN 1 AND 2', 'explain UPDATE t SET a = 1', 'EXPLAIN (COSTS false) DELETE FROM t', 'EXPLAIN FORMAT=JSON UPDATE t SET a = 1'])
      expect(isReadOnly(sql), sql).toBe(true);
    for (const sql of ['EXPLAIN ANALYZE INSERT INTO t VALUES (1)', 'EXPLAIN (ANALYZE) UPDATE t SET a = 1', 'EXPLAIN (COSTS false, ANALYZE true) DELETE FROM t', 'EXPLAIN ANALYZE SELECT 1'])
      expect(isReadOnly(sql), sql).toBe(false);
  });

  it('preflight: a backend terminated under its checks is retried by the state machine, never a blocked environment', async () => {
    const { runPreflight } = await import('../../lambdas/core/preflight');
    const { withReadRetries } = await import('../../lambdas/core/retry');
    const spec = RunSpec.parse({ ...base, backfill: { tasks: [{ name: 'a', table: 't', key: 'id', sql: 'UPDATE t SET x = 1 WHERE id BETWEEN :lo AND :hi' }] } });
    const fail = new Set<string>();
    const client = {
      dialect: 'postgres' as const,
      label: 'fake',
      query: async (sql: string) => {
        for (const f of fail) if (sql.includes(f)) throw new Error('terminating connection due to administrator command');
        if (/version/i.test(sql)) return { rows: [{ v: 'PostgreSQL 16.4 on x86_64' }], columns: [], rowsAffected: 0 };
        if (/information_schema/i.test(sql)) return { rows: [{ type: 'bigint' }], columns: [], rowsAffected: 0 };
        return { rows: [], columns: [], rowsAffected: 0 };
      },
      transaction: async <T>(fn: (tx: never) => Promise<T>) => fn(undefined as never),
      close: async () => {},
    };
    const deps = { sql: () => withReadRetries(client, { sleep: async () => {} }), clock: { now: () => new Date(), sleep: async () => {} }, scripts: { read: async () => '' } } as unknown as Deps;
    expect((await runPreflight(spec, deps)).ok).toBe(true);
    // Terminated on every try: thrown (the handler names it DatabaseConnectionLost, which the state retries), not a failed check.
    for (const f of ['EXPLAIN', 'id']) {
      fail.clear();
      fail.add(f === 'id' ? 'column' : f);
      await expect(runPreflight(spec, deps), f).rejects.toThrow(/terminating connection/);
    }
  });
});
