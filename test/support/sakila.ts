/**
 * Sakila (shared/fixtures/sakila) on the real servers: loaded into PostgreSQL
 * with psql, ported to MariaDB by mapping each column type, copied between
 * databases, and changed in known ways.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { SqlClient } from '../../lambdas/ports';
import { freshDatabase } from './databases';

/** MariaDB Sakila: case-insensitive like the original, which is what the gates must cope with. */
const MARIA_CHARSET = 'utf8mb4 COLLATE utf8mb4_general_ci';

/** shared/ sits beside the repository (on developer machines and in CI); CUTLINE_SHARED overrides. */
export const SAKILA = path.resolve(process.env.CUTLINE_SHARED ?? path.resolve(import.meta.dirname, '../../../shared'), 'fixtures/sakila');

/** Tables compared, with what each side cannot share (PostgreSQL's generated tsvector). */
export const SAKILA_TABLES = ['actor', 'address', 'category', 'city', 'country', 'customer', 'film', 'film_actor', 'film_category', 'inventory', 'language', 'payment', 'rental', 'staff', 'store'];
export const SAKILA_EXCLUDE: Record<string, string[]> = { film: ['fulltext'] };

export async function loadSakilaPg(baseUrl: string, db: string): Promise<void> {
  const url = await freshDatabase(baseUrl, db);
  for (const f of ['postgres-sakila-schema.sql', 'postgres-sakila-insert-data-using-copy.sql'])
    execFileSync('psql', ['-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', path.join(SAKILA, f)], { stdio: ['ignore', 'ignore', 'pipe'] });
  // Sakila ships no staff pictures: give each a real binary value, so a changed byte can be found.
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(`UPDATE staff SET picture = decode(repeat(md5(staff_id::text), 40), 'hex')`);
  await c.end();
}

export async function clonePg(baseUrl: string, from: string, to: string): Promise<void> {
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${to} WITH (FORCE)`);
  await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [from]);
  await admin.query(`CREATE DATABASE ${to} TEMPLATE ${from}`);
  await admin.end();
}

function mariaType(r: { data_type: string; udt_name: string; len: number | null; precision: number | null; scale: number | null }): string | null {
  switch (r.data_type) {
    case 'integer':
      return 'INT';
    case 'smallint':
      return 'SMALLINT';
    case 'bigint':
      return 'BIGINT';
    case 'numeric':
      return `DECIMAL(${r.precision ?? 20},${r.scale ?? 0})`;
    case 'character varying':
      return `VARCHAR(${r.len ?? 255})`;
    case 'character':
      return `CHAR(${r.len ?? 1})`;
    case 'text':
      return 'TEXT';
    case 'boolean':
      return 'BOOLEAN';
    case 'timestamp without time zone':
      return 'DATETIME(6)';
    case 'date':
      return 'DATE';
    case 'bytea':
      return 'LONGBLOB';
    case 'ARRAY':
      return 'TEXT';
    case 'USER-DEFINED':
      return 'VARCHAR(32)';
    case 'tsvector':
      return null;
    default:
      throw new Error(`no MariaDB type for ${r.data_type}`);
  }
}

/** Port the PostgreSQL Sakila tables to a MariaDB database: mapped column types, same primary keys, rows copied in pages. */
export async function portSakilaToMaria(pgClient: SqlClient, mysqlUrl: string, db: string, maria: SqlClient, opts: { foreignKeys?: boolean } = {}): Promise<void> {
  await freshDatabase(mysqlUrl, db, { charset: MARIA_CHARSET });
  for (const table of SAKILA_TABLES) {
    const cols = (
      await pgClient.query(
        `SELECT column_name AS name, data_type, udt_name, character_maximum_length AS len, numeric_precision AS precision, numeric_scale AS scale
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name = :t ORDER BY ordinal_position`,
        { t: table },
      )
    ).rows.map((r) => ({ name: String(r.name), data_type: String(r.data_type), udt_name: String(r.udt_name), len: r.len === null ? null : Number(r.len), precision: r.precision === null ? null : Number(r.precision), scale: r.scale === null ? null : Number(r.scale) }));
    const pk = (
      await pgClient.query(
        `SELECT a.attname AS name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[]) WHERE i.indrelid = to_regclass(:t) AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)`,
        { t: table },
      )
    ).rows.map((r) => String(r.name));
    const kept = cols.filter((c) => mariaType(c) !== null);
    await maria.query(
      `CREATE TABLE ${db}.${table} (${kept.map((c) => `\`${c.name}\` ${mariaType(c)}`).join(', ')}, PRIMARY KEY (${pk.map((k) => `\`${k}\``).join(', ')})) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    );
    const select = kept.map((c) => (c.data_type === 'ARRAY' ? `array_to_string("${c.name}", ',') AS "${c.name}"` : `"${c.name}"`));
    const pkList = pk.map((k) => `"${k}"`).join(', ');
    // Sakila's keys are small: one page per 2,000 rows, ordered by key.
    let offset = 0;
    for (;;) {
      const { rows } = await pgClient.query(`SELECT ${select.join(', ')} FROM ${table} ORDER BY ${pkList} LIMIT 2000 OFFSET ${offset}`);
      if (rows.length === 0) break;
      offset += rows.length;
      const values = rows.map((_, i) => `(${kept.map((c) => `:${c.name}_${i}`).join(', ')})`).join(', ');
      const params: Record<string, import('../../lambdas/ports').SqlParam> = {};
      rows.forEach((r, i) => {
        for (const c of kept) params[`${c.name}_${i}`] = r[c.name] as import('../../lambdas/ports').SqlParam;
      });
      await maria.query(`INSERT INTO ${db}.${table} (${kept.map((c) => `\`${c.name}\``).join(', ')}) VALUES ${values}`, params);
    }
  }
  if (opts.foreignKeys) {
    // The same single-column foreign keys as PostgreSQL, added once all rows are in.
    const { rows } = await pgClient.query(
      `SELECT c.conname AS name, t.relname AS child, a.attname AS col, p.relname AS parent, pa.attname AS pcol
       FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class p ON p.oid = c.confrelid
       JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = c.confkey[1]
       WHERE c.contype = 'f' AND array_length(c.conkey, 1) = 1 AND t.relname = ANY (:tables::text[])`,
      { tables: `{${SAKILA_TABLES.join(',')}}` },
    );
    for (const r of rows)
      await maria.query(`ALTER TABLE ${db}.${r.child} ADD CONSTRAINT \`${r.name}\` FOREIGN KEY (\`${r.col}\`) REFERENCES ${db}.${r.parent} (\`${r.pcol}\`)`);
  }
}

