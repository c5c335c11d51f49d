/**
 * Key ranges in SQL: ORDER BY, range predicates with row-value comparisons,
 * and parameters bound with the right type (integers exact, uuid typed).
 */
import type { SqlParam, SqlParams } from '../../ports';
import { quoteIdent } from '../sql-builders';
import type { Dialect } from '../sql-lexer';
import { canonicalValue } from './canonical';
import type { KeyPart, TablePlan } from './table-plan';

/** A chunk: (lo, hi] in key order; lo null = from the start, hi null = to the end. Values are canonical key text. */
export interface KeyRange {
  readonly lo: readonly string[] | null;
  readonly hi: readonly string[] | null;
}

/** One chunk of a table's key: what GatePlan lists (07_gates/items.jsonl), GateChunk checks and each check records. */
export interface TableChunk extends KeyRange {
  readonly table: string;
  /** Its place in the table's plan, from 0. */
  readonly index: number;
}

export function keyColumn(plan: TablePlan, side: 'source' | 'target', k: KeyPart): string {
  const col = side === 'source' ? k.name : (plan.columns.find((c) => c.source.column === k.name)?.target.column ?? k.name);
  return col;
}

function keyExpr(dialect: Dialect, col: string, k: KeyPart): string {
  const q = quoteIdent(col, dialect);
  if (!k.binary) return q;
  return dialect === 'postgres' ? `${q} COLLATE "C"` : `CONVERT(${q} USING utf8mb4) COLLATE utf8mb4_bin`;
}

export function orderBy(plan: TablePlan, side: 'source' | 'target'): string {
  const d = plan.dialects[side];
  return plan.key.map((k) => keyExpr(d, keyColumn(plan, side, k), k)).join(', ');
}

/** The key as canonical text columns k0, k1, ... (to read boundaries and keys back). */
export function keySelect(plan: TablePlan, side: 'source' | 'target'): string {
  const d = plan.dialects[side];
  return plan.key.map((k, i) => `${canonicalValue(d, keyColumn(plan, side, k), k.kind)} AS k${i}`).join(', ');
}

/** One key text for a row: the canonical key fields joined (drill-down identity). */
export function keyText(plan: TablePlan, side: 'source' | 'target'): string {
  const d = plan.dialects[side];
  const parts = plan.key.map((k) => canonicalValue(d, keyColumn(plan, side, k), k.kind));
  return d === 'postgres' ? `concat_ws('|', ${parts.join(', ')})` : `CONVERT(CONCAT_WS('|', ${parts.join(', ')}) USING utf8mb4)`;
}

function bindKey(k: KeyPart, dialect: Dialect, v: string): SqlParam {
  if (k.kind === 'int') return BigInt(v);
  if (k.kind === 'uuid' && dialect === 'postgres') return { type: 'uuid', value: v };
  if (k.kind === 'timestamp') return { type: 'timestamp', value: v };
  if (k.kind === 'date') return { type: 'date', value: v };
  return v;
}

/** WHERE clause for a range, and its parameters (:lo0.., :hi0..). */
export function rangePredicate(plan: TablePlan, side: 'source' | 'target', r: KeyRange, prefix = ''): { sql: string; params: SqlParams } {
  const d = plan.dialects[side];
  const cols = plan.key.map((k) => keyExpr(d, keyColumn(plan, side, k), k));
  const tuple = (names: string[]) => (names.length === 1 ? names[0]! : `(${names.join(', ')})`);
  const parts: string[] = [];
  const params: Record<string, SqlParam> = {};
  const bind = (label: string, vals: readonly string[]) => {
    const names = vals.map((v, i) => {
      const n = `${prefix}${label}${i}`;
      params[n] = bindKey(plan.key[i]!, d, v);
      const k = plan.key[i]!;
      return k.binary ? (d === 'postgres' ? `:${n} COLLATE "C"` : `CONVERT(:${n} USING utf8mb4) COLLATE utf8mb4_bin`) : `:${n}`;
    });
    return tuple(names);
  };
  if (r.lo) parts.push(`${tuple(cols)} > ${bind('lo', r.lo)}`);
  if (r.hi) parts.push(`${tuple(cols)} <= ${bind('hi', r.hi)}`);
  return { sql: parts.length ? parts.join(' AND ') : '1 = 1', params };
}
