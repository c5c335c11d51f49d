/** The Data API's wire format, as the loopback serves it: parameters bound as the service binds them, columns and records encoded as it encodes them. */
import { rewriteParams } from '../../core/sql-lexer';

/** The most bytes of one row the service returns. */
export const ROW_LIMIT = 64 * 1024;

export interface Field {
  isNull?: boolean;
  stringValue?: string;
  longValue?: number;
  doubleValue?: number;
  booleanValue?: boolean;
  blobValue?: string;
}
export interface Param {
  name: string;
  value: Field;
  typeHint?: string;
}
/** How the service encodes a column's values (Field member), its type's name and number in columnMetadata. */
export interface Column {
  readonly name: string;
  readonly kind: 'long' | 'double' | 'boolean' | 'blob' | 'string';
  readonly typeName: string;
  readonly type: number;
}
export type Exec = (text: string, values: unknown[]) => Promise<{ rows: unknown[][]; fields: Column[]; affected: number; command?: string }>;

/** One connection for one call (or one transaction): statements on it, a way to stop the one running, and its end. */
export interface Session {
  exec: Exec;
  /** Stop the running statement (a call that timed out without continueAfterTimeout). */
  cancel(): Promise<void>;
}
export interface Backend {
  /** The engine's SQL dialect (parameters, one statement per call). */
  readonly dialect: 'postgres' | 'mysql';
  /** A connection of the pool for one call; `end` resets every session setting, so nothing carries to the next call. */
  session(): Promise<Session & { end(): Promise<void> }>;
  begin(): Promise<Session & { commit(): Promise<void>; rollback(): Promise<void> }>;
}

export const TYPE_NAMES: Record<number, string> = { 16: 'bool', 17: 'bytea', 20: 'int8', 21: 'int2', 23: 'int4', 25: 'text', 700: 'float4', 701: 'float8', 1043: 'varchar', 1082: 'date', 1083: 'time', 1114: 'timestamp', 1184: 'timestamptz', 1700: 'numeric', 2950: 'uuid', 114: 'json', 3802: 'jsonb' };
export const HINT_CAST: Record<string, string> = { UUID: 'uuid', TIMESTAMP: 'timestamp', DATE: 'date', TIME: 'time', DECIMAL: 'numeric', JSON: 'json' };

export class BadRequest extends Error {}

/** A PostgreSQL column as the service describes it. */
export function pgColumn(f: { name: string; dataTypeID: number }): Column {
  const oid = f.dataTypeID;
  const kind = oid === 20 || oid === 21 || oid === 23 ? 'long' : oid === 700 || oid === 701 ? 'double' : oid === 16 ? 'boolean' : oid === 17 ? 'blob' : 'string';
  return { name: f.name, kind, typeName: TYPE_NAMES[oid] ?? String(oid), type: oid };
}

/** MySQL protocol column types (mysql2's columnType) as the service names and encodes them. */
export const MYSQL_TYPES: Record<number, [Column['kind'], string]> = {
  1: ['long', 'TINYINT'], 2: ['long', 'SMALLINT'], 3: ['long', 'INT'], 8: ['long', 'BIGINT'], 9: ['long', 'MEDIUMINT'], 13: ['long', 'YEAR'],
  4: ['double', 'FLOAT'], 5: ['double', 'DOUBLE'], 0: ['string', 'DECIMAL'], 246: ['string', 'DECIMAL'],
  7: ['string', 'TIMESTAMP'], 12: ['string', 'DATETIME'], 10: ['string', 'DATE'], 11: ['string', 'TIME'], 245: ['string', 'JSON'], 16: ['boolean', 'BIT'],
  249: ['string', 'TEXT'], 250: ['string', 'TEXT'], 251: ['string', 'TEXT'], 252: ['string', 'TEXT'], 253: ['string', 'VARCHAR'], 254: ['string', 'CHAR'],
};
export const BINARY_CHARSET = 63;
export const UNSIGNED_FLAG = 32;

