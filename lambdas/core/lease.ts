/**
 * Leases: a row per lease (name, owner = the execution, expiry from the
 * database clock) that keeps a second run out. The run lease is taken in
 * Preflight on every database the run writes, renewed by each stage, and
 * released by Summary at the end of every path (GO, NO_GO, after rollback);
 * the schema lease guards the migration history while files apply.
 */
import type { SqlClient } from '../ports';
import { type CutlineError, EnvironmentBlocked, errorMessage } from './errors';
import { quoteIdent } from './sql-builders';
import type { Dialect } from './sql-lexer';
import { type DatabaseRef, dbRef, type RunSpec } from './spec';

export function leaseDdl(dialect: Dialect, table: string): string {
  const t = quoteIdent(table, dialect);
  return dialect === 'postgres'
    ? `CREATE TABLE IF NOT EXISTS ${t} (name text PRIMARY KEY, owner text NOT NULL, expires_at timestamp NOT NULL)`
    : `CREATE TABLE IF NOT EXISTS ${t} (name varchar(64) PRIMARY KEY, owner varchar(2048) NOT NULL, expires_at datetime(6) NOT NULL)`;
}

/**
 * CREATE TABLE IF NOT EXISTS, safe when two runs start together: PostgreSQL
 * can answer the loser of that race with a unique violation on its catalog
 * (pg_type) instead of "already exists"; the table is there either way.
 */
export async function createIfMissing(client: SqlClient, ddl: string): Promise<void> {
  try {
    await client.query(ddl);
  } catch (e) {
    if (!/pg_type_typname_nsp_index|pg_class_relname_nsp_index|already exists|duplicate key value/i.test(errorMessage(e))) throw e;
  }
}

const nowSql = (client: SqlClient) => (client.dialect === 'postgres' ? `(now() AT TIME ZONE 'UTC')` : 'UTC_TIMESTAMP(6)');

type Refusal = (message: string, details: Record<string, unknown>) => CutlineError;

/**
 * Take (or renew, for its owner) lease `name` of a database, or fail naming
 * who holds it and until when. Times come from the database clock.
 */
export async function acquireLease(client: SqlClient, table: string, name: string, owner: string, seconds: number, refuse: Refusal): Promise<void> {
  const t = quoteIdent(table, client.dialect);
  const pg = client.dialect === 'postgres';
  await createIfMissing(client, leaseDdl(client.dialect, table));
  const now = nowSql(client);
  await client.query(`DELETE FROM ${t} WHERE name = :name AND expires_at < ${now}`, { name });
  await client.query(
    pg
      ? `INSERT INTO ${t} (name, owner, expires_at) VALUES (:name, :owner, ${now} + make_interval(secs => :secs))
         ON CONFLICT (name) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE ${t}.owner = EXCLUDED.owner`
      : `INSERT INTO ${t} (name, owner, expires_at) VALUES (:name, :owner, ${now} + INTERVAL :secs SECOND)
         ON DUPLICATE KEY UPDATE expires_at = IF(owner = VALUES(owner), VALUES(expires_at), expires_at)`,
    { name, owner, secs: seconds },
  );
  const { rows } = await client.query(
    pg
      ? `SELECT owner, to_char(expires_at, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS until FROM ${t} WHERE name = :name`
      : `SELECT owner, DATE_FORMAT(expires_at, '%Y-%m-%dT%H:%i:%sZ') AS until FROM ${t} WHERE name = :name`,
    { name },
  );
  const holder = rows[0];
  if (holder && String(holder.owner) !== owner)
    throw refuse(`the ${name} lease of ${client.label} is held by ${holder.owner} until ${holder.until}`, { leaseOwner: String(holder.owner), leaseUntil: String(holder.until) });
}

export async function releaseLease(client: SqlClient, table: string, name: string, owner: string): Promise<void> {
  await client.query(`DELETE FROM ${quoteIdent(table, client.dialect)} WHERE name = :name AND owner = :owner`, { name, owner });
}

export const RUN_LEASE_TABLE = 'cutline_run_lease';

/** The databases a run writes (migrations, backfill, cutover SQL, the target): each gets the run lease. */
export function writtenDatabases(spec: RunSpec): DatabaseRef[] {
  const sides = new Set(['target' as const, ...(spec.migrations ? [spec.migrations.database] : []), ...spec.backfill.tasks.map((t) => t.database)]);
  for (const a of spec.cutover.actions) if (a.type === 'sql') sides.add(a.database);
  const refs = new Map<string, DatabaseRef>();
  for (const side of sides) {
    const ref = dbRef(spec, side);
    refs.set(JSON.stringify(ref), ref);
  }
  return [...refs.values()];
}

/**
 * How long the run lease lasts from each renewal: long enough for the go/no-go
 * wait after Decide, and for a long stage between two renewals. A killed run
 * keeps its databases until then, unless it is resumed (same execution).
 */
export function runLeaseSeconds(spec: RunSpec): number {
  return spec.approval.timeoutSeconds + 6 * 3600;
}

/** Take or renew the run lease on every database the run writes; the refusal names the holder and its expiry. */
export async function holdRunLease(spec: RunSpec, owner: string, sql: (ref: DatabaseRef) => SqlClient): Promise<void> {
  for (const ref of writtenDatabases(spec))
    await acquireLease(sql(ref), RUN_LEASE_TABLE, 'run', owner, runLeaseSeconds(spec), (m, d) => new EnvironmentBlocked(`${m}; expected no other run on this database (wait for it to end, or resume it)`, d));
}

export async function releaseRunLease(spec: RunSpec, owner: string, sql: (ref: DatabaseRef) => SqlClient): Promise<void> {
  for (const ref of writtenDatabases(spec)) await releaseLease(sql(ref), RUN_LEASE_TABLE, 'run', owner);
}