export async function cloneMaria(mysqlUrl: string, from: string, to: string): Promise<void> {
  await freshDatabase(mysqlUrl, to, { charset: MARIA_CHARSET });
  const c = await mysql.createConnection(mysqlUrl);
  for (const t of SAKILA_TABLES) {
    await c.query(`CREATE TABLE ${to}.${t} LIKE ${from}.${t}`);
    await c.query(`INSERT INTO ${to}.${t} SELECT * FROM ${from}.${t}`);
  }
  await c.end();
}

export interface Injected {
  readonly table: string;
  readonly key: string;
  readonly kind: 'missing' | 'extra' | 'changed';
  readonly columns?: string[];
}

/** The seven differences of issue 3, applied to a target; returns what the gate must report, and nothing else. */
export async function injectDifferences(client: SqlClient): Promise<Injected[]> {
  const pgd = client.dialect === 'postgres';
  // PostgreSQL Sakila's triggers would also move last_update: change only what the test names.
  await client.transaction(async (target) => {
  if (pgd) await target.query('SET LOCAL session_replication_role = replica');
  await target.query('DELETE FROM film_actor WHERE actor_id = 1 AND film_id = 1');
  await target.query(`INSERT INTO category (category_id, name, last_update) VALUES (17, 'Extra', ${pgd ? "TIMESTAMP '2006-02-15 09:46:27'" : "'2006-02-15 09:46:27'"})`);
  await target.query('UPDATE payment SET amount = amount + 0.01 WHERE payment_id = 1');
  await target.query("UPDATE address SET address2 = '' WHERE address_id = 5");
  await target.query(pgd ? "UPDATE rental SET return_date = return_date + interval '1 microsecond' WHERE rental_id = 2" : 'UPDATE rental SET return_date = return_date + INTERVAL 1 MICROSECOND WHERE rental_id = 2');
  await target.query(
    pgd
      ? 'UPDATE staff SET picture = set_byte(picture, 10, (get_byte(picture, 10) + 1) % 256) WHERE staff_id = 1'
      : 'UPDATE staff SET picture = CONCAT(LEFT(picture, 10), CHAR((ASCII(SUBSTRING(picture, 11, 1)) + 1) % 256 USING binary), SUBSTRING(picture, 12)) WHERE staff_id = 1',
  );
  await target.query('UPDATE actor SET last_name = LOWER(last_name) WHERE actor_id = 3');
  });
  return [
    { table: 'actor', key: '3', kind: 'changed', columns: ['last_name'] },
    { table: 'address', key: '5', kind: 'changed', columns: ['address2'] },
    { table: 'category', key: '17', kind: 'extra' },
    { table: 'film_actor', key: '1|1', kind: 'missing' },
    { table: 'payment', key: '1', kind: 'changed', columns: ['amount'] },
    { table: 'rental', key: '2', kind: 'changed', columns: ['return_date'] },
    { table: 'staff', key: '1', kind: 'changed', columns: ['picture'] },
  ];
}
