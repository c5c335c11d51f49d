/**
 * Canonical row text, computed in the database on both sides, so an MD5 of it
 * is equal exactly when the rows are equal — within one engine and across
 * PostgreSQL and MySQL/MariaDB. Rules: a NULL bitmap (NULL differs from ''),
 * each field length-prefixed, integers in decimal, decimals at one fixed
 * scale, doubles met by another engine or type as the exact decimal of their
 * shortest round-trip text (no rounding: the last bit counts), booleans 0/1,
 * timestamps in UTC with microseconds, binary as lower hex, uuid lower case,
 * enums and sets by label, json with key order not counting, text byte for
 * byte (case and trailing spaces count).
 */

import { quoteIdent } from '../sql-builders';
import type { Dialect } from '../sql-lexer';
import type { Column } from './catalog';

export type Kind = 'int' | 'decimal' | 'float' | 'bool' | 'text' | 'timestamp' | 'timestamptz' | 'date' | 'time' | 'bytes' | 'json' | 'uuid' | 'array';

export class CanonicalError extends Error {
  override readonly name = 'CanonicalError';
}

/** The canonical family of a column, or an error naming it. */
export function kindOf(c: Column, dialect: Dialect, table: string): Kind {
  const t = c.dataType;
  if (dialect === 'postgres') {
    if (['smallint', 'integer', 'bigint'].includes(t)) return 'int';
    if (t === 'numeric') return 'decimal';
    if (t === 'real' || t === 'double precision') return 'float';
    if (t === 'boolean') return 'bool';
    if (['text', 'character varying', 'character', 'citext', 'name'].includes(t) || c.isEnum) return 'text';
    if (t === 'timestamp without time zone') return 'timestamp';
    if (t === 'timestamp with time zone') return 'timestamptz';
    if (t === 'date') return 'date';
    if (t === 'time without time zone') return 'time';
    if (t === 'bytea') return 'bytes';
    if (t === 'json' || t === 'jsonb') return 'json';
    if (t === 'uuid') return 'uuid';
    if (t === 'array' && ['_text', '_varchar', '_int4', '_int8', '_int2'].includes(c.fullType)) return 'array';
    if (t === 'user-defined' && c.fullType === 'citext') return 'text';
  } else {
    if (['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'year'].includes(t)) return 'int';
    if (t === 'decimal') return 'decimal';
    if (t === 'float' || t === 'double') return 'float';
    if (['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'enum', 'set'].includes(t)) return 'text';
    if (t === 'datetime') return 'timestamp';
    if (t === 'timestamp') return 'timestamptz';
    if (t === 'date') return 'date';
    if (t === 'time') return 'time';
    if (['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob'].includes(t)) return 'bytes';
    if (t === 'json') return 'json';
  }
  throw new CanonicalError(
    `${table}.${c.name} has type ${c.fullType || t}, which cutline cannot canonicalize on ${dialect}; expected a number, text, boolean, date/time, binary, json, uuid or array column (or exclude the column)`,
  );
}

/** How one column is compared: its kind on each side and the shared decimal scale. */
export interface ColumnPlan {
  readonly name: string;
  readonly source: { readonly column: string; readonly kind: Kind };
  readonly target: { readonly column: string; readonly kind: Kind };
  readonly scale?: number;
  /** A PostgreSQL array compared with MySQL text (SET): rendered as a comma list. */
  readonly arrayAsList?: boolean;
  /** Same engine, same type and scale on both sides: the server's own text form is canonical enough (and cheaper). */
  readonly native?: boolean;
  /** A double met by another engine or type: both sides as the plain decimal of the shortest round-trip text. */
  readonly exactDecimal?: boolean;
  /** PostgreSQL jsonb on both sides: its text is already canonical (keys sorted, duplicates gone). */
  readonly jsonb?: boolean;
}

const COMPATIBLE: readonly (readonly [Kind, Kind])[] = [
  ['int', 'bool'],
  ['bool', 'int'],
  ['text', 'uuid'],
  ['uuid', 'text'],
  ['array', 'text'],
  ['text', 'array'],
  ['int', 'decimal'],
  ['decimal', 'int'],
  ['float', 'decimal'],
  ['decimal', 'float'],
  ['timestamp', 'timestamptz'],
  ['timestamptz', 'timestamp'],
];

/** Pair a source column with its target column; refuse a pair that has no common canonical form. */
export function planColumn(
  table: string,
  src: { column: Column; dialect: Dialect },
  tgt: { column: Column; dialect: Dialect },
): ColumnPlan {
  const sk = kindOf(src.column, src.dialect, table);
  const tk = kindOf(tgt.column, tgt.dialect, table);
  if (sk !== tk && !COMPATIBLE.some(([a, b]) => a === sk && b === tk))
    throw new CanonicalError(
      `${table}.${src.column.name}: source ${src.column.fullType} (${sk}) and target ${tgt.column.fullType} (${tk}) have no common canonical form; expected compatible types, or a column mapping / exclusion`,
    );
  if (sk === 'json' && src.dialect !== tgt.dialect)
    throw new CanonicalError(
      `${table}.${src.column.name}: json across engines has no common canonical text (key order and number formats differ); expected the same engine on both sides, or exclude the column`,
    );
  const floaty = sk === 'float' || tk === 'float';
  const native =
    src.dialect === tgt.dialect &&
    sk === tk &&
    src.column.fullType === tgt.column.fullType &&
    (src.column.scale ?? null) === (tgt.column.scale ?? null) &&
    (src.column.charset ?? null) === (tgt.column.charset ?? null);
  // A double is not rounded to meet a decimal or another engine: both sides print the exact decimal of its shortest
  // round-trip text (0.30000000000000004 stays that). Decimals and integers meet at the larger scale.
  const exactDecimal = floaty && !native && (src.dialect !== tgt.dialect || sk !== tk);
  const scale = (sk === 'decimal' || tk === 'decimal') && !floaty ? Math.max(src.column.scale ?? 0, tgt.column.scale ?? 0) : undefined;
  return {
    name: src.column.name,
    source: { column: src.column.name, kind: sk },
    target: { column: tgt.column.name, kind: tk },
    ...(scale !== undefined && !native ? { scale } : {}),
    ...(native ? { native: true } : {}),
    ...(exactDecimal ? { exactDecimal: true } : {}),
    ...(native && src.dialect === 'postgres' && src.column.fullType === 'jsonb' ? { jsonb: true } : {}),
    ...((sk === 'array' && tk === 'text') || (sk === 'text' && tk === 'array') ? { arrayAsList: true } : {}),
  };
}

/**
 * MySQL/MariaDB: a double's text (shortest round trip, plain or `d[.ddd]e±x` with one digit before the point:
 * `0.30000000000000004`, `1e20`, `-2.5e-300`) as a plain decimal without trailing zeros, PostgreSQL's
 * `trim_scale(numeric)` form: the digits placed by the exponent, exactly.
 */
function mysqlPlainDecimal(text: string): string {
  const digits = `REPLACE(REPLACE(SUBSTRING_INDEX(${text}, 'e', 1), '-', ''), '.', '')`;
  // Digits before the point: the mantissa's one, plus the exponent.
  const point = `(1 + CAST(SUBSTRING_INDEX(${text}, 'e', -1) AS SIGNED))`;
  const placed = `CASE WHEN ${point} >= CHAR_LENGTH(${digits}) THEN RPAD(${digits}, ${point}, '0') WHEN ${point} <= 0 THEN CONCAT('0.', REPEAT('0', -${point}), ${digits}) ELSE INSERT(${digits}, ${point} + 1, 0, '.') END`;
  return `CASE WHEN ${text} IN ('0', '-0') THEN '0' WHEN LOCATE('e', ${text}) = 0 THEN ${text} ELSE CONCAT(IF(LEFT(${text}, 1) = '-', '-', ''), ${placed}) END`;
}

/** SQL text of one canonical value (NULL stays NULL). */
export function canonicalValue(
  dialect: Dialect,
  column: string,
  kind: Kind,
  opts: { scale?: number; arrayAsList?: boolean; native?: boolean; exactDecimal?: boolean } = {},
): string {
  const c = quoteIdent(column, dialect);
  const pg = dialect === 'postgres';
  const scale = opts.scale;
  // Same engine and type on both sides: the server's text of the value is exact and equal for equal values
  // (sessions run in UTC); formatting is only needed to meet another engine.
  if (opts.native && ['int', 'decimal', 'float', 'timestamp', 'timestamptz', 'date', 'time', 'uuid', 'text'].includes(kind))
    return pg ? `${c}::text` : kind === 'text' ? `CONVERT(${c} USING utf8mb4)` : `CAST(${c} AS CHAR)`;
  if (opts.exactDecimal && (kind === 'float' || kind === 'decimal')) {
    // PostgreSQL prints a double's shortest round-trip digits (extra_float_digits >= 1, the default since 12); the
    // numeric of that text is exact. A decimal meeting a double: its value without trailing zeros.
    if (pg) return `trim_scale(${c}${kind === 'float' ? '::text' : ''}::numeric)::text`;
    if (kind === 'float') return mysqlPlainDecimal(`CAST(${c} AS CHAR)`);
    const t = `CAST(${c} AS CHAR)`;
    return `IF(LOCATE('.', ${t}) = 0, ${t}, TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM ${t})))`;
  }
  switch (kind) {
    case 'int':
      if (scale !== undefined) return pg ? `round(${c}::numeric, ${scale})::text` : `CAST(CAST(${c} AS DECIMAL(65,${scale})) AS CHAR)`;
      return pg ? `${c}::text` : `CAST(${c} AS CHAR)`;
    case 'decimal':
    case 'float':
      if (scale === undefined) return pg ? `${c}::text` : `CAST(${c} AS CHAR)`;
      return pg ? `round(${c}::numeric, ${scale})::text` : `CAST(CAST(${c} AS DECIMAL(65,${scale})) AS CHAR)`;
    case 'bool':
      return pg ? `CASE WHEN ${c} THEN '1' WHEN NOT ${c} THEN '0' END` : `CASE WHEN ${c} <> 0 THEN '1' WHEN ${c} = 0 THEN '0' END`;
    case 'text':
      return pg ? `${c}::text` : `CONVERT(${c} USING utf8mb4)`;
    case 'uuid':
      return pg ? `${c}::text` : `LOWER(CONVERT(${c} USING utf8mb4))`;
    case 'timestamp':
      return pg ? `to_char(${c}, 'YYYY-MM-DD HH24:MI:SS.US')` : `DATE_FORMAT(${c}, '%Y-%m-%d %H:%i:%s.%f')`;
    case 'timestamptz':
      // MySQL TIMESTAMP is read in the session zone; cutline sessions run in UTC (+00:00).
      return pg ? `to_char(${c} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')` : `DATE_FORMAT(${c}, '%Y-%m-%d %H:%i:%s.%f')`;
    case 'date':
      return pg ? `to_char(${c}, 'YYYY-MM-DD')` : `DATE_FORMAT(${c}, '%Y-%m-%d')`;
    case 'time':
      return pg ? `to_char(date '2000-01-01' + ${c}, 'HH24:MI:SS.US')` : `TIME_FORMAT(${c}, '%H:%i:%s.%f')`;
    case 'bytes':
      return pg ? `encode(${c}, 'hex')` : `LOWER(HEX(${c}))`;
    case 'json':
      // jsonb text and MySQL's JSON text both sort keys; MariaDB stores text, JSON_NORMALIZE sorts it.
      return pg ? `${c}::jsonb::text` : `JSON_NORMALIZE(${c})`;
    case 'array':
      return opts.arrayAsList ? `array_to_string(${c}, ',')` : `${c}::text`;
  }
}

const FREE_TEXT: readonly Kind[] = ['text', 'json', 'array'];

/** The canonical value of one compared column on one side. */
export function columnValue(dialect: Dialect, side: 'source' | 'target', p: ColumnPlan): string {
  return canonicalValue(dialect, p[side].column, p[side].kind, p);
}

/**
 * PostgreSQL, every column the same type on both sides: the row as the server prints it (record_out) is exact — each
 * field by its type's own output, NULL empty and '' as "", quotes and backslashes escaped — and costs less than the
 * column-by-column composition. json (not jsonb) is left out: its text keeps the key order, which must not count.
 */
export function nativeRow(dialect: Dialect, columns: readonly ColumnPlan[]): boolean {
  return dialect === 'postgres' && columns.length > 0 && columns.every((p) => p.native && (p.source.kind !== 'json' || p.jsonb));
}

/**
 * One side of a table comparison: the canonical row text expression. `wholeRow`: the alias of the table when the plan
 * compares every column of both tables in their order as the server prints them (its whole-row text, the cheapest).
 */
export function rowText(dialect: Dialect, side: 'source' | 'target', columns: readonly ColumnPlan[], wholeRow?: string): string {
  const pg = dialect === 'postgres';
  if (nativeRow(dialect, columns)) return wholeRow ? `${wholeRow}::text` : `ROW(${columns.map((p) => quoteIdent(p[side].column, dialect)).join(', ')})::text`;
  const values = columns.map((p) => columnValue(dialect, side, p));
  const bitmap = columns.map((p) => (pg ? `CASE WHEN ${quoteIdent(p[side].column, dialect)} IS NULL THEN '1' ELSE '0' END` : `ISNULL(${quoteIdent(p[side].column, dialect)})`));
  // A NULL field is left out by concat_ws (the bitmap says which). Only free text can hold the separator: it alone is
  // length-prefixed (numbers, times, hex, uuid cannot contain '|').
  const fields = values.map((v, i) => {
    const p = columns[i]!;
    // Decided per column pair, so both sides render the same shape (uuid on one side may be text on the other).
    const free = FREE_TEXT.includes(p.source.kind) || FREE_TEXT.includes(p.target.kind);
    if (!free) return v;
    // MySQL, the same type and character set on both sides: the column's own bytes and their count (no conversion).
    if (!pg && p.native && p[side].kind === 'text') {
      const c = quoteIdent(p[side].column, dialect);
      return `CONCAT(LENGTH(${c}), ':', ${c})`;
    }
    return pg ? `length(${v})::text || ':' || ${v}` : `CONCAT(CHAR_LENGTH(${v}), ':', ${v})`;
  });
  return pg ? `concat_ws('|', ${[bitmap.join(' || '), ...fields].join(', ')})` : `CONVERT(CONCAT_WS('|', CONCAT(${bitmap.join(', ')}), ${fields.join(', ')}) USING utf8mb4)`;
}

export function md5Of(dialect: Dialect, text: string): string {
  return dialect === 'postgres' ? `md5(${text})` : `MD5(${text})`;
}

/** Two 60-bit slices of an MD5 hex, as integers, summed exactly (numeric / DECIMAL), as text. */
export function sliceSums(dialect: Dialect, hashCol: string): { s1: string; s2: string } {
  if (dialect === 'postgres')
    return {
      s1: `coalesce(sum(('x' || substr(${hashCol}, 1, 15))::bit(60)::bigint), 0)::text`,
      s2: `coalesce(sum(('x' || substr(${hashCol}, 16, 15))::bit(60)::bigint), 0)::text`,
    };
  return {
    s1: `CAST(COALESCE(SUM(CAST(CONV(SUBSTRING(${hashCol}, 1, 15), 16, 10) AS UNSIGNED)), 0) AS CHAR)`,
    s2: `CAST(COALESCE(SUM(CAST(CONV(SUBSTRING(${hashCol}, 16, 15), 16, 10) AS UNSIGNED)), 0) AS CHAR)`,
  };
}
