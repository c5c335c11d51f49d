/**
 * The exact gate as a property, on real servers: random rows of every supported type (NULLs, '', separators and
 * multi-byte text, doubles at every magnitude, microseconds, binary) copied to the target compare equal; then one field
 * at a time is mutated on the target by the smallest change its type has (one ulp, one microsecond, one byte, case,
 * NULL vs '') and the gate must name that key and that column, every time — PostgreSQL->PostgreSQL, MariaDB->MariaDB
 * and PostgreSQL->MariaDB. Semantically equal values (json key order, one decimal at two scales) compare equal.
 * CI runs a seeded sample; `npm run test:property` the full size (PROPERTY_ROWS, PROPERTY_MUTATIONS, PROPERTY_SEED).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../lambdas/adapters/local/runtime';
import { mysqlClient } from '../../lambdas/adapters/local/sql-mysql';
import { postgresClient } from '../../lambdas/adapters/local/sql-postgres';
import type { SqlClient } from '../../lambdas/ports';
import { prng } from '../support/cli-run';
import { compareTable } from '../support/compare-table';
import { dropDatabase, freshDatabase } from '../support/databases';
import { MYSQL_URL, PG_URL } from '../support/env';

const ROWS = Number(process.env.PROPERTY_ROWS ?? 40);
const MUTATIONS = Number(process.env.PROPERTY_MUTATIONS ?? 12);
const SEED = Number(process.env.PROPERTY_SEED ?? 20261202);

type Engine = 'pg' | 'my';
/** One column: its type on each engine and its random values (null: SQL NULL). */
interface Col {
  readonly name: string;
  readonly pg: string;
  readonly my: string;
  readonly gen: (r: () => number) => Value;
  /** A different value, as small a change as the type has. */
  readonly mutate: (v: Value, r: () => number) => Value;
  /** Only within one engine (json key order and number text have no common form across engines yet). */
  readonly sameEngine?: boolean;
}
type Value = string | number | boolean | Uint8Array | Record<string, unknown> | null;

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const maybeNull = (r: () => number, v: () => Value): Value => (r() < 0.12 ? null : v());

/** The next double up (one ulp). */
function nextUp(x: number): number {
  const b = new DataView(new ArrayBuffer(8));
  b.setFloat64(0, x);
  const bits = b.getBigUint64(0);
  b.setBigUint64(0, x >= 0 ? bits + 1n : bits - 1n);
  return b.getFloat64(0);
}
const TEXT_PARTS = ['a', 'B', 'é', '漢', '|', ':', ' ', '1:', 'x|y', "'", 'Z'];
const text = (r: () => number) => Array.from({ length: Math.floor(r() * 6) }, () => pick(r, TEXT_PARTS)).join('');
const micros = (r: () => number) => String(Math.floor(r() * 1_000_000)).padStart(6, '0');
const stamp = (r: () => number) =>
  `20${String(10 + Math.floor(r() * 20))}-${String(1 + Math.floor(r() * 12)).padStart(2, '0')}-${String(1 + Math.floor(r() * 28)).padStart(2, '0')} ${String(Math.floor(r() * 24)).padStart(2, '0')}:${String(Math.floor(r() * 60)).padStart(2, '0')}:${String(Math.floor(r() * 60)).padStart(2, '0')}.${micros(r)}`;
const bumpMicro = (v: string) => v.replace(/\.(\d{6})$/, (_, us: string) => `.${String((Number(us) + 1) % 1_000_000).padStart(6, '0')}`);

