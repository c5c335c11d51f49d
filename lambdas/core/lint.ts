/**
 * Migration lint: lock-heavy and destructive statements block unless the
 * file allow-lists them (`-- cutline:allow CL001 <reason>` right before the
 * statement). Destructive statements belong to the contract phase (applied
 * after the go/no-go). Each finding has a code, the statement, the lock it
 * takes and the safe alternative.
 */
import type { Dialect, Statement } from './sql-lexer';
import type { Migration } from './migrations';

export interface LintRule {
  readonly code: string;
  readonly title: string;
  readonly dialects: readonly Dialect[];
  /** Destructive rules are allowed in contract files. */
  readonly destructive?: boolean;
  readonly lock: string;
  readonly safe: string;
  test(sql: string, context: { createdTables: Set<string> }): boolean;
}

const norm = (sql: string) => sql.replace(/\s+/g, ' ').trim();
const table = (sql: string, re: RegExp) => (re.exec(sql)?.[1] ?? '').replace(/[`"]/g, '').toLowerCase();
const VOLATILE = /\bDEFAULT\s+(now\(\)|clock_timestamp\(\)|random\(\)|gen_random_uuid\(\)|uuid_generate_v\d\(\)|uuidv7\(\)|nextval\(|current_timestamp|uuid\(\))/i;
const ALTER_T = /^ALTER TABLE (?:IF EXISTS )?(?:ONLY )?([\w."`]+)/i;

