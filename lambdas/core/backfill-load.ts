/**
 * Backfill task kinds beyond in-place SQL: copy a key range from another
 * table (same database: one INSERT ... SELECT; another database: pages under
 * 1 MiB), and load JSONL / CSV files under seed 003's range contract. Every
 * write keeps existing keys (ON CONFLICT DO NOTHING / INSERT IGNORE), so a
 * chunk can run twice.
 */
import type { Deps, SqlClient, SqlParam, SqlRow } from '../ports';
import type { Dialect } from './sql-lexer';
import type { Chunk, KeyKind } from './backfill';
import { BackfillFailed, errorMessage } from './errors';
import { readTableShape } from './compare/catalog';
import { kindOf } from './compare/canonical';
import { approxRowBytes, PAGE_BYTES_TARGET } from './paging';
import { quoteIdent } from './sql-builders';
import type { BackfillTask, RunSpec } from './spec';
import { dbRef } from './spec';

/** seed 003: backfill [tCutover-24h, tCutover-1s], sync from tCutover on. */
export function rangeContract(tCutover: string, range: 'backfill' | 'sync'): { from: number; to: number } {
  const t = Date.parse(tCutover);
  return range === 'backfill' ? { from: t - 24 * 3600_000, to: t - 1000 } : { from: t, to: Number.POSITIVE_INFINITY };
}

/** RFC 4180 CSV: quoted fields, doubled quotes, commas and newlines inside quotes. */
export function parseCsv(text: string): Record<string, string>[] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || (c === '\r' && text[i + 1] === '\n')) {
      if (c === '\r') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (quoted) throw new Error('CSV ends inside a quoted field');
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  const [header, ...data] = rows.filter((r) => !(r.length === 1 && r[0] === ''));
  if (!header) return [];
  return data.map((r, n) => {
    if (r.length !== header.length) throw new Error(`CSV row ${n + 2} has ${r.length} fields; expected ${header.length} (the header's)`);
    return Object.fromEntries(header.map((h, i) => [h, r[i]!]));
  });
}

export function parseJsonl(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .map((l, i) => [l.trim(), i + 1] as const)
    .filter(([l]) => l)
    .map(([l, n]) => {
      try {
        const v = JSON.parse(l);
        if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
        return v as Record<string, unknown>;
      } catch (e) {
        throw new Error(`JSONL line ${n}: ${errorMessage(e)}; expected one JSON object per line`);
      }
    });
}

/** Bind a text value by the column's type (the Data API needs typeHints; a plain string is varchar). */
async function binder(client: SqlClient, table: string): Promise<(column: string, v: unknown) => SqlParam> {
  const shape = await readTableShape(client, table);
  const kindFor = (c: (typeof shape.columns)[number]) => {
    try {
      return kindOf(c, client.dialect, table);
    } catch {
      return 'text' as const;
    }
  };
  const kinds = new Map(shape.columns.map((c) => [c.name, kindFor(c)]));
  return (column, v) => {
    if (v === null || v === undefined || v === '') return v === '' && kinds.get(column) === 'text' ? '' : null;
    const k = kinds.get(column);
    if (k === undefined) throw new BackfillFailed(`column ${table}.${column} does not exist on ${client.label}; expected the file's fields to be columns of the table`);
    const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
    switch (k) {
      case 'int':
        // A boolean into an integer column (PostgreSQL boolean → MySQL tinyint(1)): 1 / 0.
        if (typeof v === 'boolean') return v ? 1 : 0;
        if (!/^-?\d+$/.test(s)) throw new BackfillFailed(`column ${table}.${column} on ${client.label} is an integer; got ${JSON.stringify(v)}, expected an integer or a boolean`);
        return keyParam(s);
      case 'decimal':
        return { type: 'decimal', value: s };
      case 'float':
        return Number(s);
      case 'bool':
        return s === 'true' || s === '1' || s === 't';
      case 'timestamp':
      case 'timestamptz':
        return { type: 'timestamp', value: s.replace('T', ' ').replace(/Z$/, '') };
      case 'date':
        return { type: 'date', value: s };
      case 'time':
        return { type: 'time', value: s };
      case 'uuid':
        return client.dialect === 'postgres' ? { type: 'uuid', value: s } : s;
      case 'json':
        return { type: 'json', value: s };
      default:
        return s;
    }
  };
}

