/**
 * The integer -> UUID recipe, planned from the catalog and run end to end on
 * Sakila: real PostgreSQL (expand, backfill, verify, the primary-key swap
 * after the go, validate) and real MariaDB (expand, backfill, verify).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/commands';
import { EXIT } from '../../cli/io';
import { runLocal } from '../../cli/runner/run';
import { mysqlClient } from '../../lambdas/adapters/local/sql-mysql';
import { postgresClient } from '../../lambdas/adapters/local/sql-postgres';
import { splitStatements } from '../../lambdas/core/sql-lexer';
import type { SqlClient } from '../../lambdas/ports';
import { MYSQL_URL, PG_URL } from '../support/env';
import { readJson, tempDir } from '../support/local-run';
import { dropDatabase, freshDatabase, pgUrlFor } from '../support/databases';
import { loadSakilaPg, portSakilaToMaria } from '../support/sakila';

const JOIN_INT = `SELECT r.rental_id, i.inventory_id, f.title, c.last_name FROM rental r JOIN inventory i ON i.inventory_id = r.inventory_id JOIN film f ON f.film_id = i.film_id JOIN customer c ON c.customer_id = r.customer_id`;
const JOIN_UUID = `SELECT r.rental_id, i.inventory_id, f.title, c.last_name FROM rental r JOIN inventory i ON i.inventory_uuid = r.inventory_uuid JOIN film f ON f.film_uuid = i.film_uuid JOIN customer c ON c.customer_uuid = r.customer_uuid`;
const TABLES = ['actor', 'address', 'category', 'city', 'country', 'customer', 'film', 'film_actor', 'film_category', 'inventory', 'language', 'payment', 'rental', 'staff', 'store'];

async function joinDigest(c: SqlClient, sql: string): Promise<string> {
  const { rows } = await c.query(`${sql} ORDER BY 1`);
  return JSON.stringify(rows.map((r) => [String(r.rental_id), String(r.inventory_id), r.title, r.last_name]));
}
async function counts(c: SqlClient): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const t of TABLES) out[t] = String((await c.query(`SELECT count(*) AS n FROM ${t}`)).rows[0]!.n);
  return out;
}

async function planAndRun(url: string, runId: string, extra: string[] = []) {
  const dir = await tempDir('cutline-uuid-');
  const t = { out: [] as string[], err: [] as string[] };
  const code = await main(['plan', 'uuid', '--source-url', url, '--out', dir, '--batch-size', '4000', '--json', ...extra], { out: (l) => t.out.push(l), err: (l) => t.err.push(l), env: {} });
  expect(code, t.err.join('\n')).toBe(EXIT.OK);
  const fragment = JSON.parse(await readFile(path.join(dir, 'spec.fragment.json'), 'utf8'));
  fragment.migrations.location = path.join(dir, fragment.migrations.location);
  if (fragment.migrations.contractLocation) fragment.migrations.contractLocation = path.join(dir, fragment.migrations.contractLocation);
  const spec = { version: 1, runId, owner: 'dba@example.com', tCutover: '2026-11-21T02:00:00Z', source: { engine: url.startsWith('mysql') ? 'mysql' : 'postgres', url }, ...fragment };
  const r = await runLocal({ spec, evidenceDir: await tempDir(), workDir: await tempDir('cutline-work-'), approval: { kind: 'auto', decision: 'approve', approver: 'dba', comment: '' }, out: () => {} });
  return { r, summary: JSON.parse(t.out.join('\n')), dir };
}

describe.runIf(!!PG_URL)('Sakila on PostgreSQL: every integer key -> UUID', () => {
  const db = `cutline_uuid_pg_${process.pid}`;
  let c: SqlClient;
  let before: { counts: Record<string, string>; join: string };
  beforeAll(async () => {
    await loadSakilaPg(PG_URL!, db);
    c = postgresClient(pgUrlFor(PG_URL!, db));
    before = { counts: await counts(c), join: await joinDigest(c, JOIN_INT) };
  }, 120_000);
  afterAll(async () => {
    await c?.close();
    await dropDatabase(PG_URL!, db);
  });

  it('plans, runs to GO, and the data is the same data under new keys; the rollback file runs twice in a row, and the swap runs again after it', async () => {
    const { r, summary, dir } = await planAndRun(pgUrlFor(PG_URL!, db), 'uuid-sakila-pg');
    expect(summary.parents).toBe(15);
    expect(summary.compositeKeys).toEqual(['film_actor', 'film_category']);
    expect(summary.groups).toHaveLength(1); // store <-> staff and everything they reach: one swap
    expect([r.outcome, r.classification], r.reason).toEqual(['GO', 'GO']);
    expect(await counts(c)).toEqual(before.counts);
    expect(await joinDigest(c, JOIN_INT)).toBe(before.join);
    expect(await joinDigest(c, JOIN_UUID)).toBe(before.join);
    const fks = (await c.query("SELECT conname, convalidated FROM pg_constraint WHERE contype = 'f' AND connamespace = to_regnamespace('public') AND conrelid::regclass::text NOT LIKE 'payment_p%'")).rows;
    expect(fks.length).toBeGreaterThanOrEqual(44); // the legacy keys and their uuid twins
    expect(fks.filter((f) => f.convalidated !== true)).toEqual([]);
    const pk = (await c.query("SELECT a.attname AS col FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] WHERE i.indrelid = 'rental'::regclass AND i.indisprimary")).rows[0];
    expect(pk!.col).toBe('rental_uuid');
    // a composite key: a surrogate uuid primary key, the composite kept unique
    const filmActor = (await c.query("SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'film_actor'::regclass AND contype IN ('p', 'u') ORDER BY contype, 1")).rows.map((x) => x.def);
    expect(filmActor).toEqual(['PRIMARY KEY (film_actor_uuid)', 'UNIQUE (actor_id, film_id)', 'UNIQUE (film_actor_uuid)']);
    const mapped = (await c.query('SELECT (SELECT count(*) FROM cutline_uuid_map_rental) = (SELECT count(*) FROM rental) AS complete')).rows[0];
    expect(mapped!.complete).toBe(true);
    const verify = await readJson(path.join(r.evidenceDir, '06_verify.json'));
    expect(verify.details.assertions.every((a: { ok: boolean }) => a.ok)).toBe(true);
    expect(verify.details.assertions.length).toBeGreaterThan(40);

    // The generated rollback, twice in a row (a rollback retried after a partial run must not fail on what it already did).
    const pkOf = async (table: string) =>
      (await c.query(`SELECT a.attname AS col FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] WHERE i.indrelid = '${table}'::regclass AND i.indisprimary`)).rows[0]!.col;
    const runFile = async (file: string) => {
      for (const st of splitStatements(await readFile(file, 'utf8'), 'postgres')) await c.query(st.sql);
    };
    const rollback = path.join(dir, 'rollback', 'R1__uuid_swap_group_1.sql');
    await runFile(rollback);
    expect(await pkOf('rental')).toBe('rental_id');
    await runFile(rollback);
    expect(await pkOf('rental')).toBe('rental_id');
    expect(await joinDigest(c, JOIN_INT)).toBe(before.join);
    // and the swap can be run again after the rollback (the indexes it turns into constraints are rebuilt if gone)
    const contract = (await readdir(path.join(dir, 'contract'))).sort();
    for (const f of contract) await runFile(path.join(dir, 'contract', f));
    expect(await pkOf('rental')).toBe('rental_uuid');
    expect(await joinDigest(c, JOIN_UUID)).toBe(before.join);
  }, 300_000);
});

describe.runIf(!!PG_URL && !!MYSQL_URL)('Sakila on MariaDB: every integer key -> BINARY(16) uuid', () => {
  const pgDb = `cutline_uuid_src_${process.pid}`;
  const myDb = `cutline_uuid_my_${process.pid}`;
  let c: SqlClient;
  let before: { counts: Record<string, string>; join: string };
  beforeAll(async () => {
    await loadSakilaPg(PG_URL!, pgDb);
    const pgc = postgresClient(pgUrlFor(PG_URL!, pgDb));
    const admin = mysqlClient(MYSQL_URL!);
    await portSakilaToMaria(pgc, MYSQL_URL!, myDb, admin, { foreignKeys: true });
    await admin.close();
    await pgc.close();
    c = mysqlClient(pgUrlFor(MYSQL_URL!, myDb));
    before = { counts: await counts(c), join: await joinDigest(c, JOIN_INT) };
  }, 180_000);
  afterAll(async () => {
    await c?.close();
    await dropDatabase(MYSQL_URL!, myDb);
    await dropDatabase(PG_URL!, pgDb);
  });

  it('plans, runs to GO: counts unchanged, no orphans, mapping complete, the join gives the same rows through uuid columns', async () => {
    const { r, summary, dir } = await planAndRun(pgUrlFor(MYSQL_URL!, myDb), 'uuid-sakila-my');
    expect(summary.parents).toBe(15);
    expect([r.outcome, r.classification], r.reason).toEqual(['GO', 'GO']);
    expect(await counts(c)).toEqual(before.counts);
    expect(await joinDigest(c, JOIN_UUID)).toBe(before.join);
    const verify = await readJson(path.join(r.evidenceDir, '06_verify.json'));
    const names = verify.details.assertions.map((a: { name: string }) => a.name);
    expect(names).toContain('integrity: no orphans rental(inventory_id) -> inventory');
    expect(names).toContain("rental.inventory_uuid equals its inventory's");
    expect(names).toContain('rental: mapping complete');
    expect(verify.details.assertions.filter((a: { ok: boolean }) => !a.ok)).toEqual([]);
    // the swap ran after the go, statement by statement: uuid primary keys, both kinds of foreign keys enforced
    const pk = (await c.query("SELECT COLUMN_NAME AS col FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'rental' AND CONSTRAINT_NAME = 'PRIMARY'")).rows;
    expect(pk.map((x) => x.col)).toEqual(['rental_uuid']);
    const fks = (await c.query("SELECT CONSTRAINT_NAME AS n FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = 'rental' ORDER BY 1")).rows.map((x) => String(x.n));
    expect(fks).toEqual(['rental_customer_id_fkey', 'rental_customer_id_fkey_uuid', 'rental_inventory_id_fkey', 'rental_inventory_id_fkey_uuid', 'rental_staff_id_fkey', 'rental_staff_id_fkey_uuid']);
    expect(await joinDigest(c, JOIN_INT)).toBe(before.join);

    // The generated rollback as an operator runs it (`mysql db < R1….sql`, one session), twice in a row: MySQL 8 has
    // no DROP FOREIGN KEY IF EXISTS, so each statement is guarded by the catalog.
    const u = new URL(MYSQL_URL!);
    const rollback = path.join(dir, 'rollback', 'R1__uuid_swap_group_1.sql');
    const mysql = () => execFileSync('mysql', ['-h', u.hostname, '-P', u.port || '3306', '-u', decodeURIComponent(u.username), myDb], { input: readFileSync(rollback) });
    const pkOf = async (table: string) =>
      (await c.query(`SELECT COLUMN_NAME AS col FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '${table}' AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION`)).rows.map((x) => x.col);
    mysql();
    expect(await pkOf('rental')).toEqual(['rental_id']);
    expect(await pkOf('film_actor')).toEqual(['actor_id', 'film_id']);
    mysql();
    expect(await pkOf('rental')).toEqual(['rental_id']);
    const after = (await c.query("SELECT CONSTRAINT_NAME AS n FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = 'rental' ORDER BY 1")).rows.map((x) => String(x.n));
    expect(after).toEqual(['rental_customer_id_fkey', 'rental_inventory_id_fkey', 'rental_staff_id_fkey']);
    expect(await joinDigest(c, JOIN_INT)).toBe(before.join);
  }, 300_000);
});

// Seed 001's CycleReport: a composite primary key (a surrogate uuid per row), a child with a composite foreign key,
// and seed 001's single mapping table (table_name, old_id) for the single-key tables.
describe.runIf(!!PG_URL)('composite keys and one shared mapping table on PostgreSQL', () => {
  const db = `cutline_uuid_cmp_${process.pid}`;
  let c: SqlClient;
  const digest = async (on: string) =>
    JSON.stringify((await c.query(`SELECT a.attr_id, a.attr, r.title, y.name FROM cycle_report_attrs a JOIN cycle_reports cr ON ${on} JOIN reports r ON r.report_id = cr.report_id JOIN cycles y ON y.cycle_id = cr.cycle_id ORDER BY 1`)).rows);
  beforeAll(async () => {
    c = postgresClient(await freshDatabase(PG_URL!, db));
    for (const sql of [
      'CREATE TABLE cycles (cycle_id serial PRIMARY KEY, name text NOT NULL)',
      'CREATE TABLE reports (report_id serial PRIMARY KEY, title text NOT NULL)',
      'CREATE TABLE cycle_reports (cycle_id int NOT NULL REFERENCES cycles, report_id int NOT NULL REFERENCES reports, status text, PRIMARY KEY (cycle_id, report_id))',
      'CREATE TABLE cycle_report_attrs (attr_id bigserial PRIMARY KEY, cycle_id int, report_id int, attr text, FOREIGN KEY (cycle_id, report_id) REFERENCES cycle_reports)',
      "INSERT INTO cycles (name) SELECT 'cycle ' || g FROM generate_series(1, 30) g",
      "INSERT INTO reports (title) SELECT 'report ' || g FROM generate_series(1, 20) g",
      "INSERT INTO cycle_reports SELECT y, r, 'open' FROM generate_series(1, 30) y, generate_series(1, 20) r",
      "INSERT INTO cycle_report_attrs (cycle_id, report_id, attr) SELECT CASE WHEN g % 50 = 0 THEN NULL ELSE 1 + g % 30 END, 1 + g % 20, 'attr ' || g FROM generate_series(1, 2000) g",
    ])
      await c.query(sql);
  }, 60_000);
  afterAll(async () => {
    await c?.close();
    await dropDatabase(PG_URL!, db);
  });

  it('plans with --mapping shared, runs to GO through the surrogate keys; the rollback runs twice, the swap again after it', async () => {
    const on = 'cr.cycle_id = a.cycle_id AND cr.report_id = a.report_id';
    const before = await digest(on);
    const { r, summary, dir } = await planAndRun(pgUrlFor(PG_URL!, db), 'uuid-composite-pg', ['--mapping', 'shared']);
    expect(summary.compositeKeys).toEqual(['cycle_reports']);
    expect([r.outcome, r.classification], r.reason).toEqual(['GO', 'GO']);
    expect(await digest('cr.cycle_reports_uuid = a.cycle_reports_uuid')).toBe(before);
    const shared = (await c.query('SELECT table_name, count(*)::int AS n FROM cutline_uuid_map GROUP BY 1 ORDER BY 1')).rows;
    expect(shared).toEqual([
      { table_name: 'cycle_report_attrs', n: 2000 },
      { table_name: 'cycles', n: 30 },
      { table_name: 'reports', n: 20 },
    ]);
    expect((await c.query('SELECT count(*)::int AS n FROM cutline_uuid_map_cycle_reports')).rows[0]!.n).toBe(600);
    // the rows with a NULL half of the composite key have no parent, and no uuid
    expect((await c.query('SELECT count(*)::int AS n FROM cycle_report_attrs WHERE cycle_reports_uuid IS NULL')).rows[0]!.n).toBe(40);
    const keys = async () => (await c.query("SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'cycle_reports'::regclass AND contype IN ('p', 'u') ORDER BY contype, 1")).rows.map((x) => x.def);
    expect(await keys()).toEqual(['PRIMARY KEY (cycle_reports_uuid)', 'UNIQUE (cycle_id, report_id)', 'UNIQUE (cycle_reports_uuid)']);
    const runFile = async (file: string) => {
      for (const st of splitStatements(await readFile(file, 'utf8'), 'postgres')) await c.query(st.sql);
    };
    const rollback = path.join(dir, 'rollback', 'R1__uuid_swap_group_1.sql');
    await runFile(rollback);
    await runFile(rollback);
    expect(await keys()).toEqual(['PRIMARY KEY (cycle_id, report_id)', 'UNIQUE (cycle_reports_uuid)']);
    for (const f of (await readdir(path.join(dir, 'contract'))).sort()) await runFile(path.join(dir, 'contract', f));
    expect(await keys()).toEqual(['PRIMARY KEY (cycle_reports_uuid)', 'UNIQUE (cycle_id, report_id)', 'UNIQUE (cycle_reports_uuid)']);
    expect(await digest(on)).toBe(before);
  }, 180_000);
});
