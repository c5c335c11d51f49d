/**
 * Canonical rules, type by type, on real servers and across engines: equal
 * values hash equal; NULL vs '', numeric scale, booleans, timestamps to the
 * microsecond, bytes, case and trailing spaces under a case-insensitive
 * collation, uuid, enum, and json whose key order must not count.
 * Bad input (no key, unsupported key, a column on one side, a type pair with
 * no canonical form) is an error naming table and column.
 */
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../lambdas/adapters/local/runtime';
import { mysqlClient } from '../../lambdas/adapters/local/sql-mysql';
import { pgliteClient, postgresClient } from '../../lambdas/adapters/local/sql-postgres';
import { CanonicalError } from '../../lambdas/core/compare/canonical';
import { buildTablePlan } from '../../lambdas/core/compare/table-plan';
import { compareTable } from '../support/compare-table';
import type { SqlClient } from '../../lambdas/ports';
import { MYSQL_URL, PG_URL } from '../support/env';
import { dropDatabase, freshDatabase } from '../support/databases';

const PG_DDL = `CREATE TABLE typed (
  id integer PRIMARY KEY, n numeric(10,2), f double precision, b boolean, ts timestamp(6), tz timestamptz, d date, t time(6),
  bin bytea, u uuid, txt text, label varchar(20), doc json)`;
const MY_DDL = `CREATE TABLE typed (
  id INT PRIMARY KEY, n DECIMAL(12,3), f DOUBLE, b TINYINT(1), ts DATETIME(6), tz TIMESTAMP(6) NULL, d DATE, t TIME(6),
  bin LONGBLOB, u CHAR(36), txt TEXT COLLATE utf8mb4_general_ci, label ENUM('gold','silver'), doc JSON)`;

const ROWS = [
  "(1, 12.30, 0.5, true, '2026-01-02 03:04:05.123456', '2026-01-02 03:04:05.123456+00', '2026-01-02', '03:04:05.123456', 'abc', '0190f5a8-3a6b-7cc1-8f00-123456789abc', 'Hello', 'gold', '{\"a\":1,\"b\":[1,2]}')",
  "(2, NULL, NULL, false, NULL, NULL, NULL, NULL, NULL, NULL, '', 'silver', NULL)",
  "(3, -0.01, 1e10, NULL, '1999-12-31 23:59:59', '1999-12-31 23:59:59+00', '1999-12-31', '23:59:59', '', NULL, NULL, NULL, '{}')",
];

