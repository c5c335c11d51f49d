/**
 * Gate benchmark: 1,000,000-row tables (pgbench_accounts-like and a
 * 10-column mixed-type one) and a 200,000-row production-like one (wide:
 * json, binary, decimal, double, microsecond timestamps, long text, a
 * case-insensitive collation on MariaDB) on real PostgreSQL and MariaDB,
 * source and target copies on the same server. Ratios, all in this process:
 *   exact gate end to end (both sides, all chunks, through SqlClient)
 *     / the same 60-bit md5 slice sums over the server's own row text
 *       (PostgreSQL t::text, MariaDB CONCAT_WS of the columns), one statement
 *       per side, both sides at once (exact_vs_plain_md5)
 *     / one server-side statement of cutline's own row hash (exact_vs_server_hash)
 *   fast gate / plain count(*)
 *   MariaDB: exact gate / pt-table-checksum on the same table
 * and peak RSS of this process after 1M and after 5M rows.
 */
import { execFileSync } from 'node:child_process';
import { systemClock } from '../lambdas/adapters/local/runtime';
import { mysqlClient } from '../lambdas/adapters/local/sql-mysql';
import { postgresClient } from '../lambdas/adapters/local/sql-postgres';
import { md5Of, sliceSums } from '../lambdas/core/compare/canonical';
import { checksumSql } from '../lambdas/core/compare/checksum';
import { DEFAULT_PLAN, planChunks } from '../lambdas/core/compare/chunks';
import { checkChunk, DEFAULT_CHECK, type Method } from '../lambdas/core/compare/gate';
import { buildTablePlan } from '../lambdas/core/compare/table-plan';
import { mapLimit } from '../lambdas/core/concurrency';
import { quoteIdent } from '../lambdas/core/sql-builders';
import type { SqlClient } from '../lambdas/ports';
import type { Figure } from './run';

const PG_URL = process.env.CUTLINE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const MYSQL_URL = process.env.CUTLINE_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
/** Rows of the table that checks runner memory stays flat (0 skips it). */
const BIG = Number(process.env.BENCH_BIG_ROWS ?? 5_000_000);

const log = (m: string) => process.stderr.write(`${m}\n`);
const secs = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;
const rss = () => Math.round(process.resourceUsage().maxRSS / 1024);
const TABLES = ['accounts', 'mixed', 'wide'] as const;
/** Chunks the gate checks at once (each on both sides). */
const CONCURRENCY = 2;
/** The production-like table is a fifth of the narrow ones (200,000 rows at the default). */
const wideRows = (rows: number) => Math.max(1, Math.round(rows / 5));
const rowsOf = (t: (typeof TABLES)[number]) => (t === 'wide' ? wideRows(ROWS) : ROWS);

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = process.hrtime.bigint();
  const r = await fn();
  return [r, secs(t0)];
}

/** Best of n: shared machines are noisy, the minimum is the least disturbed run. */
async function best(n: number, fn: () => Promise<unknown>): Promise<number> {
  let m = Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) m = Math.min(m, (await timed(fn))[1]);
  return m;
}

async function setupPg(c: SqlClient, rows: number, big: boolean) {
  for (const s of ['bench_src', 'bench_dst']) {
    await c.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
    await c.query(`CREATE SCHEMA ${s}`);
  }
  await c.query('CREATE TABLE bench_src.accounts (aid int PRIMARY KEY, bid int NOT NULL, abalance int NOT NULL, filler char(84))');
  await c.query(`INSERT INTO bench_src.accounts SELECT g, (g - 1) / 100000 + 1, 0, '' FROM generate_series(1, ${rows}) g`);
  await c.query(`CREATE TABLE bench_src.mixed (id bigint PRIMARY KEY, i int, b bigint, n numeric(12,2), f double precision, t text, ts timestamp(6), d date, flag boolean, u uuid)`);
  await c.query(
    `INSERT INTO bench_src.mixed SELECT g, g % 1000, g::bigint * 7919, (g % 100000) / 100.0, g / 7.0, 'customer-' || (g % 5000) || '-' || md5(g::text), timestamp '2026-01-01' + g * interval '1 second', date '2020-01-01' + (g % 2000), g % 2 = 0, md5(g::text)::uuid FROM generate_series(1, ${rows}) g`,
  );
  await c.query(
    'CREATE TABLE bench_src.wide (id bigint PRIMARY KEY, amount numeric(18,4), ratio double precision, doc jsonb, payload bytea, created timestamptz(6), updated timestamp(6), note text, name varchar(100), status text, flag boolean, ref uuid)',
  );
  await c.query(
    `INSERT INTO bench_src.wide SELECT g, (g % 1000000) / 10000.0, g / 3.0, jsonb_build_object('user', g, 'tags', jsonb_build_array('a', g % 7), 'score', g / 8.0), decode(md5(g::text) || md5((g + 1)::text), 'hex'), timestamptz '2026-01-01 00:00:00+00' + g * interval '1.000001 second', timestamp '2025-06-01' + g * interval '17 second', repeat(md5(g::text), 12), 'Customer ' || (g % 9000), (ARRAY['active', 'closed', 'pending'])[1 + g % 3], g % 3 = 0, md5((g * 31)::text)::uuid FROM generate_series(1, ${wideRows(rows)}) g`,
  );
  for (const t of TABLES) {
    await c.query(`CREATE TABLE bench_dst.${t} (LIKE bench_src.${t} INCLUDING ALL)`);
    await c.query(`INSERT INTO bench_dst.${t} SELECT * FROM bench_src.${t}`);
  }
  if (big) {
    await c.query(`CREATE TABLE bench_src.accounts_big (aid int PRIMARY KEY, bid int NOT NULL, abalance int NOT NULL, filler char(84))`);
    await c.query(`INSERT INTO bench_src.accounts_big SELECT g, (g - 1) / 100000 + 1, 0, '' FROM generate_series(1, ${BIG}) g`);
    await c.query(`CREATE TABLE bench_dst.accounts_big (LIKE bench_src.accounts_big INCLUDING ALL)`);
    await c.query(`INSERT INTO bench_dst.accounts_big SELECT * FROM bench_src.accounts_big`);
  }
  await c.query('VACUUM ANALYZE');
}

