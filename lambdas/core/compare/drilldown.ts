/**
 * Drill-down of a mismatching chunk: bucket rows by a hash of their key
 * (64-256 buckets a level), compare bucket sums, descend into differing
 * buckets until one holds <= 1,000 rows, then diff key + row-hash pairs and
 * name each key missing, extra or changed (with the changed columns).
 */
import type { SqlClient, SqlParams } from '../../ports';
import type { Dialect } from '../sql-lexer';
import { columnValue, sliceSums } from './canonical';
import { rowHash, tableName } from './checksum';
import { type KeyRange, keyColumn, keyText, rangePredicate } from './keys';
import type { TablePlan } from './table-plan';

export interface KeyDiff {
  readonly key: string;
  readonly kind: 'missing' | 'extra' | 'changed';
  readonly columns?: string[];
}

export interface DrillOptions {
  readonly buckets: number;
  readonly leafRows: number;
  readonly maxDiffs: number;
  readonly maxLevels: number;
}
export const DEFAULT_DRILL: DrillOptions = { buckets: 128, leafRows: 1000, maxDiffs: 100, maxLevels: 4 };

/** Bucket of a key at a level: 7 hex chars of md5(key text) from a level-specific offset, mod B. */
function bucketExpr(d: Dialect, keyTextSql: string, level: number, buckets: number): string {
  const pos = 1 + level * 7;
  return d === 'postgres'
    ? `((('x' || substr(md5(${keyTextSql}), ${pos}, 7))::bit(28)::int) % ${buckets})`
    : `(CAST(CONV(SUBSTRING(MD5(${keyTextSql}), ${pos}, 7), 16, 10) AS UNSIGNED) % ${buckets})`;
}

type Path = readonly number[];

function pathPredicate(d: Dialect, keyTextSql: string, path: Path, buckets: number): string {
  return path.map((b, level) => `${bucketExpr(d, keyTextSql, level, buckets)} = ${b}`).join(' AND ') || '1 = 1';
}

async function bucketSums(client: SqlClient, plan: TablePlan, side: 'source' | 'target', r: KeyRange, path: Path, o: DrillOptions) {
  const d = plan.dialects[side];
  const kt = keyText(plan, side);
  const where = rangePredicate(plan, side, r);
  const sums = sliceSums(d, 'h');
  const row = rowHash(plan, side);
  const inner = `SELECT ${bucketExpr(d, kt, path.length, o.buckets)} AS b, ${row.hash} AS h FROM ${row.from} WHERE ${where.sql} AND ${pathPredicate(d, kt, path, o.buckets)}`;
  const sql =
    d === 'postgres'
      ? `SELECT b, count(*)::text AS n, ${sums.s1} AS s1, ${sums.s2} AS s2 FROM (${inner} OFFSET 0) q GROUP BY b`
      : `SELECT b, CAST(COUNT(*) AS CHAR) AS n, ${sums.s1} AS s1, ${sums.s2} AS s2 FROM (${inner}) q GROUP BY b`;
  const { rows } = await client.query(sql, where.params);
  return new Map(rows.map((x) => [Number(x.b), `${x.n}/${x.s1}/${x.s2}`]));
}

async function keyHashes(client: SqlClient, plan: TablePlan, side: 'source' | 'target', r: KeyRange, path: Path, o: DrillOptions) {
  const d = plan.dialects[side];
  const kt = keyText(plan, side);
  const where = rangePredicate(plan, side, r);
  const row = rowHash(plan, side);
  const { rows } = await client.query(
    `SELECT ${kt} AS k, ${row.hash} AS h FROM ${row.from} WHERE ${where.sql} AND ${pathPredicate(d, kt, path, o.buckets)}`,
    where.params,
  );
  return new Map(rows.map((x) => [String(x.k), String(x.h)]));
}

/** Canonical field values of one row, to name the columns that differ. */
async function rowFields(client: SqlClient, plan: TablePlan, side: 'source' | 'target', key: string): Promise<Record<string, string | null> | undefined> {
  const d = plan.dialects[side];
  const cols = plan.columns.map((c, i) => `${columnValue(d, side, c)} AS c${i}`);
  const params: SqlParams = { key };
  const { rows } = await client.query(`SELECT ${cols.join(', ')} FROM ${tableName(plan, side)} WHERE ${keyText(plan, side)} = :key`, params);
  if (!rows[0]) return undefined;
  return Object.fromEntries(plan.columns.map((c, i) => [c.name, rows[0]![`c${i}`] === null ? null : String(rows[0]![`c${i}`])]));
}

export interface DrillResult {
  readonly diffs: KeyDiff[];
  readonly truncated: boolean;
  readonly queries: number;
}

export async function drillDown(
  clients: { source: SqlClient; target: SqlClient },
  plan: TablePlan,
  r: KeyRange,
  o: DrillOptions = DEFAULT_DRILL,
): Promise<DrillResult> {
  const diffs: KeyDiff[] = [];
  let queries = 0;
  let truncated = false;
  const visit = async (path: Path): Promise<void> => {
    if (diffs.length >= o.maxDiffs) {
      truncated = true;
      return;
    }
    const [s, t] = await Promise.all([bucketSums(clients.source, plan, 'source', r, path, o), bucketSums(clients.target, plan, 'target', r, path, o)]);
    queries += 2;
    const differing = [...new Set([...s.keys(), ...t.keys()])].filter((b) => s.get(b) !== t.get(b)).sort((a, b) => a - b);
    for (const b of differing) {
      const rows = Math.max(Number((s.get(b) ?? '0').split('/')[0]), Number((t.get(b) ?? '0').split('/')[0]));
      const next = [...path, b];
      if (rows > o.leafRows && next.length < o.maxLevels) await visit(next);
      else await leaf(next);
      if (diffs.length >= o.maxDiffs) {
        truncated = true;
        return;
      }
    }
  };
  const leaf = async (path: Path) => {
    const [s, t] = await Promise.all([keyHashes(clients.source, plan, 'source', r, path, o), keyHashes(clients.target, plan, 'target', r, path, o)]);
    queries += 2;
    const keys = [...new Set([...s.keys(), ...t.keys()])].sort();
    for (const k of keys) {
      if (diffs.length >= o.maxDiffs) {
        truncated = true;
        return;
      }
      const a = s.get(k);
      const b = t.get(k);
      if (a === b) continue;
      if (b === undefined) diffs.push({ key: k, kind: 'missing' });
      else if (a === undefined) diffs.push({ key: k, kind: 'extra' });
      else {
        const [fa, fb] = await Promise.all([rowFields(clients.source, plan, 'source', k), rowFields(clients.target, plan, 'target', k)]);
        queries += 2;
        const columns = plan.columns.map((c) => c.name).filter((n) => fa?.[n] !== fb?.[n]);
        diffs.push({ key: k, kind: 'changed', columns });
      }
    }
  };
  await visit([]);
  diffs.sort((a, b) => a.key.localeCompare(b.key, 'en', { numeric: true }));
  return { diffs, truncated, queries };
}

export { keyColumn };
