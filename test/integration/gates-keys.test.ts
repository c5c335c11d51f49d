/** Chunking by text and uuid keys (bytewise order across engines) and by composite keys, with a difference found in a middle chunk. */
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../lambdas/adapters/local/runtime';
import { mysqlClient } from '../../lambdas/adapters/local/sql-mysql';
import { pgliteClient } from '../../lambdas/adapters/local/sql-postgres';
import { compareTable } from '../support/compare-table';
import type { SqlClient } from '../../lambdas/ports';
import { MYSQL_URL } from '../support/env';
import { dropDatabase, freshDatabase } from '../support/databases';

const N = 3000;
const tuning = { plan: { initialRows: 400, maxRows: 400, minRows: 10 }, check: { recheckDelayMs: 1 } };

describe('text, uuid and composite keys', () => {
  let db: PGlite;
  let pg: SqlClient;
  let my: SqlClient | undefined;
  const myDb = `cutline_keys_${process.pid}`;
  beforeAll(async () => {
    db = await PGlite.create();
    pg = pgliteClient(db);
    // Mixed-case text keys: 'B' < 'a' bytewise, but not under a case-insensitive collation.
    await db.exec(`CREATE TABLE tk (k text PRIMARY KEY, v int);
      INSERT INTO tk SELECT CASE WHEN g % 2 = 0 THEN 'K' ELSE 'k' END || lpad(g::text, 5, '0'), g FROM generate_series(1, ${N}) g;
      CREATE TABLE uk (id uuid PRIMARY KEY, v int);
      INSERT INTO uk SELECT md5(g::text)::uuid, g FROM generate_series(1, ${N}) g;
      CREATE TABLE ck (a int, b text, v int, PRIMARY KEY (a, b));
      INSERT INTO ck SELECT g % 7, 'b' || g, g FROM generate_series(1, ${N}) g;`);
    if (MYSQL_URL) {
      my = mysqlClient(await freshDatabase(MYSQL_URL, myDb, { charset: 'utf8mb4 COLLATE utf8mb4_general_ci' }));
      await my.query('CREATE TABLE tk (k VARCHAR(20) PRIMARY KEY, v INT)');
      await my.query('CREATE TABLE uk (id CHAR(36) PRIMARY KEY, v INT)');
      for (const t of ['tk', 'uk']) {
        const { rows } = await pg.query(t === 'tk' ? 'SELECT k AS key, v FROM tk' : 'SELECT id::text AS key, v FROM uk');
        for (let i = 0; i < rows.length; i += 500) {
          const part = rows.slice(i, i + 500);
          const params = Object.fromEntries(part.flatMap((r, j) => [[`k${j}`, String(r.key)], [`v${j}`, Number(r.v)]]));
          await my.query(`INSERT INTO ${t} VALUES ${part.map((_, j) => `(:k${j}, :v${j})`).join(', ')}`, params);
        }
      }
    }
  });
  afterAll(async () => {
    await db.close();
    if (my) {
      await my.close();
      await dropDatabase(MYSQL_URL!, myDb);
    }
  });

  it('same engine: text, uuid and composite keys chunk and match', async () => {
    for (const table of ['tk', 'uk', 'ck']) {
      const r = await compareTable({ source: pg, target: pg }, { table }, ['exact'], systemClock, tuning);
      expect([table, r.status]).toEqual([table, 'MATCH']);
      expect(r.chunks).toBeGreaterThan(5);
    }
  });

  it('many differences: drill-down stops at maxDiffs and says the list is cut; each response stays small', async () => {
    await db.exec(`CREATE TABLE many_a AS SELECT g AS id, g AS v FROM generate_series(1, 20000) g; ALTER TABLE many_a ADD PRIMARY KEY (id);
      CREATE TABLE many_b AS SELECT g AS id, CASE WHEN g % 4 = 0 THEN -g ELSE g END AS v FROM generate_series(1, 20000) g; ALTER TABLE many_b ADD PRIMARY KEY (id);`);
    const sizes: number[] = [];
    const spy: SqlClient = { ...pg, query: async (sql, params) => {
      const r = await pg.query(sql, params);
      sizes.push(Buffer.byteLength(JSON.stringify(r.rows)));
      return r;
    } };
    const r = await compareTable({ source: spy, target: spy }, { table: 'many_a', targetTable: 'many_b' }, ['exact'], systemClock, {
      plan: { initialRows: 20000, maxRows: 20000 },
      check: { recheckDelayMs: 1, drill: { buckets: 64, leafRows: 1000, maxDiffs: 50, maxLevels: 4 } },
    });
    expect(r.diffs).toHaveLength(50);
    expect(r.checks[0]!.diffsTruncated).toBe(true);
    expect(Math.max(...sizes)).toBeLessThan(1024 * 1024);
  });

  it.runIf(!!MYSQL_URL)('PostgreSQL -> MariaDB with a case-insensitive collation: text keys compare bytewise, uuid as text; one changed row found', async () => {
    await my!.query("UPDATE tk SET v = -1 WHERE k = 'K01500'");
    const tk = await compareTable({ source: pg, target: my! }, { table: 'tk' }, ['fast', 'exact'], systemClock, tuning);
    expect(tk.plan.key[0]).toMatchObject({ kind: 'text', binary: true });
    expect(tk.checks.filter((c) => c.method === 'fast').every((c) => c.status === 'MATCH')).toBe(true);
    expect(tk.diffs.map((d) => [d.key, d.kind, d.columns])).toEqual([['K01500', 'changed', ['v']]]);
    const uk = await compareTable({ source: pg, target: my! }, { table: 'uk' }, ['fast', 'exact'], systemClock, tuning);
    expect([uk.status, uk.chunks > 5]).toEqual(['MATCH', true]);
  });

  it.skipIf(!MYSQL_URL)('a dense integer key on MariaDB is planned by key ranges (min, max and the catalog in its dialect) and matches PostgreSQL', async () => {
    await db.exec(`CREATE TABLE ik (id bigint PRIMARY KEY, v int); INSERT INTO ik SELECT g, g FROM generate_series(1, ${N}) g WHERE g % 5 <> 0; ANALYZE ik;`);
    await my!.query('CREATE TABLE ik (id BIGINT PRIMARY KEY, v INT)');
    await my!.query(`INSERT INTO ik SELECT seq, seq FROM seq_1_to_${N} WHERE seq % 5 <> 0`);
    await my!.query('ANALYZE TABLE ik');
    const seen: string[] = [];
    const counting: SqlClient = {
      ...my!,
      query: (sql, params) => {
        seen.push(sql);
        return my!.query(sql, params);
      },
    };
    const ranged = { ...tuning, plan: { ...tuning.plan, rangeAboveRows: 100 } };
    const r = await compareTable({ source: counting, target: pg }, { table: 'ik' }, ['fast', 'exact'], systemClock, ranged);
    expect(seen.some((q) => q.includes('LIMIT 1 OFFSET'))).toBe(false);
    expect(seen.some((q) => /CAST\(min\(`id`\) AS CHAR\)/.test(q))).toBe(true);
    // Ranges 400 / density wide, density from InnoDB's estimate (0.8 if exact; ranges are only planned from 0.5 to 1).
    expect(r.status).toBe('MATCH');
    expect(r.chunks).toBeGreaterThanOrEqual(Math.ceil(N / 800));
    expect(r.chunks).toBeLessThanOrEqual(Math.ceil(N / 400));
  });
});