async function setupMaria(c: SqlClient, rows: number) {
  for (const s of ['bench_src', 'bench_dst']) {
    await c.query(`DROP DATABASE IF EXISTS ${s}`);
    await c.query(`CREATE DATABASE ${s} CHARACTER SET utf8mb4`);
  }
  await c.query('CREATE TABLE bench_src.accounts (aid INT PRIMARY KEY, bid INT NOT NULL, abalance INT NOT NULL, filler CHAR(84)) ENGINE=InnoDB');
  await c.query(`INSERT INTO bench_src.accounts SELECT seq, (seq - 1) DIV 100000 + 1, 0, '' FROM seq_1_to_${rows}`);
  await c.query('CREATE TABLE bench_src.mixed (id BIGINT PRIMARY KEY, i INT, b BIGINT, n DECIMAL(12,2), f DOUBLE, t TEXT, ts DATETIME(6), d DATE, flag BOOLEAN, u CHAR(36)) ENGINE=InnoDB');
  await c.query(
    `INSERT INTO bench_src.mixed SELECT seq, seq % 1000, seq * 7919, (seq % 100000) / 100.0, seq / 7.0, CONCAT('customer-', seq % 5000, '-', MD5(seq)), TIMESTAMP '2026-01-01 00:00:00' + INTERVAL seq SECOND, DATE '2020-01-01' + INTERVAL (seq % 2000) DAY, seq % 2 = 0, UUID() FROM seq_1_to_${rows}`,
  );
  await c.query(
    'CREATE TABLE bench_src.wide (id BIGINT PRIMARY KEY, amount DECIMAL(18,4), ratio DOUBLE, doc JSON, payload VARBINARY(64), created TIMESTAMP(6) NULL, updated DATETIME(6), note TEXT, name VARCHAR(100) COLLATE utf8mb4_general_ci, status VARCHAR(20), flag BOOLEAN, ref CHAR(36)) ENGINE=InnoDB',
  );
  await c.query(
    `INSERT INTO bench_src.wide SELECT seq, (seq % 1000000) / 10000.0, seq / 3e0, JSON_OBJECT('user', seq, 'tags', JSON_ARRAY('a', seq % 7), 'score', seq / 8.0), UNHEX(CONCAT(MD5(seq), MD5(seq + 1))), TIMESTAMP '2026-01-01 00:00:00' + INTERVAL seq * 1000001 MICROSECOND, TIMESTAMP '2025-06-01 00:00:00' + INTERVAL seq * 17 SECOND, REPEAT(MD5(seq), 12), CONCAT('Customer ', seq % 9000), ELT(1 + seq % 3, 'active', 'closed', 'pending'), seq % 3 = 0, UUID() FROM seq_1_to_${wideRows(rows)}`,
  );
  for (const t of TABLES) {
    await c.query(`CREATE TABLE bench_dst.${t} LIKE bench_src.${t}`);
    await c.query(`INSERT INTO bench_dst.${t} SELECT * FROM bench_src.${t}`);
  }
}

/** cutline's own row hash over the whole table, as one statement (the gate's chunk statement, the range open). */
async function serverHash(c: SqlClient, table: string, targetTable: string): Promise<string> {
  const plan = await buildTablePlan({ source: c, target: c }, { table, targetTable });
  const q = checksumSql(plan, 'source', { lo: null, hi: null });
  const r = (await c.query(q.sql, q.params)).rows[0]!;
  return `${r.n}/${r.s1}/${r.s2}`;
}

