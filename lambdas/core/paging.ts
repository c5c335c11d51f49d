/**
 * Read a whole table through any SqlClient in keyset pages that stay under the
 * Data API's 1 MiB response limit: the page size adapts to the bytes the last
 * page took, and a page refused for size is retried at half the rows.
 */
import type { SqlClient, SqlRow } from '../ports';
import { quoteIdent } from './sql-builders';

/** Responses are kept under half the limit to leave room for JSON overhead. */
export const PAGE_BYTES_TARGET = 512 * 1024;

export function approxRowBytes(row: SqlRow): number {
  let n = 2;
  for (const [k, v] of Object.entries(row)) {
    n += k.length + 24;
    if (typeof v === 'string') n += v.length * 1.1;
    else if (v instanceof Uint8Array) n += Math.ceil(v.length / 3) * 4;
    else n += 16;
  }
  return n;
}

/** Integer column types as adapters report them: PostgreSQL OIDs, Data API type names, MySQL type codes. */
const INTEGER_TYPE = /^(20|21|23|int[248]|bigint|integer|smallint|serial|bigserial|1|2|3|8|9)$/i;

const isSizeError = (e: unknown) => /response size limit/i.test((e as Error).message ?? '');

export async function* selectPages(
  client: SqlClient,
  opts: { table: string; key: string; columns?: readonly string[]; firstPageRows?: number; targetBytes?: number },
): AsyncGenerator<SqlRow[]> {
  const q = (s: string) => quoteIdent(s, client.dialect);
  const cols = opts.columns?.length ? opts.columns.map(q).join(', ') : '*';
  const target = opts.targetBytes ?? PAGE_BYTES_TARGET;
  let rowsPerPage = opts.firstPageRows ?? 1000;
  let after: string | number | bigint | null = null;
  for (;;) {
    const sql =
      `SELECT ${cols} FROM ${q(opts.table)}` +
      (after === null ? '' : ` WHERE ${q(opts.key)} > :after`) +
      ` ORDER BY ${q(opts.key)} LIMIT ${Math.max(1, Math.floor(rowsPerPage))}`;
    let rows: SqlRow[];
    let columns: readonly { name: string; type: string }[];
    try {
      ({ rows, columns } = await client.query(sql, after === null ? {} : { after }));
    } catch (e) {
      if (isSizeError(e) && rowsPerPage > 1) {
        rowsPerPage = Math.floor(rowsPerPage / 2);
        continue;
      }
      throw e;
    }
    if (rows.length === 0) return;
    yield rows;
    const bytes = rows.reduce((n, r) => n + approxRowBytes(r), 0);
    const last = rows.at(-1)![opts.key];
    if (last === undefined) throw new Error(`paging key ${opts.key} is not among the selected columns of ${opts.table}`);
    // BIGINT keys come back as exact strings: bind them back as integers, not varchar.
    const keyType = columns.find((c) => c.name === opts.key)?.type ?? '';
    after = typeof last === 'string' && INTEGER_TYPE.test(keyType) ? BigInt(last) : typeof last === 'number' || typeof last === 'string' ? last : String(last);
    if (rows.length < rowsPerPage) return;
    rowsPerPage = Math.max(1, Math.min(rowsPerPage * 4, Math.floor((rowsPerPage * target) / Math.max(bytes, 1))));
  }
}