const COLS: readonly Col[] = [
  { name: 'i', pg: 'integer', my: 'INT', gen: (r) => maybeNull(r, () => Math.floor(r() * 2e9) - 1e9), mutate: (v) => (v === null ? 0 : (v as number) + 1) },
  { name: 'big', pg: 'bigint', my: 'BIGINT', gen: (r) => maybeNull(r, () => String(BigInt(Math.floor(r() * 2 ** 53)) * 1024n - 2n ** 62n)), mutate: (v) => (v === null ? '0' : String(BigInt(v as string) + 1n)) },
  { name: 'amount', pg: 'numeric(14,3)', my: 'DECIMAL(14,3)', gen: (r) => maybeNull(r, () => (Math.floor(r() * 2e12) / 1000 - 1e9).toFixed(3)), mutate: (v) => (v === null ? '0.000' : (Number(v) + 0.001).toFixed(3)) },
  {
    name: 'dbl',
    pg: 'double precision',
    my: 'DOUBLE',
    gen: (r) => maybeNull(r, () => pick(r, [() => r() * 1e-300, () => (r() - 0.5) * 1e300, () => r(), () => Math.round(r() * 1e6), () => 0.1 + 0.2, () => -r() * 1e20])()),
    mutate: (v) => (v === null ? 0 : nextUp(v as number)),
  },
  { name: 'flag', pg: 'boolean', my: 'BOOLEAN', gen: (r) => maybeNull(r, () => r() < 0.5), mutate: (v) => (v === null ? false : !v) },
  { name: 'txt', pg: 'text', my: 'TEXT COLLATE utf8mb4_general_ci', gen: (r) => maybeNull(r, () => text(r)), mutate: (v) => (v === null ? '' : v === '' ? null : /[a-z]/.test(v as string) ? (v as string).replace(/[a-z]/, (c) => c.toUpperCase()) : `${v}|`) },
  { name: 'ts', pg: 'timestamp(6)', my: 'DATETIME(6)', gen: (r) => maybeNull(r, () => stamp(r)), mutate: (v, r) => (v === null ? stamp(r) : bumpMicro(v as string)) },
  { name: 'd', pg: 'date', my: 'DATE', gen: (r) => maybeNull(r, () => stamp(r).slice(0, 10)), mutate: (v) => (v === null ? '2020-02-29' : (v as string).replace(/-(\d\d)$/, (_, dd: string) => `-${String((Number(dd) % 28) + 1).padStart(2, '0')}`)) },
  { name: 't', pg: 'time(6)', my: 'TIME(6)', gen: (r) => maybeNull(r, () => stamp(r).slice(11)), mutate: (v, r) => (v === null ? stamp(r).slice(11) : bumpMicro(v as string)) },
  {
    name: 'bin',
    pg: 'bytea',
    my: 'VARBINARY(64)',
    gen: (r) => maybeNull(r, () => Uint8Array.from({ length: Math.floor(r() * 12) }, () => Math.floor(r() * 256))),
    mutate: (v) => {
      if (v === null) return new Uint8Array();
      const b = Uint8Array.from(v as Uint8Array);
      if (b.length === 0) return null;
      b[0] = (b[0]! + 1) % 256;
      return b;
    },
  },
  {
    name: 'doc',
    pg: 'jsonb',
    my: 'JSON',
    sameEngine: true,
    gen: (r) => maybeNull(r, () => ({ b: Math.floor(r() * 100), a: text(r), n: { y: r() < 0.5, x: [1, 2] } })),
    mutate: (v) => (v === null ? {} : { ...(v as Record<string, unknown>), b: Number((v as Record<string, unknown>).b) + 1 }),
  },
];

/** A value as a SQL literal of the engine. */
function literal(e: Engine, c: Col, v: Value): string {
  if (v === null) return 'NULL';
  const str = (s: string) => `'${(e === 'my' ? s.replace(/\\/g, '\\\\') : s).replace(/'/g, "''")}'`;
  if (v instanceof Uint8Array) return e === 'pg' ? `'\\x${Buffer.from(v).toString('hex')}'::bytea` : `X'${Buffer.from(v).toString('hex')}'`;
  if (typeof v === 'boolean') return e === 'pg' ? String(v) : v ? '1' : '0';
  if (typeof v === 'number') return c.name === 'dbl' ? (e === 'pg' ? `'${v}'::float8` : `${v}e0`.replace(/e([+-]?\d+)e0$/, 'e$1')) : String(v);
  if (typeof v === 'object') return str(JSON.stringify(v));
  // A 64-bit integer as a number literal (a string would reach MySQL's BIGINT through a double).
  if (c.name === 'big') return v;
  return str(v);
}

async function open(e: Engine, name: string): Promise<SqlClient> {
  return e === 'pg' ? postgresClient(await freshDatabase(PG_URL!, name)) : mysqlClient(await freshDatabase(MYSQL_URL!, name, { charset: 'utf8mb4' }));
}