/**
 * The baseline of exact_vs_plain_md5: the same slice sums over the server's own row text (PostgreSQL's t::text;
 * MariaDB's CONCAT_WS of the columns, as pt-table-checksum composes it), one statement per side, both sides at once.
 */
async function plainMd5(c: Clients, table: string, targetTable: string): Promise<string> {
  const one = async (client: SqlClient, name: string) => {
    const d = client.dialect;
    const sums = sliceSums(d, 'h');
    // The whole row by its alias (a column named like the alias would be read instead: mixed has a column t).
    let text = 'cutline_row::text';
    if (d !== 'postgres') {
      const [schema = '', bare = ''] = name.split('.');
      const cols = await client.query('SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = :schema AND TABLE_NAME = :bare ORDER BY ORDINAL_POSITION', { schema, bare });
      text = `CONCAT_WS('|', ${cols.rows.map((r) => quoteIdent(String(r.c), d)).join(', ')})`;
    }
    const q = `SELECT ${d === 'postgres' ? 'count(*)::text' : 'CAST(COUNT(*) AS CHAR)'} AS n, ${sums.s1} AS s1, ${sums.s2} AS s2 FROM (SELECT ${md5Of(d, text)} AS h FROM ${quoteIdent(name, d)} cutline_row${d === 'postgres' ? ' OFFSET 0' : ''}) q`;
    const r = (await client.query(q)).rows[0]!;
    return `${r.n}/${r.s1}/${r.s2}`;
  };
  const [a, b] = await Promise.all([one(c.source, table), one(c.target, targetTable)]);
  if (a !== b) throw new Error(`bench tables differ by their plain md5: ${a} vs ${b}`);
  return a;
}

type Clients = { source: SqlClient; target: SqlClient };

/** GatePlan: catalog + chunk plan on the source (shared by the fast and exact gates of a run). */
async function planFor(c: Clients, table: string, targetTable: string, sampleWith: Method) {
  const plan = await buildTablePlan(c, { table, targetTable });
  // Sized under the concurrency the gate runs chunks at (both sides of CONCURRENCY chunks at once).
  const planned = await planChunks(c.source, plan, systemClock, { ...DEFAULT_PLAN, initialRows: 20_000, maxRows: 1_000_000, targetSeconds: 0.5, sampleWith, concurrency: 2 * CONCURRENCY });
  return { plan, chunks: planned.chunks };
}

/** Every chunk on both sides, over a plan. */
async function checkAll(c: Clients, p: Awaited<ReturnType<typeof planFor>>, method: Method, concurrency: number) {
  const checks = await mapLimit(p.chunks, concurrency, (ch) => checkChunk(c, p.plan, ch, method, systemClock, DEFAULT_CHECK));
  const bad = checks.filter((x) => x.status !== 'MATCH');
  if (bad.length) throw new Error(`bench tables differ: ${JSON.stringify(bad[0])}`);
  return { chunks: p.chunks.length, rows: checks.reduce((n, x) => n + Number(x.source.n), 0) };
}

/** The exact gate end to end: plan, then every chunk on both sides. */
async function gate(c: Clients, table: string, targetTable: string, method: Method, concurrency: number) {
  return checkAll(c, await planFor(c, table, targetTable, method), method, concurrency);
}