export const RULES: readonly LintRule[] = [
  {
    code: 'CL001',
    title: 'index built without CONCURRENTLY',
    dialects: ['postgres'],
    lock: 'SHARE on the table for the whole build: writes wait',
    safe: 'CREATE INDEX CONCURRENTLY in a file of its own (cutline runs it outside a transaction)',
    test: (s, c) => /^CREATE (UNIQUE )?INDEX (?!CONCURRENTLY)/i.test(s) && !c.createdTables.has(table(s, /\bON (?:ONLY )?([\w."]+)/i)),
  },
  {
    code: 'CL002',
    title: 'foreign key added without NOT VALID',
    dialects: ['postgres'],
    lock: 'SHARE ROW EXCLUSIVE on both tables while every row is checked',
    safe: 'ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, then ALTER TABLE ... VALIDATE CONSTRAINT in a later statement',
    test: (s, c) => ALTER_T.test(s) && /\bADD (CONSTRAINT \S+ )?FOREIGN KEY\b/i.test(s) && !/\bNOT VALID\b/i.test(s) && !c.createdTables.has(table(s, ALTER_T)),
  },
  {
    code: 'CL003',
    title: 'SET NOT NULL without a validated CHECK',
    dialects: ['postgres'],
    lock: 'ACCESS EXCLUSIVE while the whole table is scanned',
    safe: 'ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID; VALIDATE CONSTRAINT c; then SET NOT NULL (uses the check)',
    test: (s, c) => ALTER_T.test(s) && /\bSET NOT NULL\b/i.test(s) && !c.createdTables.has(table(s, ALTER_T)),
  },
  {
    code: 'CL004',
    title: 'new column with a volatile default on an existing table',
    dialects: ['postgres', 'mysql'],
    lock: 'ACCESS EXCLUSIVE (PostgreSQL) / table copy (MySQL) while every row is rewritten',
    safe: 'add the column without a default, backfill it in chunks, then SET DEFAULT for new rows',
    test: (s, c) => ALTER_T.test(s) && /\bADD (COLUMN )?/i.test(s) && VOLATILE.test(s) && !c.createdTables.has(table(s, ALTER_T)),
  },
  {
    code: 'CL005',
    title: 'column type change',
    dialects: ['postgres', 'mysql'],
    lock: 'ACCESS EXCLUSIVE and a table rewrite (PostgreSQL) / table copy (MySQL)',
    safe: 'add a new column, backfill it in chunks, switch readers, drop the old one in the contract phase',
    test: (s) => ALTER_T.test(s) && (/\bALTER (COLUMN )?\S+ (SET DATA )?TYPE\b/i.test(s) || /\bMODIFY (COLUMN )?\S+ \w+/i.test(s) || /\bCHANGE (COLUMN )?\S+ \S+ \w+/i.test(s)),
  },
  {
    code: 'CL006',
    title: 'destructive statement',
    dialects: ['postgres', 'mysql'],
    destructive: true,
    lock: 'ACCESS EXCLUSIVE; data or objects are gone, and a rollback cannot bring them back',
    safe: 'keep legacy columns and tables until the contract phase (contract files run after the go/no-go)',
    test: (s) => /^(DROP (TABLE|SCHEMA|DATABASE|VIEW|MATERIALIZED VIEW|INDEX|TYPE|FUNCTION|PROCEDURE|TRIGGER)\b|TRUNCATE\b)/i.test(s) || (ALTER_T.test(s) && /\bDROP (COLUMN|CONSTRAINT|PRIMARY KEY|FOREIGN KEY|INDEX)\b/i.test(s)) || /^DELETE FROM \S+\s*$/i.test(s),
  },
  {
    code: 'CL007',
    title: 'rename',
    dialects: ['postgres', 'mysql'],
    destructive: true,
    lock: 'ACCESS EXCLUSIVE (brief); every running reader of the old name breaks at once',
    safe: 'expand/contract: add the new name (column or view), move readers, remove the old name in the contract phase',
    test: (s) => (ALTER_T.test(s) && /\bRENAME\b/i.test(s)) || /^RENAME TABLE\b/i.test(s),
  },
  {
    code: 'CL008',
    title: 'CHECK constraint added without NOT VALID',
    dialects: ['postgres'],
    lock: 'ACCESS EXCLUSIVE while every row is checked',
    safe: 'ADD CONSTRAINT ... CHECK (...) NOT VALID, then VALIDATE CONSTRAINT',
    test: (s, c) => ALTER_T.test(s) && /\bADD (CONSTRAINT \S+ )?CHECK\b/i.test(s) && !/\bNOT VALID\b/i.test(s) && !c.createdTables.has(table(s, ALTER_T)),
  },
  {
    code: 'CL009',
    title: 'UNIQUE or PRIMARY KEY constraint built in place',
    dialects: ['postgres'],
    lock: 'ACCESS EXCLUSIVE while the index is built',
    safe: 'CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... USING INDEX',
    test: (s, c) => ALTER_T.test(s) && /\bADD (CONSTRAINT \S+ )?(UNIQUE|PRIMARY KEY)\b/i.test(s) && !/\bUSING INDEX\b/i.test(s) && !c.createdTables.has(table(s, ALTER_T)),
  },
  {
    code: 'CL010',
    title: 'table rewrite or explicit lock',
    dialects: ['postgres', 'mysql'],
    lock: 'ACCESS EXCLUSIVE for the whole operation',
    safe: 'pg_repack / REINDEX CONCURRENTLY; never LOCK TABLE in a migration',
    test: (s) => /^(VACUUM FULL|CLUSTER|LOCK TABLES?|OPTIMIZE TABLE)\b/i.test(s) || /^REINDEX (?!.*CONCURRENTLY)/i.test(s),
  },
  {
    code: 'CL011',
    title: 'MySQL ALTER without an online algorithm',
    dialects: ['mysql'],
    lock: 'may copy the table and block writes (ALGORITHM=COPY)',
    safe: 'state ALGORITHM=INPLACE (or INSTANT), LOCK=NONE so MySQL refuses instead of locking, or use gh-ost / pt-online-schema-change',
    test: (s, c) => ALTER_T.test(s) && /\bADD (UNIQUE |FULLTEXT |SPATIAL )?(INDEX|KEY|FOREIGN KEY|CONSTRAINT)\b/i.test(s) && !/\bALGORITHM\s*=\s*(INPLACE|INSTANT)\b/i.test(s) && !c.createdTables.has(table(s, ALTER_T)),
  },
];

export interface LintFinding {
  readonly code: string;
  readonly title: string;
  readonly script: string;
  readonly line: number;
  readonly statement: string;
  readonly lock: string;
  readonly safe: string;
  readonly allowed: boolean;
  readonly allowReason?: string;
  readonly blocking: boolean;
}

/** Lock a statement takes, for the dry run (PostgreSQL names; MySQL: metadata lock / copy). */
export function expectedLock(sql: string, dialect: Dialect): string {
  const s = norm(sql);
  if (dialect === 'mysql') {
    if (/^(CREATE|DROP|ALTER|RENAME|TRUNCATE)\b/i.test(s)) return /ALGORITHM\s*=\s*INSTANT/i.test(s) ? 'metadata lock (instant)' : 'metadata lock; may copy the table';
    return /^(INSERT|UPDATE|DELETE)\b/i.test(s) ? 'row locks' : 'none';
  }
  if (/^CREATE (UNIQUE )?INDEX CONCURRENTLY/i.test(s)) return 'SHARE UPDATE EXCLUSIVE (writes continue)';
  if (/^CREATE (UNIQUE )?INDEX/i.test(s)) return 'SHARE (writes wait)';
  if (/^CREATE TABLE/i.test(s)) return 'none on existing tables';
  if (/^ALTER TABLE .* VALIDATE CONSTRAINT/i.test(s)) return 'SHARE UPDATE EXCLUSIVE (writes continue)';
  if (/^ALTER TABLE .* ADD (CONSTRAINT \S+ )?FOREIGN KEY/i.test(s)) return 'SHARE ROW EXCLUSIVE';
  if (/^(ALTER|DROP|TRUNCATE|LOCK|VACUUM FULL|CLUSTER|REINDEX)\b/i.test(s)) return 'ACCESS EXCLUSIVE';
  if (/^(INSERT|UPDATE|DELETE|MERGE)\b/i.test(s)) return 'ROW EXCLUSIVE';
  return 'none';
}

const ALLOW = /cutline:allow\s+([A-Z]{2}\d{3}(?:\s*,\s*[A-Z]{2}\d{3})*)\s*(.*)$/i;

function allowance(st: Statement, code: string): { allowed: boolean; reason?: string } {
  for (const c of st.comments ?? []) {
    const m = ALLOW.exec(c.replace(/^--\s*|^\/\*\s*|\s*\*\/$/g, ''));
    if (m && m[1]!.split(/\s*,\s*/).map((x) => x.toUpperCase()).includes(code)) return { allowed: true, reason: m[2]?.trim() || undefined };
  }
  return { allowed: false };
}

/** Lint files; `contract` files may hold destructive statements. */
export function lintMigrations(migrations: readonly Migration[], dialect: Dialect, opts: { contract?: boolean } = {}): LintFinding[] {
  const createdTables = new Set<string>();
  const out: LintFinding[] = [];
  for (const m of migrations) {
    for (const st of m.statements) {
      const s = norm(st.sql);
      const created = /^CREATE TABLE (?:IF NOT EXISTS )?([\w."`]+)/i.exec(s)?.[1];
      for (const rule of RULES) {
        if (!rule.dialects.includes(dialect) || !rule.test(s, { createdTables })) continue;
        const a = allowance(st, rule.code);
        const contractOk = !!rule.destructive && !!opts.contract;
        out.push({
          code: rule.code,
          title: rule.title,
          script: m.script,
          line: st.line,
          statement: s.length > 200 ? `${s.slice(0, 197)}...` : s,
          lock: rule.lock,
          safe: rule.safe,
          allowed: a.allowed || contractOk,
          ...(a.reason ? { allowReason: a.reason } : contractOk ? { allowReason: 'contract phase (after go/no-go)' } : {}),
          blocking: !(a.allowed || contractOk),
        });
      }
      if (created) createdTables.add(created.replace(/[`"]/g, '').toLowerCase());
    }
  }
  return out;
}

export function formatFinding(f: LintFinding): string {
  return `${f.script}:${f.line} ${f.code} ${f.title}${f.allowed ? ` (allowed${f.allowReason ? `: ${f.allowReason}` : ''})` : ''}\n    ${f.statement}\n    lock: ${f.lock}\n    instead: ${f.safe}`;
}