for (const pair of ['pg->pg', 'my->my', 'pg->my'] as const) {
  const [se, te] = pair.split('->') as [Engine, Engine];
  const cols = COLS.filter((c) => se === te || !c.sameEngine);
  describe.runIf(!!PG_URL && (!pair.includes('my') || !!MYSQL_URL))(`exact gate as a property ${pair} (seed ${SEED}, ${ROWS} rows, ${MUTATIONS} mutations)`, () => {
    const tag = `prop_${pair.replace(/\W/g, '')}_${process.pid}`;
    let source: SqlClient;
    let target: SqlClient;
    const r = prng(SEED);
    const rows = Array.from({ length: ROWS }, (_, i) => ({ id: i + 1, values: cols.map((c) => c.gen(r)) }));
    const insert = (e: Engine, rs: typeof rows) =>
      `INSERT INTO prop (id, ${cols.map((c) => c.name).join(', ')}) VALUES ${rs.map((x) => `(${x.id}, ${x.values.map((v, i) => literal(e, cols[i]!, v)).join(', ')})`).join(', ')}`;
    const ddl = (e: Engine) => `CREATE TABLE prop (id integer PRIMARY KEY, ${cols.map((c) => `${c.name} ${e === 'pg' ? c.pg : c.my}`).join(', ')})`;
    const gate = () => compareTable({ source, target }, { table: 'prop' }, ['exact'], systemClock, { check: { recheckDelayMs: 1 }, plan: { initialRows: 16, minRows: 8 } });

    beforeAll(async () => {
      source = await open(se, `${tag}_s`);
      target = await open(te, `${tag}_t`);
      for (const [c, e] of [
        [source, se],
        [target, te],
      ] as const) {
        await c.query(ddl(e));
        await c.query(insert(e, rows));
      }
    }, 60_000);
    afterAll(async () => {
      await source?.close();
      await target?.close();
      for (const [e, n] of [
        [se, `${tag}_s`],
        [te, `${tag}_t`],
      ] as const)
        await dropDatabase(e === 'pg' ? PG_URL! : MYSQL_URL!, n);
    });

    it('equal rows compare equal', async () => {
      const out = await gate();
      expect(out.status, JSON.stringify(out.diffs)).toBe('MATCH');
    });

    it('every single-field mutation is found, naming its key and its column', async () => {
      const missed: string[] = [];
      for (let m = 0; m < MUTATIONS; m++) {
        const row = pick(r, rows);
        const ci = Math.floor(r() * cols.length);
        const col = cols[ci]!;
        const before = row.values[ci]!;
        const after = col.mutate(before, r);
        await target.query(`UPDATE prop SET ${col.name} = ${literal(te, col, after)} WHERE id = ${row.id}`);
        const out = await gate();
        const got = out.diffs.map((d) => `${d.key}:${(d.columns ?? []).join(',')}`);
        if (got.join(' ') !== `${row.id}:${col.name}`) missed.push(`${col.name} of ${row.id}: ${JSON.stringify(before)} -> ${JSON.stringify(after)} gave ${JSON.stringify(got)}`);
        await target.query(`UPDATE prop SET ${col.name} = ${literal(te, col, before)} WHERE id = ${row.id}`);
      }
      expect(missed).toEqual([]);
      expect((await gate()).status).toBe('MATCH');
    }, 120_000);

    it.runIf(se === te)('semantically equal values compare equal: json with its keys in another order', async () => {
      const row = rows.find((x) => x.values[cols.findIndex((c) => c.name === 'doc')] !== null)!;
      const doc = row.values[cols.findIndex((c) => c.name === 'doc')] as Record<string, unknown>;
      const reordered = Object.fromEntries(Object.entries(doc).reverse());
      await target.query(`UPDATE prop SET doc = ${literal(te, cols.find((c) => c.name === 'doc')!, reordered)} WHERE id = ${row.id}`);
      expect((await gate()).status).toBe('MATCH');
    });
  });
}

describe.runIf(!!PG_URL && !!MYSQL_URL)('exact gate: one decimal at two scales, PostgreSQL->MariaDB', () => {
  it('numeric(12,3) 1.5 equals DECIMAL(14,5) 1.50000; 1.501 does not', async () => {
    const tag = `prop_scale_${process.pid}`;
    const source = await open('pg', `${tag}_s`);
    const target = await open('my', `${tag}_t`);
    try {
      await source.query('CREATE TABLE prop (id integer PRIMARY KEY, n numeric(12,3))');
      await target.query('CREATE TABLE prop (id INT PRIMARY KEY, n DECIMAL(14,5))');
      await source.query('INSERT INTO prop VALUES (1, 1.5), (2, -0.001), (3, NULL)');
      await target.query('INSERT INTO prop VALUES (1, 1.50000), (2, -0.00100), (3, NULL)');
      const gate = () => compareTable({ source, target }, { table: 'prop' }, ['exact'], systemClock, { check: { recheckDelayMs: 1 } });
      expect((await gate()).status).toBe('MATCH');
      await target.query('UPDATE prop SET n = 1.50001 WHERE id = 1');
      expect((await gate()).diffs.map((d) => [d.key, d.columns])).toEqual([['1', ['n']]]);
    } finally {
      await source.close();
      await target.close();
      await dropDatabase(PG_URL!, `${tag}_s`);
      await dropDatabase(MYSQL_URL!, `${tag}_t`);
    }
  });
});
