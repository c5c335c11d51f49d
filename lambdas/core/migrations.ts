/**
 * Schema stage: versioned SQL files (V<version>__<name>.sql) applied statement
 * by statement (the Data API runs one per call), recorded in a history table
 * with each file's SHA-256 and a chained directory hash. Validate before
 * apply: an edited, inserted or removed file already applied is a hard failure.
 */
import type { Deps, SqlClient } from '../ports';
import { errorMessage, MigrationFailed, MigrationStillRunning } from './errors';
import { isConnectionLost, isTransient } from './retry';
import { acquireLease, createIfMissing, releaseLease } from './lease';
import { sha256Hex } from './evidence';
import { quoteIdent } from './sql-builders';
import { type Dialect, type Statement, splitStatements } from './sql-lexer';

import { applyStepwise, isLockTimeout, needsNoTransaction, type RemainingMs } from './migration-steps';


/** The expand files of a spec: bundled in the spec, or listed from a folder / S3 prefix. */
export async function expandFiles(m: { location: string; files?: readonly MigrationFile[] }, scripts: { list(location: string): Promise<MigrationFile[]> }): Promise<MigrationFile[]> {
  return m.location === 'bundled' ? [...(m.files ?? [])] : scripts.list(m.location);
}

export interface MigrationFile {
  readonly name: string;
  readonly body: string;
}

export interface Migration {
  readonly version: string;
  readonly description: string;
  readonly script: string;
  readonly sha256: string;
  /** sha256(previous chain + sha256): the directory hash up to and including this file. */
  readonly chain: string;
  readonly statements: Statement[];
}

const FILE = /^V(\d+(?:[._]\d+)*)__([A-Za-z0-9_-]+)\.sql$/;

