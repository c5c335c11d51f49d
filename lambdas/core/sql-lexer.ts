/**
 * A small SQL lexer shared by the statement splitter, the multi-statement
 * guard and the named-parameter binder. It knows what a `;` or `:name` inside
 * a string, a quoted identifier, a dollar-quoted body or a comment is, for
 * PostgreSQL and MySQL.
 */
export type Dialect = 'postgres' | 'mysql';

export type Token =
  | { kind: 'code'; text: string; start: number }
  | { kind: 'string' | 'ident' | 'comment' | 'dollar'; text: string; start: number }
  | { kind: 'semicolon'; text: ';'; start: number }
  | { kind: 'param'; text: string; name: string; start: number };

export class SqlSyntaxError extends Error {
  override readonly name = 'SqlSyntaxError';
}

const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_]/;

export function tokenize(sql: string, dialect: Dialect): Token[] {
  const out: Token[] = [];
  let i = 0;
  let codeStart = 0;
  const flushCode = (end: number) => {
    if (end > codeStart) out.push({ kind: 'code', text: sql.slice(codeStart, end), start: codeStart });
  };
  const push = (tok: Token, end: number) => {
    out.push(tok);
    i = end;
    codeStart = end;
  };
  const unterminated = (what: string, at: number): never => {
    const line = sql.slice(0, at).split('\n').length;
    throw new SqlSyntaxError(`unterminated ${what} starting at line ${line}: ${JSON.stringify(sql.slice(at, at + 40))}`);
  };
  const quoted = (q: string, backslashEscapes: boolean): number => {
    let j = i + 1;
    while (j < sql.length) {
      const c = sql[j];
      if (backslashEscapes && c === '\\') {
        j += 2;
        continue;
      }
      if (c === q) {
        if (sql[j + 1] === q) {
          j += 2;
          continue;
        }
        return j + 1;
      }
      j++;
    }
    return unterminated(q === "'" ? 'string' : 'quoted identifier', i);
  };

  while (i < sql.length) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === '-' && next === '-' && (dialect === 'postgres' || /\s/.test(sql[i + 2] ?? ' '))) {
      flushCode(i);
      const end = sql.indexOf('\n', i);
      push({ kind: 'comment', text: sql.slice(i, end < 0 ? sql.length : end), start: i }, end < 0 ? sql.length : end);
    } else if (c === '#' && dialect === 'mysql') {
      flushCode(i);
      const end = sql.indexOf('\n', i);
      push({ kind: 'comment', text: sql.slice(i, end < 0 ? sql.length : end), start: i }, end < 0 ? sql.length : end);
    } else if (c === '/' && next === '*') {
      flushCode(i);
      let depth = 1;
      let j = i + 2;
      while (j < sql.length && depth > 0) {
        if (dialect === 'postgres' && sql[j] === '/' && sql[j + 1] === '*') {
          depth++;
          j += 2;
        } else if (sql[j] === '*' && sql[j + 1] === '/') {
          depth--;
          j += 2;
        } else j++;
      }
      if (depth > 0) unterminated('block comment', i);
      push({ kind: 'comment', text: sql.slice(i, j), start: i }, j);
    } else if (c === "'") {
      flushCode(i);
      const escapes = dialect === 'mysql' || (i > 0 && /[eE]/.test(sql[i - 1]!) && !IDENT_PART.test(sql[i - 2] ?? ' '));
      const end = quoted("'", escapes);
      push({ kind: 'string', text: sql.slice(i, end), start: i }, end);
    } else if (c === '"') {
      flushCode(i);
      const end = quoted('"', dialect === 'mysql');
      push({ kind: dialect === 'mysql' ? 'string' : 'ident', text: sql.slice(i, end), start: i }, end);
    } else if (c === '`' && dialect === 'mysql') {
      flushCode(i);
      const end = quoted('`', false);
      push({ kind: 'ident', text: sql.slice(i, end), start: i }, end);
    } else if (c === '$' && dialect === 'postgres' && !IDENT_PART.test(sql[i - 1] ?? ' ')) {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (!m) {
        i++;
        continue;
      }
      flushCode(i);
      const tag = m[0];
      const end = sql.indexOf(tag, i + tag.length);
      if (end < 0) unterminated(`dollar-quoted body ${tag}`, i);
      push({ kind: 'dollar', text: sql.slice(i, end + tag.length), start: i }, end + tag.length);
    } else if (c === ';') {
      flushCode(i);
      push({ kind: 'semicolon', text: ';', start: i }, i + 1);
    } else if (c === ':' && next === ':') {
      i += 2; // PostgreSQL cast, not a parameter
    } else if (c === ':' && next !== undefined && IDENT_START.test(next) && sql[i - 1] !== ':') {
      flushCode(i);
      let j = i + 1;
      while (j < sql.length && IDENT_PART.test(sql[j]!)) j++;
      push({ kind: 'param', text: sql.slice(i, j), name: sql.slice(i + 1, j), start: i }, j);
    } else {
      i++;
    }
  }
  flushCode(sql.length);
  return out;
}