/** INSERT that keeps existing keys. */
function insertKeeping(client: SqlClient, table: string, columns: readonly string[], rows: number, key: string): string {
  const q = (x: string) => quoteIdent(x, client.dialect);
  const values = Array.from({ length: rows }, (_, r) => `(${columns.map((_c, i) => `:r${r}c${i}`).join(', ')})`).join(', ');
  return client.dialect === 'postgres'
    ? `INSERT INTO ${q(table)} (${columns.map(q).join(', ')}) VALUES ${values} ON CONFLICT (${q(key)}) DO NOTHING`
    : `INSERT IGNORE INTO ${q(table)} (${columns.map(q).join(', ')}) VALUES ${values}`;
}

async function insertRows(client: SqlClient, table: string, key: string, rows: Record<string, unknown>[], bind: (c: string, v: unknown) => SqlParam): Promise<number> {
  if (!rows.length) return 0;
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  let written = 0;
  // Statements stay well under 1 MiB: batches sized by the rows' bytes.
  let batch: Record<string, unknown>[] = [];
  let bytes = 0;
  const flush = async () => {
    if (!batch.length) return;
    const params: Record<string, SqlParam> = {};
    for (const [ri, r] of batch.entries()) for (const [ci, c] of columns.entries()) params[`r${ri}c${ci}`] = bind(c, r[c]);
    written += (await client.query(insertKeeping(client, table, columns, batch.length, key), params)).rowsAffected;
    batch = [];
    bytes = 0;
  };
  for (const r of rows) {
    batch.push(r);
    bytes += JSON.stringify(r).length + columns.length * 8;
    if (bytes > PAGE_BYTES_TARGET / 2 || batch.length >= 1000) await flush();
  }
  await flush();
  return written;
}

/** Bind an integer key bound exactly: a JS number while safe, else a bigint (never rounded through a double). */
export function keyParam(v: string): SqlParam {
  const n = Number(v);
  return Number.isSafeInteger(n) && String(n) === v ? n : BigInt(v);
}

/** Bind a chunk bound by its key's kind: an exact integer, text as is, a uuid typed on PostgreSQL (the Data API sends text as varchar). */
export function keyBound(v: string, kind: KeyKind | undefined, dialect: Dialect): SqlParam {
  return kind === undefined || kind === 'int' ? keyParam(v) : kind === 'uuid' && dialect === 'postgres' ? { type: 'uuid', value: v } : v;
}

/** (b) Copy [lo, hi] of the key from copyFrom into the task's table. */
export async function copyChunk(spec: RunSpec, task: BackfillTask, chunk: Pick<Chunk, 'lo' | 'hi' | 'key'>, deps: Deps): Promise<{ rows: number; read: number }> {
  const from = deps.sql(dbRef(spec, task.copyFrom!.database));
  const to = deps.sql(dbRef(spec, task.database));
  const sameDb = JSON.stringify(dbRef(spec, task.copyFrom!.database)) === JSON.stringify(dbRef(spec, task.database));
  const range = { lo: keyBound(chunk.lo, chunk.key, from.dialect), hi: keyBound(chunk.hi, chunk.key, from.dialect) };
  if (sameDb) {
    const q = (x: string) => quoteIdent(x, to.dialect);
    const cols = (await readTableShape(to, task.table)).columns.map((c) => q(c.name)).join(', ');
    const where = `${q(task.key)} BETWEEN :lo AND :hi`;
    const sql =
      to.dialect === 'postgres'
        ? `INSERT INTO ${q(task.table)} (${cols}) SELECT ${cols} FROM ${q(task.copyFrom!.table)} WHERE ${where} ON CONFLICT (${q(task.key)}) DO NOTHING`
        : `INSERT IGNORE INTO ${q(task.table)} (${cols}) SELECT ${cols} FROM ${q(task.copyFrom!.table)} WHERE ${where}`;
    const rows = (await to.query(sql, range)).rowsAffected;
    const read = Number((await to.query(`SELECT count(*) AS n FROM ${q(task.copyFrom!.table)} WHERE ${where}`, range)).rows[0]!.n);
    return { rows, read };
  }
  const bind = await binder(to, task.table);
  const q = (x: string) => quoteIdent(x, from.dialect);
  let read = 0;
  let rows = 0;
  let after: string | null = null;
  let pageRows = 1000;
  for (;;) {
    const cond: string = after === null ? `${q(task.key)} >= :lo` : `${q(task.key)} > :lo`;
    const sql = `SELECT * FROM ${q(task.copyFrom!.table)} WHERE ${cond} AND ${q(task.key)} <= :hi ORDER BY ${q(task.key)} LIMIT ${pageRows}`;
    const page: SqlRow[] = (await from.query(sql, { lo: after === null ? range.lo : keyBound(after, chunk.key, from.dialect), hi: range.hi })).rows;
    if (!page.length) break;
    read += page.length;
    rows += await insertRows(to, task.table, task.key, page, (c, v) => (v instanceof Uint8Array ? v : bind(c, v)));
    after = String(page[page.length - 1]![task.key]);
    if (page.length < pageRows) break;
    // Pages stay under the Data API's 1 MiB: the next page is sized by this one's bytes.
    const bytes = page.reduce((n: number, r: SqlRow) => n + approxRowBytes(r), 0);
    pageRows = Math.max(10, Math.min(10_000, Math.floor((pageRows * PAGE_BYTES_TARGET) / Math.max(bytes, 1))));
  }
  return { rows, read };
}

