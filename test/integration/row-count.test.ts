/**
 * Row counts in statements of bounded size: Preflight's baseline, Verify and the backfill plan counted a whole table
 * in one `SELECT count(*)`, which on a 10⁹-row table outlives a Data API call (45 s) and fails the stage in AWS. Now a
 * table with an integer primary key is counted in key ranges sized toward a number of rows per statement; only a
 * table without one takes one statement, and the evidence says which.
 */
import { PGlite } from '@electric-sql/pglite';
import { afterAll, describe, expect, it } from 'vitest';
import { mysqlClient } from '../../lambdas/adapters/local/sql-mysql';
import { pgliteClient } from '../../lambdas/adapters/local/sql-postgres';
import { countRows } from '../../lambdas/core/row-count';
import type { SqlClient } from '../../lambdas/ports';
import { dropDatabase, freshDatabase } from '../support/databases';
import { MYSQL_URL } from '../support/env';

/** The client, recording every statement it is given (in its transactions too). */
function recording(client: SqlClient, sql: string[] = []): { client: SqlClient; sql: string[] } {
  const recorded: SqlClient = {
    dialect: client.dialect,
    label: client.label,
    query: (s, p, o) => {
      sql.push(s);
      return client.query(s, p, o);
    },
    transaction: (fn) => client.transaction((tx) => fn(recording(tx, sql).client)),
    close: () => client.close(),
  };
  return { sql, client: recorded };
}

const SEED = [
  'CREATE TABLE counted (id bigint PRIMARY KEY, v text)',
  "INSERT INTO counted SELECT g, 'v' FROM generate_series(1, 1000) g",
  // A far, sparse stretch of keys: crossed in a few widening steps, not a million narrow ones.
  "INSERT INTO counted SELECT 1000000000000 + g, 'v' FROM generate_series(1, 10) g",
  'CREATE TABLE keyless (v text)',
  "INSERT INTO keyless SELECT 'v' FROM generate_series(1, 7) g",
];

describe('countRows', () => {
  it('PostgreSQL: exact, by key ranges of the integer primary key, no statement over the whole table', async () => {
    const db = await PGlite.create();
    for (const s of SEED) await db.exec(s);
    const r = recording(pgliteClient(db));
    const c = await countRows(r.client, 'counted', { rowsPerStatement: 100n });
    expect(c).toMatchObject({ n: '1010', method: 'key ranges', key: 'id' });
    expect(r.sql).toContain('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    const counts = r.sql.filter((s) => /count\(\*\)/i.test(s) && !/pg_index|information_schema/.test(s));
    expect(counts.length).toBeGreaterThan(10);
    expect(counts.length).toBeLessThan(60);
    expect(counts.every((s) => / WHERE "id" BETWEEN :lo AND :hi$/.test(s))).toBe(true);
    expect(await countRows(pgliteClient(db), 'keyless')).toEqual({ n: '7', method: 'one statement', statements: 1 });
    await db.close();
  });

  describe.runIf(!!MYSQL_URL)('MariaDB', () => {
    const name = `cutline_row_count_${process.pid}`;
    afterAll(async () => {
      await dropDatabase(MYSQL_URL!, name);
    });
    it('the same on MariaDB', async () => {
      const client = mysqlClient(await freshDatabase(MYSQL_URL!, name));
      try {
        await client.query('CREATE TABLE counted (id bigint PRIMARY KEY, v text)');
        for (let i = 0; i < 10; i++) await client.query(`INSERT INTO counted VALUES ${Array.from({ length: 100 }, (_, j) => `(${i * 100 + j + 1}, 'v')`).join(', ')}`);
        await client.query("INSERT INTO counted VALUES (1000000000001, 'v'), (1000000000002, 'v')");
        await client.query('CREATE TABLE keyless (v text)');
        await client.query("INSERT INTO keyless VALUES ('a'), ('b')");
        expect(await countRows(client, 'counted', { rowsPerStatement: 100n })).toMatchObject({ n: '1002', method: 'key ranges', key: 'id' });
        expect(await countRows(client, 'keyless')).toEqual({ n: '2', method: 'one statement', statements: 1 });
      } finally {
        await client.close();
      }
    });
  });
});