export function mysqlColumn(f: { name: string; columnType?: number; type?: number; characterSet?: number; flags?: number | string[] }): Column {
  const code = f.columnType ?? f.type ?? 253;
  let [kind, typeName] = MYSQL_TYPES[code] ?? (['string', String(code)] as [Column['kind'], string]);
  // Binary strings and BLOBs come as blobValue; text ones as stringValue.
  if (f.characterSet === BINARY_CHARSET && code >= 249 && code <= 254) [kind, typeName] = ['blob', code === 253 ? 'VARBINARY' : code === 254 ? 'BINARY' : 'BLOB'];
  const unsigned = typeof f.flags === 'number' && (f.flags & UNSIGNED_FLAG) !== 0;
  return { name: f.name, kind, typeName: kind === 'long' && unsigned ? `${typeName} UNSIGNED` : typeName, type: code };
}

/** MySQL: `?` placeholders and the values as mysql2 escapes them (no casts: MySQL converts on assignment). */
export function bindMysqlParams(sql: string, params: Param[]): { text: string; values: unknown[] } {
  const byName = new Map(params.map((p) => [p.name, p]));
  const values: unknown[] = [];
  const { sql: text } = rewriteParams(sql, 'mysql', (name) => {
    const p = byName.get(name);
    if (!p) throw new BadRequest(`No value specified for parameter: ${name}`);
    const v = p.value;
    if (v.isNull) values.push(null);
    else if (v.stringValue !== undefined) values.push(v.stringValue);
    else if (v.longValue !== undefined) values.push(BigInt(v.longValue));
    else if (v.doubleValue !== undefined) values.push(v.doubleValue);
    else if (v.booleanValue !== undefined) values.push(v.booleanValue);
    else if (v.blobValue !== undefined) values.push(Buffer.from(v.blobValue, 'base64'));
    else throw new BadRequest(`parameter ${name} has no value`);
    return '?';
  });
  return { text, values };
}

export function bind(sql: string, params: Param[]): { text: string; values: unknown[] } {
  const byName = new Map(params.map((p) => [p.name, p]));
  const values: unknown[] = [];
  const { sql: text } = rewriteParams(sql, 'postgres', (name, pos) => {
    const p = byName.get(name);
    if (!p) throw new BadRequest(`No value specified for parameter: ${name}`);
    const v = p.value;
    let cast = '';
    if (v.isNull) values.push(null);
    else if (v.stringValue !== undefined) {
      values.push(v.stringValue);
      cast = p.typeHint ? `::${HINT_CAST[p.typeHint]}` : '::varchar';
    } else if (v.longValue !== undefined) {
      values.push(String(v.longValue));
      cast = '::int8';
    } else if (v.doubleValue !== undefined) {
      values.push(v.doubleValue);
      cast = '::float8';
    } else if (v.booleanValue !== undefined) {
      values.push(v.booleanValue);
      cast = '::boolean';
    } else if (v.blobValue !== undefined) {
      values.push(Buffer.from(v.blobValue, 'base64'));
      cast = '::bytea';
    } else throw new BadRequest(`parameter ${name} has no value`);
    return `$${pos}${cast}`;
  });
  return { text, values };
}

/** The response JSON; BIGINT digits are written raw, as the service does (the SDK then parses a JS number). */
/** Records as the service encodes them; with resultSetOptions.longReturnType STRING every integer comes as a string. */
export function encode(rows: unknown[][], fields: Column[], longAsString = false): string {
  const recs = rows.map((row) => {
    const rec = `[${row
        .map((v, i) => {
          const kind = fields[i]!.kind;
          if (v === null || v === undefined) return '{"isNull":true}';
          if (kind === 'long') return longAsString ? `{"stringValue":"${String(v)}"}` : `{"longValue":${String(v)}}`;
          if (kind === 'double') return `{"doubleValue":${JSON.stringify(Number(v))}}`;
          if (kind === 'boolean') return `{"booleanValue":${v === true || v === 't' || v === 1 || (Buffer.isBuffer(v) && v[0] === 1)}}`;
          if (kind === 'blob') return `{"blobValue":${JSON.stringify(Buffer.from(v as Uint8Array).toString('base64'))}}`;
          return `{"stringValue":${JSON.stringify(typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : String(v))}}`;
        })
        .join(',')}]`;
    if (Buffer.byteLength(rec) > ROW_LIMIT) throw new BadRequest(`Database returned a row of ${Buffer.byteLength(rec)} bytes; the Data API allows ${ROW_LIMIT} per row`);
    return rec;
  });
  const meta = fields.map((f) => ({ name: f.name, label: f.name, typeName: f.typeName, type: f.type }));
  return `{"columnMetadata":${JSON.stringify(meta)},"numberOfRecordsUpdated":0,"records":[${recs.join(',')}]}`;
}

