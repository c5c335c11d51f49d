/**
 * Per chunk and side: the fast gate's exact count, and the exact gate's
 * count + two 60-bit-slice sums of an MD5 over the canonical row text. One
 * statement each; sums are exact decimals carried as strings.
 */
import type { SqlClient, SqlParams } from '../../ports';
import { quoteIdent } from '../sql-builders';
import { md5Of, rowText, sliceSums } from './canonical';
import { type KeyRange, rangePredicate } from './keys';
import { ROW_ALIAS, type TablePlan } from './table-plan';

export interface ChunkSums {
  readonly n: string;
  readonly s1: string;
  readonly s2: string;
}

export function tableName(plan: TablePlan, side: 'source' | 'target'): string {
  return quoteIdent(side === 'source' ? plan.table : plan.targetTable, plan.dialects[side]);
}

/** The MD5 of a row's canonical text, and the table to read it FROM (aliased when the whole row is hashed). */
export function rowHash(plan: TablePlan, side: 'source' | 'target'): { hash: string; from: string } {
  const d = plan.dialects[side];
  const alias = plan.wholeRow ? ROW_ALIAS : undefined;
  return { hash: md5Of(d, rowText(d, side, plan.columns, alias)), from: alias ? `${tableName(plan, side)} ${alias}` : tableName(plan, side) };
}

export function checksumSql(plan: TablePlan, side: 'source' | 'target', r: KeyRange): { sql: string; params: SqlParams } {
  const d = plan.dialects[side];
  const where = rangePredicate(plan, side, r);
  const sums = sliceSums(d, 'h');
  const row = rowHash(plan, side);
  // PostgreSQL: OFFSET 0 fences the subquery, or md5 would be computed once per sum.
  return {
    sql:
      d === 'postgres'
        ? `SELECT count(*)::text AS n, ${sums.s1} AS s1, ${sums.s2} AS s2 FROM (SELECT ${row.hash} AS h FROM ${row.from} WHERE ${where.sql} OFFSET 0) q`
        : `SELECT CAST(COUNT(*) AS CHAR) AS n, ${sums.s1} AS s1, ${sums.s2} AS s2 FROM (SELECT ${row.hash} AS h FROM ${row.from} WHERE ${where.sql}) q`,
    params: where.params,
  };
}

export function countSqlFor(plan: TablePlan, side: 'source' | 'target', r: KeyRange): { sql: string; params: SqlParams } {
  const d = plan.dialects[side];
  const where = rangePredicate(plan, side, r);
  return {
    sql: d === 'postgres' ? `SELECT count(*)::text AS n FROM ${tableName(plan, side)} WHERE ${where.sql}` : `SELECT CAST(COUNT(*) AS CHAR) AS n FROM ${tableName(plan, side)} WHERE ${where.sql}`,
    params: where.params,
  };
}

export async function chunkSums(client: SqlClient, plan: TablePlan, side: 'source' | 'target', r: KeyRange): Promise<ChunkSums> {
  const q = checksumSql(plan, side, r);
  const row = (await client.query(q.sql, q.params)).rows[0]!;
  return { n: String(row.n), s1: String(row.s1), s2: String(row.s2) };
}

export async function chunkCount(client: SqlClient, plan: TablePlan, side: 'source' | 'target', r: KeyRange): Promise<string> {
  const q = countSqlFor(plan, side, r);
  return String((await client.query(q.sql, q.params)).rows[0]!.n);
}

export const sameSums = (a: ChunkSums, b: ChunkSums) => a.n === b.n && a.s1 === b.s1 && a.s2 === b.s2;