function insertSql(dialect: 'postgres' | 'mysql', rows: string[]): string {
  const fixed = rows.map((r) =>
    dialect === 'postgres'
      ? r.replace(/'(abc)'/, "'\\x616263'::bytea").replace(/, '',( NULL, NULL, NULL, '\{\}')/, ", ''::bytea,$1")
      : r.replace(/true/, '1').replace(/false/, '0').replace(/\+00'/g, "'"),
  );
  return `INSERT INTO typed VALUES ${fixed.join(', ')}`;
}

async function openPair(kind: string): Promise<{ source: SqlClient; target: SqlClient; close: () => Promise<void> }> {
  const tag = `${kind.replace(/\W/g, '')}_${process.pid}`;
  const mkPg = async (name: string) => {
    if (!PG_URL) {
      const db = await PGlite.create();
      await db.exec("SET TIME ZONE 'UTC'");
      return pgliteClient(db, name, () => db.close());
    }
    return postgresClient(await freshDatabase(PG_URL, name));
  };
  const mkMy = async (name: string) => mysqlClient(await freshDatabase(MYSQL_URL!, name, { charset: 'utf8mb4' }));
  const [a, b] = kind.split('->');
  const source = a === 'pg' ? await mkPg(`canon_s_${tag}`) : await mkMy(`canon_s_${tag}`);
  const target = b === 'pg' ? await mkPg(`canon_t_${tag}`) : await mkMy(`canon_t_${tag}`);
  for (const c of [source, target]) {
    await c.query(c.dialect === 'postgres' ? PG_DDL : MY_DDL);
    await c.query(insertSql(c.dialect, ROWS));
  }
  const drop = async () => {
    await source.close();
    await target.close();
    for (const base of [kind.includes('pg') ? PG_URL : undefined, kind.includes('my') ? MYSQL_URL : undefined])
      if (base) for (const n of [`canon_s_${tag}`, `canon_t_${tag}`]) await dropDatabase(base, n);
  };
  return { source, target, close: drop };
}

const exclude = (s: SqlClient, t: SqlClient) => (s.dialect !== t.dialect ? ['doc'] : []);

for (const kind of ['pg->pg', 'pg->my', 'my->pg', 'my->my']) {
  const needs = kind.includes('my') ? !!MYSQL_URL : true;
  describe.runIf(needs)(`canonical rules ${kind}`, () => {
    let c: Awaited<ReturnType<typeof openPair>>;
    beforeAll(async () => {
      c = await openPair(kind);
    });
    afterAll(() => c?.close());
    const run = () => compareTable({ source: c.source, target: c.target }, { table: 'typed', exclude: exclude(c.source, c.target) }, ['exact'], systemClock, { check: { recheckDelayMs: 5 } });

    it('identical rows hash equal, also across engines', async () => {
      const r = await run();
      expect(r.status).toBe('MATCH');
    });

    it('doubles compare exactly, also across engines: equal at every magnitude, and the last bit counts (0.30000000000000004 is not 0.3)', async () => {
      // Shortest round-trip values the engines print differently (1e+20 / 1e20, 1e-07 / 0.0000001) or only with 17 digits.
      const DOUBLES = ['0.30000000000000004', '1e20', '1e-7', '1.2345678901234568e20', '-2.5e-300', '5e-324', '1.7976931348623157e308', '123456.789', '-0.5', '100'];
      const rows = DOUBLES.map((v, i) => `(${100 + i}, ${v})`).join(', ');
      for (const s of [c.source, c.target]) await s.query(`INSERT INTO typed (id, f) VALUES ${rows}`);
      try {
        expect((await run()).status).toBe('MATCH');
        await c.target.query('UPDATE typed SET f = 0.3 WHERE id = 100');
        await c.target.query('UPDATE typed SET f = 1.2345678901234566e20 WHERE id = 103');
        const r = await run();
        expect(r.diffs.map((d) => [d.key, d.columns])).toEqual([
          ['100', ['f']],
          ['103', ['f']],
        ]);
      } finally {
        for (const s of [c.source, c.target]) await s.query('DELETE FROM typed WHERE id >= 100');
      }
    });

    it('NULL vs empty, scale, microseconds, one byte, case and trailing space each count; reordered json keys do not', async () => {
      const t = c.target;
      const my = t.dialect === 'mysql';
      await t.query("UPDATE typed SET txt = NULL WHERE id = 2");
      await t.query('UPDATE typed SET n = n + 0.01 WHERE id = 1');
      await t.query(my ? 'UPDATE typed SET ts = ts + INTERVAL 1 MICROSECOND WHERE id = 3' : "UPDATE typed SET ts = ts + interval '1 microsecond' WHERE id = 3");
      let r = await run();
      expect(r.diffs.map((d) => [d.key, d.columns])).toEqual([
        ['1', ['n']],
        ['2', ['txt']],
        ['3', ['ts']],
      ]);
      await t.query("UPDATE typed SET txt = '' WHERE id = 2");
      await t.query('UPDATE typed SET n = n - 0.01 WHERE id = 1');
      await t.query(my ? 'UPDATE typed SET ts = ts - INTERVAL 1 MICROSECOND WHERE id = 3' : "UPDATE typed SET ts = ts - interval '1 microsecond' WHERE id = 3");
      await t.query(my ? "UPDATE typed SET txt = 'hello', bin = 'abd' WHERE id = 1" : "UPDATE typed SET txt = 'hello', bin = '\\x616264'::bytea WHERE id = 1");
      await t.query("UPDATE typed SET txt = ' ' WHERE id = 2");
      if (c.source.dialect === t.dialect) await t.query(`UPDATE typed SET doc = '{"b":[1,2],"a":1}' WHERE id = 1`);
      r = await run();
      expect(r.diffs.map((d) => [d.key, d.columns])).toEqual([
        ['1', ['bin', 'txt']],
        ['2', ['txt']],
      ]);
    });
  });
}

describe('bad input: a clear error naming table and column', () => {
  let db: PGlite;
  let pgc: SqlClient;
  beforeAll(async () => {
    db = await PGlite.create();
    pgc = pgliteClient(db);
    await db.exec(`CREATE TABLE nokey (a int, b text); CREATE TABLE fkey (id float8 PRIMARY KEY);
      CREATE TABLE one (id int PRIMARY KEY, extra text, v text); CREATE TABLE two (id int PRIMARY KEY, v tsvector);
      CREATE TABLE three (id int PRIMARY KEY, v int);
      CREATE TABLE sep_a (id int PRIMARY KEY, a text, b text); CREATE TABLE sep_b (id int PRIMARY KEY, a text, b text);
      INSERT INTO sep_a VALUES (1, 'x|', 'y'), (2, NULL, ''), (3, '1:', 'z'); INSERT INTO sep_b VALUES (1, 'x', '|y'), (2, '', NULL), (3, '1', ':z');`);
  });
  afterAll(() => db?.close());
  const plan = (table: string, extra: Record<string, unknown> = {}) => buildTablePlan({ source: pgc, target: pgc }, { table, ...extra });

  it('values that move a separator between columns, or swap NULL and empty, still differ (the whole row hashed as the server prints it)', async () => {
    // Same types on both sides, every column in order: the row's own text; a column left out: ROW(...) of the rest.
    expect((await plan('sep_a', { targetTable: 'sep_b' })).wholeRow).toBe(true);
    expect((await plan('sep_a', { targetTable: 'sep_b', exclude: ['b'] })).wholeRow).toBeUndefined();
    const r = await compareTable({ source: pgc, target: pgc }, { table: 'sep_a', targetTable: 'sep_b' }, ['exact'], systemClock, { check: { recheckDelayMs: 1 } });
    expect(r.diffs.map((d) => [d.key, d.kind, d.columns])).toEqual([
      ['1', 'changed', ['a', 'b']],
      ['2', 'changed', ['a', 'b']],
      ['3', 'changed', ['a', 'b']],
    ]);
  });

  it('no primary key: named, unless a unique key is given', async () => {
    await expect(plan('nokey')).rejects.toThrow('nokey has no primary key on the source; expected a primary key, or "key"');
    await expect(plan('nokey', { key: ['a'] })).resolves.toMatchObject({ key: [{ name: 'a', kind: 'int' }] });
  });
  it('an unsupported key type', async () => {
    await expect(plan('fkey')).rejects.toThrow('fkey.id: a float8 key cannot be chunked');
  });
  it('a column missing on one side', async () => {
    await expect(plan('one', { targetTable: 'three' })).rejects.toThrow('one.extra exists on the source but not on the target three');
  });
  it('a type with no canonical form', async () => {
    await expect(plan('two')).rejects.toThrow(CanonicalError);
    await expect(plan('two')).rejects.toThrow('two.v has type tsvector, which cutline cannot canonicalize');
    await expect(plan('one', { targetTable: 'three', exclude: ['extra'] })).rejects.toThrow('one.v: source text (text) and target int4 (int) have no common canonical form');
  });
});
