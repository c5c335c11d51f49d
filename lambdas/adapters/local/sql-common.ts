/**
 * Shared by the local SQL adapters: they bind parameters and shape results the
 * way the Data API does, so what passes locally also passes on Aurora.
 */
import { assertSingleStatement, rewriteParams } from '../../core/sql-lexer';
import type { SqlParam, SqlParams, SqlValue } from '../../ports';

export class MissingParamError extends Error {
  override readonly name = 'MissingParamError';
}

function paramValue(name: string, params: SqlParams): SqlParam {
  if (!(name in params)) {
    throw new MissingParamError(`SQL uses :${name} but no value was given; got params ${JSON.stringify(Object.keys(params))}`);
  }
  return params[name]!;
}

const PG_CAST: Record<string, string> = {
  uuid: 'uuid',
  timestamp: 'timestamp',
  date: 'date',
  time: 'time',
  decimal: 'numeric',
  json: 'json',
};

/**
 * PostgreSQL: `:name` -> `$n::type`. A plain string binds as varchar, exactly
 * like the Data API's stringValue: comparing it to a uuid column fails here
 * too, unless the caller gives { type: 'uuid' } (the Data API's typeHint).
 */
export function bindPostgres(sql: string, params: SqlParams = {}): { text: string; values: unknown[] } {
  assertSingleStatement(sql, 'postgres');
  const values: unknown[] = [];
  const { sql: text } = rewriteParams(sql, 'postgres', (name, pos) => {
    const v = paramValue(name, params);
    let cast = '';
    let bound: unknown = v;
    if (v === null) cast = '';
    else if (typeof v === 'string') cast = '::varchar';
    else if (typeof v === 'number') cast = Number.isInteger(v) ? '::int8' : '::float8';
    else if (typeof v === 'bigint') {
      cast = '::int8';
      bound = v.toString();
    } else if (typeof v === 'boolean') cast = '::boolean';
    else if (v instanceof Uint8Array) cast = '::bytea';
    else {
      cast = `::${PG_CAST[v.type]}`;
      bound = v.value;
    }
    values.push(bound);
    return `$${pos}${cast}`;
  });
  return { text, values };
}

/** MySQL: `:name` -> `?`; typed values bind as their text. */
export function bindMysql(sql: string, params: SqlParams = {}): { text: string; values: unknown[] } {
  assertSingleStatement(sql, 'mysql');
  const values: unknown[] = [];
  const { sql: text } = rewriteParams(sql, 'mysql', (name) => {
    const v = paramValue(name, params);
    values.push(
      v === null || typeof v !== 'object' || v instanceof Uint8Array
        ? typeof v === 'bigint'
          ? v.toString()
          : v instanceof Uint8Array
            ? Buffer.from(v)
            : v
        : v.value,
    );
    return '?';
  });
  return { text, values };
}

/** PostgreSQL type OIDs returned as the server's text (exact, like the Data API's stringValue). */
export const PG_TEXT_OIDS = [20, 1700, 1114, 1184, 1082, 1083, 1266, 114, 3802, 2950, 1186] as const;

export function normalizeValue(v: unknown): SqlValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (v instanceof Date) return v.toISOString();
  return JSON.stringify(v);
}

/** A URL without its password, for messages and evidence. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