const isBlank = (t: Token) => t.kind === 'comment' || (t.kind === 'code' && t.text.trim() === '');

/** One statement of a script, with its 1-based line and its text (no trailing `;`). */
export interface Statement {
  readonly index: number;
  readonly line: number;
  readonly sql: string;
  /** Comments right before the statement (lint allow-list markers live here). */
  readonly comments?: string[];
}

/**
 * Split a script into statements (the Data API runs one statement per call).
 * Comment-only pieces are dropped; `;` inside strings, dollar quotes,
 * identifiers and comments does not split.
 */
export function splitStatements(script: string, dialect: Dialect): Statement[] {
  const tokens = tokenize(script, dialect);
  const out: Statement[] = [];
  let cur: Token[] = [];
  let depth = 0;
  let compound: boolean | null = null;
  const close = () => {
    if (cur.some((t) => !isBlank(t))) {
      const first = cur.find((t) => !isBlank(t))!;
      const last = [...cur].reverse().find((t) => !isBlank(t))!;
      const start = first.start + (first.text.length - first.text.trimStart().length);
      const text = script.slice(start, last.start + last.text.length).trim();
      const comments = cur.filter((t) => t.kind === 'comment' && t.start < first.start).map((t) => t.text);
      out.push({ index: out.length, line: script.slice(0, start).split('\n').length, sql: text, ...(comments.length ? { comments } : {}) });
    }
    cur = [];
    depth = 0;
    compound = null;
  };
  for (const t of tokens) {
    if (t.kind === 'semicolon' && depth <= 0) {
      close();
      continue;
    }
    cur.push(t);
    if (dialect !== 'mysql' || t.kind !== 'code') continue;
    // MySQL routines and triggers need no DELIMITER: `;` inside BEGIN ... END does not end the statement.
    if (compound === null && t.text.trim()) compound = MYSQL_COMPOUND.test(cur.filter((x) => x.kind === 'code').map((x) => x.text).join(' '));
    if (compound) depth += blockDelta(t.text);
  }
  close();
  return out;
}

const MYSQL_COMPOUND = /^\s*CREATE\s+(OR\s+REPLACE\s+)?(DEFINER\s*=\s*\S+\s+)?(AGGREGATE\s+)?(PROCEDURE|FUNCTION|TRIGGER|EVENT)\b/i;

/** Net block depth change of a code fragment: BEGIN/CASE/IF/LOOP/WHILE/REPEAT open, END closes (END IF etc. once). */
function blockDelta(code: string): number {
  const words = [...code.matchAll(/[A-Za-z_]+|\(/g)].map((m) => m[0].toUpperCase());
  let d = 0;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const prev = words[i - 1];
    const next = words[i + 1];
    if (w === 'END') {
      d--;
      if (next && ['IF', 'LOOP', 'WHILE', 'REPEAT', 'CASE'].includes(next)) i++;
    } else if (w === 'BEGIN' || w === 'CASE' || w === 'LOOP' || w === 'WHILE' || w === 'REPEAT') {
      if (prev !== 'END') d++;
    } else if (w === 'IF' && next !== '(' && next !== 'EXISTS' && next !== 'NOT' && prev !== 'END') d++;
  }
  return d;
}

export class MultiStatementError extends Error {
  override readonly name = 'MultiStatementError';
}

/**
 * Refuse what the Data API refuses: more than one statement in one call.
 * A single trailing `;` is allowed.
 */
export function assertSingleStatement(sql: string, dialect: Dialect): void {
  if (splitStatements(sql, dialect).length > 1) {
    throw new MultiStatementError(
      `Multistatements aren't supported: got ${JSON.stringify(sql.length > 120 ? `${sql.slice(0, 117)}...` : sql)}; expected exactly one SQL statement per call (split the script first)`,
    );
  }
}

/** Named `:params` in order of appearance (with repeats). */
export function namedParams(sql: string, dialect: Dialect): string[] {
  return tokenize(sql, dialect)
    .filter((t): t is Extract<Token, { kind: 'param' }> => t.kind === 'param')
    .map((t) => t.name);
}

/**
 * Rewrite `:name` placeholders with `render(name, ordinal)`; returns the SQL
 * and the names in positional order.
 */
export function rewriteParams(
  sql: string,
  dialect: Dialect,
  render: (name: string, position: number) => string,
): { sql: string; order: string[] } {
  const order: string[] = [];
  const text = tokenize(sql, dialect)
    .map((t) => {
      if (t.kind !== 'param') return t.text;
      order.push(t.name);
      return render(t.name, order.length);
    })
    .join('');
  return { sql: text, order };
}