export async function benchGates(): Promise<{ figures: Figure[]; ratios: Figure[] }> {
  const figures: Figure[] = [];
  const ratios: Figure[] = [];
  const concurrency = CONCURRENCY;
  const engines = (process.env.BENCH_ENGINES ?? 'pg,maria').split(',') as ('pg' | 'maria')[];
  for (const engine of engines) {
    const url = engine === 'pg' ? PG_URL : MYSQL_URL;
    const mk = () => (engine === 'pg' ? postgresClient(url, { max: 8 }) : mysqlClient(url, { max: 8 }));
    const admin = mk();
    log(`${engine}: loading ${ROWS} rows x 2 tables x 2 sides${engine === 'pg' ? ` and ${BIG} rows for the memory check` : ''} ...`);
    const [, loadS] = await timed(() => (engine === 'pg' ? setupPg(admin, ROWS, BIG > 0) : setupMaria(admin, ROWS)));
    log(`${engine}: loaded in ${loadS.toFixed(1)}s`);
    const source = mk();
    const target = mk();
    const c = { source, target };
    const tables = (process.env.BENCH_TABLES ?? TABLES.join(',')).split(',') as (typeof TABLES)[number][];
    const exactRates: Record<string, number> = {};
    for (const t of tables) {
      const src = `bench_src.${t}`;
      const dst = `bench_dst.${t}`;
      const plainS = await best(2, () => plainMd5(c, src, dst));
      const hashS = await best(2, () => serverHash(admin, src, dst));
      const countS = await best(2, () => admin.query(`SELECT count(*) AS n FROM ${quoteIdent(src, admin.dialect)}`));
      const exactS = await best(2, () => gate(c, src, dst, 'exact', concurrency));
      const shared = await planFor(c, src, dst, 'fast');
      const planS = await best(2, () => planFor(c, src, dst, 'fast'));
      const fastS = await best(2, () => checkAll(c, shared, 'fast', concurrency));
      const p = `${engine}.${t}`;
      const rows = rowsOf(t);
      exactRates[t] = (2 * rows) / exactS;
      figures.push({ name: `${p}.plain_md5_s`, value: +plainS.toFixed(3), unit: 's', note: "the server's own row text, both sides at once" });
      figures.push({ name: `${p}.server_hash_s`, value: +hashS.toFixed(3), unit: 's' });
      figures.push({ name: `${p}.exact_gate_s`, value: +exactS.toFixed(3), unit: 's', note: 'both sides, all chunks' });
      figures.push({ name: `${p}.exact_rows_per_s`, value: Math.round(exactRates[t]), unit: 'rows/s', note: 'rows hashed on both sides' });
      ratios.push({ name: `${p}.exact_vs_plain_md5`, value: +(exactS / plainS).toFixed(2), unit: 'x', note: 'goal <= 1.25' });
      figures.push({ name: `${p}.count_s`, value: +countS.toFixed(3), unit: 's' });
      figures.push({ name: `${p}.plan_s`, value: +planS.toFixed(3), unit: 's', note: `chunk plan (${shared.chunks.length} chunks), made once per run and shared by both gates` });
      figures.push({ name: `${p}.fast_gate_s`, value: +fastS.toFixed(3), unit: 's', note: 'counts on both sides over the plan' });
      ratios.push({ name: `${p}.exact_vs_server_hash`, value: +(exactS / hashS).toFixed(2), unit: 'x', note: 'goal <= 1.25' });
      ratios.push({ name: `${p}.fast_vs_count`, value: +(fastS / countS).toFixed(2), unit: 'x', note: 'goal <= 1.5' });
      if (engine === 'maria') {
        const u = new URL(MYSQL_URL);
        const pt = await best(1, async () => {
          execFileSync(
            'pt-table-checksum',
            [
              `h=${u.hostname},P=${u.port || 3306},u=${u.username || 'root'}`,
              `--databases=bench_src`,
              `--tables=${t}`,
              '--replicate=bench_src.pt_checksums',
              '--recursion-method=none',
              '--no-check-binlog-format',
              '--no-check-replication-filters',
              '--chunk-time=0.5',
              '--quiet',
            ],
            { stdio: ['ignore', 'ignore', 'pipe'] },
          );
        }).catch((e) => {
          log(`pt-table-checksum failed: ${(e as Error).message.split('\n')[0]}`);
          return Number.NaN;
        });
        if (!Number.isNaN(pt)) {
          figures.push({ name: `${p}.pt_table_checksum_s`, value: +pt.toFixed(3), unit: 's', note: 'one side' });
          ratios.push({ name: `${p}.exact_vs_pt_table_checksum`, value: +(exactS / pt).toFixed(2), unit: 'x', note: 'ours covers both sides' });
        }
      }
      log(`${p}: exact ${exactS.toFixed(2)}s vs plain md5 ${plainS.toFixed(2)}s, server hash ${hashS.toFixed(2)}s; fast ${fastS.toFixed(2)}s vs count ${countS.toFixed(2)}s`);
    }
    if (exactRates.wide && exactRates.accounts)
      ratios.push({ name: `${engine}.wide_rows_per_s_vs_accounts`, value: +(exactRates.wide / exactRates.accounts).toFixed(2), unit: 'x', note: 'goal >= 0.5 (within 2x of the narrow table)' });
    if (engine === 'pg' && BIG > 0) {
      const before = rss();
      figures.push({ name: 'rss_mb_after_1M', value: before, unit: 'MB', note: 'peak RSS of the runner' });
      await gate(c, 'bench_src.accounts_big', 'bench_dst.accounts_big', 'exact', concurrency);
      figures.push({ name: 'rss_mb_after_5M', value: rss(), unit: 'MB', note: 'peak RSS after a 5M-row exact gate' });
      ratios.push({ name: 'rss.5M_vs_1M', value: +(rss() / before).toFixed(2), unit: 'x', note: 'flat: close to 1' });
    }
    if (engine === 'pg') {
      await admin.query('DROP SCHEMA bench_src CASCADE');
      await admin.query('DROP SCHEMA bench_dst CASCADE');
    } else {
      await admin.query('DROP DATABASE bench_src');
      await admin.query('DROP DATABASE bench_dst');
    }
    await Promise.all([source.close(), target.close(), admin.close()]);
  }
  return { figures, ratios };
}
