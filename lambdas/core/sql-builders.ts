/** SQL text per dialect. Handlers never build SQL; core does, here. */
import type { Dialect } from './sql-lexer';

export function quoteIdent(name: string, dialect: Dialect): string {
  const q = dialect === 'postgres' ? '"' : '`';
  return name
    .split('.')
    .map((part) => `${q}${part.replaceAll(q, q + q)}${q}`)
    .join('.');
}

/** min/max of an integer key as strings, for range planning. */
export function keyBoundsSql(dialect: Dialect, table: string, key: string): string {
  const t = quoteIdent(table, dialect);
  const k = quoteIdent(key, dialect);
  return dialect === 'postgres'
    ? `SELECT min(${k})::text AS lo, max(${k})::text AS hi FROM ${t}`
    : `SELECT CAST(MIN(${k}) AS CHAR) AS lo, CAST(MAX(${k}) AS CHAR) AS hi FROM ${t}`;
}

/** The data type of a column, to refuse non-integer keys with a clear message. */
export function columnTypeSql(dialect: Dialect): string {
  return dialect === 'postgres'
    ? `SELECT data_type AS type FROM information_schema.columns WHERE table_schema = coalesce(:schema, current_schema()) AND table_name = :table AND column_name = :column`
    : `SELECT DATA_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = coalesce(:schema, DATABASE()) AND TABLE_NAME = :table AND COLUMN_NAME = :column`;
}

export function splitQualified(name: string): { schema: string | null; table: string } {
  const parts = name.split('.');
  return parts.length === 2 ? { schema: parts[0]!, table: parts[1]! } : { schema: null, table: parts[0]! };
}