/** A load file read and cut to the range contract: the rows inside it, how many were read, the range as ISO times. */
export async function readLoadFile(
  spec: RunSpec,
  task: BackfillTask,
  file: string,
  deps: Pick<Deps, 'scripts'>,
): Promise<{ inside: Record<string, unknown>[]; read: number; range: { from: string; to: string } }> {
  const l = task.load!;
  let records: Record<string, unknown>[];
  try {
    const text = await deps.scripts.read(file);
    records = l.format === 'jsonl' ? parseJsonl(text) : parseCsv(text);
  } catch (e) {
    throw new BackfillFailed(`backfill task "${task.name}": ${file}: ${errorMessage(e)}`, { file });
  }
  const { from, to } = rangeContract(spec.tCutover, l.range);
  const inside = records.filter((r) => {
    const t = Date.parse(String(r[l.timeColumn] ?? ''));
    if (Number.isNaN(t)) throw new BackfillFailed(`backfill task "${task.name}": ${file}: a row has ${l.timeColumn} = ${JSON.stringify(r[l.timeColumn] ?? null)}; expected an ISO-8601 time`);
    return t >= from && t <= to;
  });
  return { inside, read: records.length, range: { from: new Date(from).toISOString(), to: Number.isFinite(to) ? new Date(to).toISOString() : 'open' } };
}

/** (c) Load one file, keeping only rows whose time column lies inside the range contract. */
export async function loadFileChunk(spec: RunSpec, task: BackfillTask, file: string, deps: Deps): Promise<{ rows: number; read: number; outsideRange: number; range: { from: string; to: string } }> {
  const { inside, read, range } = await readLoadFile(spec, task, file, deps);
  const client = deps.sql(dbRef(spec, task.database));
  const rows = await insertRows(client, task.table, task.key, inside, await binder(client, task.table));
  return { rows, read, outsideRange: read - inside.length, range };
}

/** Wait while the busy query says the database is busy (first column true or > 0). */
export async function waitWhileBusy(spec: RunSpec, deps: Deps): Promise<number> {
  const b = spec.backfill.busyQuery;
  if (!b) return 0;
  const client = deps.sql(dbRef(spec, b.database));
  const started = deps.clock.now().getTime();
  for (;;) {
    const row = (await client.query(b.sql)).rows[0];
    const v = row ? Object.values(row)[0] : null;
    const busy = v === true || (typeof v === 'number' && v > 0) || (typeof v === 'string' && (v === 't' || v === 'true' || Number(v) > 0));
    const waited = deps.clock.now().getTime() - started;
    if (!busy) return waited;
    if (waited >= b.maxWaitMs) throw new BackfillFailed(`the database stayed busy for ${waited} ms (busyQuery); expected it to calm down within backfill.busyQuery.maxWaitMs = ${b.maxWaitMs}`);
    await deps.clock.sleep(b.pollMs);
  }
}
