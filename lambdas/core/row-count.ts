/**
 * Exact row counts that never scan a whole big table in one statement: a Data API call ends after 45 seconds, and
 * `SELECT count(*)` of a 10⁹-row table takes minutes. A table with a single-column integer primary key (or the key a
 * backfill task names) is counted in key ranges sized toward ROWS_PER_STATEMENT rows each (widened across sparse or
 * empty stretches, narrowed in dense ones), all in one repeatable-read transaction so the sum is one snapshot's count,
 * as a single statement's would be; only a table without such a key is counted in one statement, and the result says
 * which.
 */
import type { Clock, SqlClient } from '../ports';
import { retryTransient } from './retry';
import { keyParam } from './backfill-load';
import { keyBoundsSql, quoteIdent, splitQualified } from './sql-builders';

/** Rows one counting statement aims at: an index-only count of a few million rows takes seconds, far below 45. */
export const ROWS_PER_STATEMENT = 5_000_000n;

export interface RowCount {
  /** Exact, as a string (counts can pass 2^53 in theory; BIGINT is lossy over the Data API). */
  readonly n: string;
  /** How it was counted: by key ranges of `key`, or in one statement (no integer key to split by). */
  readonly method: 'key ranges' | 'one statement';
  readonly key?: string;
  readonly statements: number;
  /** The key's smallest and largest value (key ranges only; none for an empty table). */
  readonly bounds?: { readonly lo: string; readonly hi: string };
}

/** The table's primary key when it is one integer column. */
export async function integerPrimaryKey(client: SqlClient, table: string): Promise<string | undefined> {
  const { schema, table: name } = splitQualified(table);
  const sql =
    client.dialect === 'postgres'
      ? `SELECT a.attname AS k, format_type(a.atttypid, a.atttypmod) AS type FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
         WHERE i.indisprimary AND i.indrelid = to_regclass(:qualified) AND i.indnkeyatts = 1`
      : `SELECT COLUMN_NAME AS k, DATA_TYPE AS type FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.COLUMNS c USING (TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME)
         WHERE k.CONSTRAINT_NAME = 'PRIMARY' AND k.TABLE_SCHEMA = coalesce(:schema, DATABASE()) AND k.TABLE_NAME = :table
         AND (SELECT count(*) FROM information_schema.KEY_COLUMN_USAGE x WHERE x.CONSTRAINT_NAME = 'PRIMARY' AND x.TABLE_SCHEMA = k.TABLE_SCHEMA AND x.TABLE_NAME = k.TABLE_NAME) = 1`;
  const { rows } = await client.query(sql, client.dialect === 'postgres' ? { qualified: quoteIdent(table, 'postgres') } : { schema, table: name });
  const r = rows[0];
  return r && /^(smallint|integer|bigint|int|tinyint|mediumint)\b/i.test(String(r.type)) ? String(r.k) : undefined;
}

/** Count the rows of `table` exactly, in statements of bounded size (see the module comment). */
export async function countRows(client: SqlClient, table: string, opts: { key?: string; rowsPerStatement?: bigint; clock?: Pick<Clock, 'sleep'> } = {}): Promise<RowCount> {
  const pg = client.dialect === 'postgres';
  const t = quoteIdent(table, client.dialect);
  const key = opts.key ?? (await integerPrimaryKey(client, table));
  if (!key) {
    const { rows } = await client.query(pg ? `SELECT count(*)::text AS n FROM ${t}` : `SELECT CAST(COUNT(*) AS CHAR) AS n FROM ${t}`);
    return { n: String(rows[0]?.n ?? '0'), method: 'one statement', statements: 1 };
  }
  const k = quoteIdent(key, client.dialect);
  const text = (e: string) => (pg ? `${e}::text` : `CAST(${e} AS CHAR)`);
  // min and max come from the key's index, not a scan.
  const bounds = (await client.query(keyBoundsSql(client.dialect, table, key))).rows[0];
  let statements = 1;
  if (bounds?.lo === null || bounds?.lo === undefined) return { n: '0', method: 'key ranges', key, statements };
  const target = opts.rowsPerStatement ?? ROWS_PER_STATEMENT;
  const hi = BigInt(String(bounds.hi));
  // One snapshot for all ranges, as one statement would see the table (each call still ends within the limit). It only
  // reads: after a dropped connection or a terminated backend (a transaction's reads are not retried one by one), the
  // whole count runs again.
  const snapshot = () => client.transaction(async (tx) => {
    if (pg) await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    let lo = BigInt(String(bounds.lo));
    let span = target;
    let sum = 0n;
    while (lo <= hi) {
      const end = lo + span - 1n < hi ? lo + span - 1n : hi;
      const { rows } = await tx.query(`SELECT ${text('count(*)')} AS n FROM ${t} WHERE ${k} BETWEEN :lo AND :hi`, { lo: keyParam(lo.toString()), hi: keyParam(end.toString()) });
      statements++;
      const got = BigInt(String(rows[0]?.n ?? '0'));
      sum += got;
      lo = end + 1n;
      // Toward `target` rows per statement: at most 16 times wider (an empty stretch) or narrower (a dense one) each step.
      const wanted = got === 0n ? span * 16n : (span * target) / got;
      span = wanted > span * 16n ? span * 16n : wanted < span / 16n ? span / 16n : wanted;
      if (span < 1n) span = 1n;
    }
    return sum;
  });
  const n = opts.clock ? await retryTransient(opts.clock, snapshot) : await snapshot();
  return { n: n.toString(), method: 'key ranges', key, statements, bounds: { lo: String(bounds.lo), hi: String(bounds.hi) } };
}

/** How a count was taken, for evidence: "counted by key ranges of id, 12 statements" or "counted in one statement (no integer primary key)". */
export function countedBy(c: RowCount): string {
  return c.method === 'key ranges' ? `counted by key ranges of ${c.key}, ${c.statements} statement(s)` : 'counted in one statement (no integer primary key to split by)';
}