function versionKey(v: string): number[] {
  return v.split(/[._]/).map(Number);
}
export function compareVersion(a: string, b: string): number {
  const x = versionKey(a);
  const y = versionKey(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

/** Parse, order and split the files. Bad names, duplicate versions and unsplittable SQL fail here, before anything runs. */
export function loadMigrations(files: readonly MigrationFile[], dialect: Dialect): Migration[] {
  const sqlFiles = files.filter((f) => f.name.endsWith('.sql'));
  const bad = sqlFiles.filter((f) => !FILE.test(f.name));
  if (bad.length)
    throw new MigrationFailed(
      `migration file name ${JSON.stringify(bad[0]!.name)} does not match V<version>__<description>.sql (e.g. V1__add_agent_uuid.sql)`,
      { files: bad.map((f) => f.name) },
    );
  const parsed = sqlFiles
    .map((f) => {
      const m = FILE.exec(f.name)!;
      return { f, version: m[1]!.replaceAll('_', '.'), description: m[2]! };
    })
    .sort((a, b) => compareVersion(a.version, b.version));
  let chain = '';
  return parsed.map(({ f, version, description }, i) => {
    const prev = parsed[i - 1];
    if (prev && compareVersion(prev.version, version) === 0)
      throw new MigrationFailed(`two migration files have version ${version}: ${prev.f.name} and ${f.name}`);
    let statements: Statement[];
    try {
      statements = splitStatements(f.body, dialect);
    } catch (e) {
      throw new MigrationFailed(`cannot split ${f.name} into statements: ${errorMessage(e)}`, { script: f.name });
    }
    if (statements.length === 0) throw new MigrationFailed(`migration ${f.name} holds no SQL statement`, { script: f.name });
    const sha256 = sha256Hex(f.body);
    chain = sha256Hex(chain + sha256);
    return { version, description, script: f.name, sha256, chain, statements };
  });
}

export interface HistoryRow {
  readonly version: string;
  readonly script: string;
  readonly sha256: string;
  readonly success: boolean;
  readonly statements_applied: number;
  readonly statements_total: number;
  /** SHA-256 of each statement applied, in order: the statement log a half-applied file resumes from. */
  readonly statement_hashes?: readonly string[];
}

export const statementHash = (sql: string) => sha256Hex(sql);

export function historyDdl(dialect: Dialect, table: string): string {
  const t = quoteIdent(table, dialect);
  return dialect === 'postgres'
    ? `CREATE TABLE IF NOT EXISTS ${t} (
  version text PRIMARY KEY, script text NOT NULL, sha256 char(64) NOT NULL, chain char(64) NOT NULL,
  execution_arn text NOT NULL, applied_by text NOT NULL,
  started_at timestamptz NOT NULL, finished_at timestamptz, success boolean NOT NULL,
  statements_applied integer NOT NULL, statements_total integer NOT NULL, statement_hashes text NOT NULL, error text)`
    : `CREATE TABLE IF NOT EXISTS ${t} (
  version varchar(64) PRIMARY KEY, script varchar(255) NOT NULL, sha256 char(64) NOT NULL, chain char(64) NOT NULL,
  execution_arn varchar(2048) NOT NULL, applied_by varchar(255) NOT NULL,
  started_at datetime(6) NOT NULL, finished_at datetime(6) NULL, success boolean NOT NULL,
  statements_applied integer NOT NULL, statements_total integer NOT NULL, statement_hashes longtext NOT NULL, error text NULL)`;
}

export interface ValidationProblem {
  readonly script: string;
  readonly problem: 'edited' | 'removed' | 'inserted';
  readonly detail: string;
}

/** Pure: compare files with history. Pending = files not yet applied successfully, in order. */
export function validateAgainstHistory(
  migrations: readonly Migration[],
  history: readonly HistoryRow[],
): { problems: ValidationProblem[]; pending: Migration[]; partial: Map<string, number> } {
  const byVersion = new Map(history.map((h) => [h.version, h]));
  const files = new Map(migrations.map((m) => [m.version, m]));
  const problems: ValidationProblem[] = [];
  const applied = history.filter((h) => h.success);
  const maxApplied = applied.reduce<string | undefined>((mx, h) => (!mx || compareVersion(h.version, mx) > 0 ? h.version : mx), undefined);
  for (const h of applied) {
    const m = files.get(h.version);
    if (!m) problems.push({ script: h.script, problem: 'removed', detail: `${h.script} (version ${h.version}) was applied but is no longer in the migrations folder` });
    else if (m.sha256 !== h.sha256)
      problems.push({ script: m.script, problem: 'edited', detail: `${m.script} changed after it was applied: sha256 ${m.sha256.slice(0, 12)}… now, ${h.sha256.slice(0, 12)}… when applied` });
  }
  const pending: Migration[] = [];
  const partial = new Map<string, number>();
  for (const m of migrations) {
    const h = byVersion.get(m.version);
    if (h?.success) continue;
    if (maxApplied && compareVersion(m.version, maxApplied) < 0)
      problems.push({ script: m.script, problem: 'inserted', detail: `${m.script} (version ${m.version}) is older than the newest applied version ${maxApplied}: files must only be added after it` });
    // Resume only where every statement already applied is, hash for hash, the file's own.
    if (h && h.sha256 === m.sha256 && h.statements_applied >= 0) {
      const logged = h.statement_hashes ?? [];
      const same = logged.length === h.statements_applied && logged.every((x, i) => x === statementHash(m.statements[i]?.sql ?? ''));
      if (same) partial.set(m.version, h.statements_applied);
      else problems.push({ script: m.script, problem: 'edited', detail: `${m.script}: the statements logged as applied do not match the file's first ${h.statements_applied}; expected the file unchanged since it was cut off` });
    }
    pending.push(m);
  }
  return { problems, pending, partial };
}

export interface SchemaOutcome {
  readonly applied: { script: string; statements: number; resumedAt?: number; outsideTransaction?: boolean; lockRetries?: number }[];
  readonly skipped: number;
  readonly directoryHash: string;
  readonly baselined?: string[];
}

export async function readHistory(client: SqlClient, table: string): Promise<HistoryRow[]> {
  const t = quoteIdent(table, client.dialect);
  const { rows } = await client.query(
    `SELECT version, script, sha256, success, statements_applied, statements_total, statement_hashes FROM ${t} ORDER BY version`,
  );
  return rows.map((r) => ({
    version: String(r.version),
    script: String(r.script),
    sha256: String(r.sha256),
    success: r.success === true || r.success === 1,
    statements_applied: Number(r.statements_applied),
    statements_total: Number(r.statements_total),
    statement_hashes: JSON.parse(String(r.statement_hashes ?? '[]')) as string[],
  }));
}

export async function writeHistory(
  client: SqlClient,
  table: string,
  m: Migration,
  row: { executionArn: string; appliedBy: string; startedAt: string; finishedAt: string | null; success: boolean; applied: number; error: string | null },
): Promise<void> {
  const t = quoteIdent(table, client.dialect);
  const ts = (v: string | null) => (v === null ? null : { type: 'timestamp' as const, value: v.replace('T', ' ').replace('Z', '') });
  // One statement (an upsert): a kill can never leave the version without its row.
  const cols = ['script', 'sha256', 'chain', 'execution_arn', 'applied_by', 'started_at', 'finished_at', 'success', 'statements_applied', 'statements_total', 'statement_hashes', 'error'];
  const update =
    client.dialect === 'postgres' ? `ON CONFLICT (version) DO UPDATE SET ${cols.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}` : `ON DUPLICATE KEY UPDATE ${cols.map((c) => `${c} = VALUES(${c})`).join(', ')}`;
  await client.query(
    `INSERT INTO ${t} (version, script, sha256, chain, execution_arn, applied_by, started_at, finished_at, success, statements_applied, statements_total, statement_hashes, error)
     VALUES (:version, :script, :sha256, :chain, :arn, :by, :started, :finished, :success, :applied, :total, :hashes, :error) ${update}`,
    {
      version: m.version,
      script: m.script,
      sha256: m.sha256,
      chain: m.chain,
      arn: row.executionArn,
      by: row.appliedBy,
      started: ts(row.startedAt),
      finished: ts(row.finishedAt),
      success: row.success,
      applied: row.applied,
      total: m.statements.length,
      hashes: JSON.stringify(m.statements.slice(0, row.applied).map((x) => statementHash(x.sql))),
      error: row.error,
    },
  );
}

/** Did this file commit? Its history row is written in the file's own transaction. */
async function committed(client: SqlClient, table: string, m: Migration): Promise<boolean> {
  return (await readHistory(client, table)).some((r) => r.version === m.version && r.sha256 === m.sha256 && r.success);
}

/** Record files up to the baseline version as applied (an existing database adopting cutline). */
async function baseline(client: SqlClient, table: string, migrations: readonly Migration[], version: string, by: string, at: string): Promise<string[]> {
  const done: string[] = [];
  for (const m of migrations.filter((x) => compareVersion(x.version, version) <= 0)) {
    await writeHistory(client, table, m, { executionArn: 'baseline', appliedBy: by, startedAt: at, finishedAt: at, success: true, applied: 0, error: null });
    done.push(m.script);
  }
  return done;
}

/**
 * Apply pending migrations. PostgreSQL: each file and its history row in one
 * transaction, with lock_timeout and retries. MySQL (DDL commits) and
 * PostgreSQL files that cannot run in a transaction (CONCURRENTLY): statement
 * by statement, history updated after each, so a half-applied file resumes
 * at the next statement. A lease row keeps a second run out.
 */
export async function applyMigrations(
  client: SqlClient,
  migrations: readonly Migration[],
  opts: {
    historyTable: string;
    executionArn: string;
    appliedBy: string;
    deps: Pick<Deps, 'clock' | 'progress'>;
    /** Apply only these (e.g. the expand files before the go, the contract files after); all are validated. */
    apply?: (m: Migration) => boolean;
    baselineVersion?: string;
    leaseSeconds?: number;
    lockTimeoutMs?: number;
    lockRetries?: number;
    /** The invocation's time left: a statement that outlives it is handed to the next invocation (MigrationStillRunning). */
    remainingMs?: RemainingMs;
    /** What the progress lines name (default Schema; the contract files after the go: Contract). */
    stage?: string;
  },
): Promise<SchemaOutcome> {
  const now = () => opts.deps.clock.now().toISOString();
  const leaseTable = `${opts.historyTable}_lease`;
  await createIfMissing(client, historyDdl(client.dialect, opts.historyTable));
  await acquireLease(client, leaseTable, 'schema', opts.executionArn, opts.leaseSeconds ?? 900, (m, d) => new MigrationFailed(`${m}; expected no other run migrating this database`, d));
  try {
    let history = await readHistory(client, opts.historyTable);
    let baselined: string[] = [];
    if (opts.baselineVersion && history.length === 0) {
      baselined = await baseline(client, opts.historyTable, migrations, opts.baselineVersion, opts.appliedBy, now());
      history = await readHistory(client, opts.historyTable);
    }
    const checked = validateAgainstHistory(migrations, history);
    const { problems, partial } = checked;
    // Files an earlier attempt started (a history row, not finished): their next statement may have run unlogged.
    const started = new Set(partial.keys());
    const pending = checked.pending.filter((m) => opts.apply?.(m) ?? true);
    if (problems.length)
      throw new MigrationFailed(`migrations do not match the history in ${opts.historyTable}: ${problems.map((p) => p.detail).join('; ')}`, {
        problems,
      });
    const applied: SchemaOutcome['applied'] = [];
    // Statements this invocation applied: only one that has done work may hand a long statement to the next.
    let appliedHere = 0;
    for (const [i, m] of pending.entries()) {
      const stepwise = client.dialect === 'mysql' || needsNoTransaction(m);
      const from = stepwise ? (partial.get(m.version) ?? 0) : 0;
      let done = from;
      const base = { executionArn: opts.executionArn, appliedBy: opts.appliedBy, startedAt: now() };
      let attempt = 0;
      const rebuilt: string[] = [];
      const foundApplied: number[] = [];
      for (;;) {
        try {
          if (!stepwise) {
            done = 0;
            await client.transaction(async (tx) => {
              await tx.query(`SET LOCAL lock_timeout = '${Math.floor(opts.lockTimeoutMs ?? 5000)}ms'`);
              for (const s of m.statements) {
                await tx.query(s.sql);
                done++;
              }
              await writeHistory(tx, opts.historyTable, m, { ...base, finishedAt: now(), success: true, applied: done, error: null });
            });
            appliedHere += done;
          } else {
            // The intent first: a file an earlier attempt started is known as such even before its first statement is logged.
            if (!partial.has(m.version)) {
              await writeHistory(client, opts.historyTable, m, { ...base, finishedAt: null, success: false, applied: done, error: null });
              partial.set(m.version, done);
            }
            for (const s of m.statements.slice(done)) {
              // The statement after the last one logged may have run in the killed attempt: its "already exists" means it did.
              const mayHaveRun = done === partial.get(m.version) && started.has(m.version);
              const r = await applyStepwise(client, s.sql, { lockTimeoutMs: opts.lockTimeoutMs ?? 5000, mayHaveRun, deps: opts.deps, remainingMs: opts.remainingMs, mayDefer: appliedHere > 0 });
              appliedHere++;
              if (r.rebuilt) rebuilt.push(r.rebuilt);
              if (r.foundApplied) foundApplied.push(done + 1);
              done++;
              const last = done === m.statements.length;
              await writeHistory(client, opts.historyTable, m, { ...base, finishedAt: last ? now() : null, success: last, applied: done, error: null });
            }
          }
          break;
        } catch (e) {
          // Handed to the next invocation: the file is started (its history row says how far), the statement runs on.
          if (e instanceof MigrationStillRunning) throw e;
          // A lock timeout, or a dropped connection / terminated backend: a transactional file was rolled back; in a
          // statement-by-statement one the statement may have run, which the resume of this file finds out.
          if ((isLockTimeout(e) || isTransient(e)) && attempt < (opts.lockRetries ?? 3)) {
            // The connection dropped at COMMIT: whether the file committed is in its history row (written in the same transaction).
            if (!stepwise && done === m.statements.length && (await committed(client, opts.historyTable, m).catch(() => false))) break;
            attempt++;
            if (stepwise) {
              started.add(m.version);
              partial.set(m.version, done);
            }
            const what = isLockTimeout(e) ? 'lock timeout' : 'connection lost';
            opts.deps.progress?.({ stage: opts.stage ?? 'Schema', done: i, total: pending.length, message: `${m.script}: ${what}, retry ${attempt}` });
            await opts.deps.clock.sleep(Math.min(30_000, 500 * 2 ** attempt));
            continue;
          }
          // Backends terminated more often than this loop retries: nothing failed in the file itself. The stage fails as a
          // lost connection, which the state machine retries; the file resumes from its history row like a killed attempt.
          if (!isLockTimeout(e) && isConnectionLost(e)) throw e;
          // Every statement ran and the COMMIT failed (done = all): the last statement is named, and the commit.
          const failed = m.statements[Math.min(done, m.statements.length - 1)]!;
          const appliedNow = stepwise ? done : 0;
          const msg =
            done < m.statements.length
              ? `${m.script}: statement ${done + 1} of ${m.statements.length} (line ${failed.line}) failed: ${errorMessage(e)}`
              : `${m.script}: the COMMIT after all ${m.statements.length} statements failed: ${errorMessage(e)}`;
          await writeHistory(client, opts.historyTable, m, { ...base, finishedAt: now(), success: false, applied: appliedNow, error: msg }).catch(() => undefined);
          throw new MigrationFailed(msg, {
            script: m.script,
            statement: done + 1,
            line: failed.line,
            statementsApplied: appliedNow,
            statementsTotal: m.statements.length,
            rolledBack: !stepwise,
            lockRetries: attempt,
            appliedBefore: applied,
          });
        }
      }
      applied.push({
        script: m.script,
        statements: m.statements.length,
        ...(from ? { resumedAt: from + 1 } : {}),
        ...(stepwise && client.dialect === 'postgres' ? { outsideTransaction: true } : {}),
        ...(attempt ? { lockRetries: attempt } : {}),
        ...(rebuilt.length ? { rebuiltInvalidIndexes: rebuilt } : {}),
        ...(foundApplied.length ? { foundApplied } : {}),
      });
      opts.deps.progress?.({ stage: opts.stage ?? 'Schema', done: i + 1, total: pending.length, message: m.script });
    }
    return { applied, skipped: migrations.length - checked.pending.length, directoryHash: migrations.at(-1)?.chain ?? '', ...(baselined.length ? { baselined } : {}) };
  } finally {
    await releaseLease(client, leaseTable, 'schema', opts.executionArn).catch(() => undefined);
  }
}
