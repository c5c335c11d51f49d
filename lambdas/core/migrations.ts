/**
 * Schema stage: versioned SQL files (V<version>__<name>.sql) applied statement
 * by statement (the Data API runs one per call), recorded in a history table
 * with each file's SHA-256 and a chained directory hash. Validate before
 * apply: an edited, inserted or removed file already applied is a hard failure.
 */
import type { Deps, SqlClient } from '../ports';
import { errorMessage, MigrationFailed, MigrationStillRunning } from './errors';
import { isTransient } from './retry';
import { acquireLease, createIfMissing, releaseLease } from './lease';
import { sha256Hex } from './evidence';
import { quoteIdent } from './sql-builders';
import { type Dialect, type Statement, splitStatements } from './sql-lexer';

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

async function writeHistory(
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

/** PostgreSQL statements that cannot run inside a transaction block: such a file runs statement by statement. */
export const NO_TRANSACTION = /^\s*(CREATE\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY|DROP\s+INDEX\s+CONCURRENTLY|REINDEX\b.*\bCONCURRENTLY|VACUUM\b|CREATE\s+DATABASE|ALTER\s+SYSTEM)/i;

/**
 * PostgreSQL statements that may run longer than a Data API call's 45 seconds on a big table and are sent with
 * continueAfterTimeout, then followed to their end: those that cannot run in a transaction, and VALIDATE CONSTRAINT
 * (a scan under SHARE UPDATE EXCLUSIVE: writes go on). A file with one runs statement by statement.
 */
const VALIDATE_CONSTRAINT = /^\s*ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?((?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)(?:\.(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*))?)\s+VALIDATE\s+CONSTRAINT\s+("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)\s*;?\s*$/i;
const outlives = (sql: string) => NO_TRANSACTION.test(sql) || VALIDATE_CONSTRAINT.test(sql);

const MYSQL_IDENT = '(?:`(?:[^`]|``)+`|[A-Za-z_$][A-Za-z0-9_$]*)';
const MYSQL_TABLE = `(${MYSQL_IDENT}(?:\\.${MYSQL_IDENT})?)`;
/**
 * MySQL statements that may rebuild a table and so run longer than a Data API call's 45 seconds: sent with
 * continueAfterTimeout and followed, their metadata-lock wait bounded by a watchdog (MySQL has no per-statement
 * lock_wait_timeout for DDL). Group 1, 2 or 3: the table.
 */
const MYSQL_LONG_DDL = new RegExp(
  `^\\s*(?:ALTER\\s+(?:ONLINE\\s+)?(?:IGNORE\\s+)?TABLE\\s+(?:IF\\s+EXISTS\\s+)?${MYSQL_TABLE}|(?:CREATE\\s+(?:OR\\s+REPLACE\\s+)?(?:UNIQUE\\s+|FULLTEXT\\s+|SPATIAL\\s+)?|DROP\\s+)INDEX\\s+(?:IF\\s+(?:NOT\\s+)?EXISTS\\s+)?${MYSQL_IDENT}\\s+ON\\s+${MYSQL_TABLE}|OPTIMIZE\\s+(?:NO_WRITE_TO_BINLOG\\s+|LOCAL\\s+)?TABLE\\s+${MYSQL_TABLE})`,
  'i',
);
/** A table rebuild that changes nothing SHOW CREATE TABLE shows: once it ended, there is nothing to tell done from not done. */
const INVISIBLE_REBUILD = /^\s*OPTIMIZE\b|\bFORCE\b|\bENGINE\s*=/i;
const mysqlLongDdlTable = (sql: string) => {
  const m = MYSQL_LONG_DDL.exec(sql);
  return m ? (m[1] ?? m[2] ?? m[3]) : undefined;
};

export function needsNoTransaction(m: Migration): boolean {
  return m.statements.some((s) => outlives(s.sql));
}

/** An identifier as the catalog stores it: unquoted folds to lower case, quoted keeps its case. */
const catalogName = (ident: string) => (ident.startsWith('"') ? ident.slice(1, -1).replaceAll('""', '"') : ident.toLowerCase());

const isLockTimeout = (e: unknown) => /lock timeout|lock_timeout|Lock wait timeout exceeded|could not obtain lock/i.test(errorMessage(e));

const CONCURRENT_INDEX = /^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)/i;
/** The server says the object a statement creates is there already (PostgreSQL 42P07/42701/42710, MySQL 1050/1060/1061/1826). */
const ALREADY = /already exists|Duplicate column name|Duplicate key name|Duplicate foreign key|Table '.*' already exists/i;

/** How often a statement that outlived its Data API call is looked for among the running ones. */
const OUTLIVING_POLL_MS = 1000;
/** A Data API call returns within 45 s; a statement is sent only with that much of the invocation left, and this margin. */
const DATA_API_CALL_MS = 45_000;
/** What an invocation keeps for itself after waiting (history row, lease, step record). */
const INVOCATION_MARGIN_MS = 30_000;

/** The invocation's time left (Lambda's getRemainingTimeInMillis; locally the runner's function timeout). None: unbounded. */
export type RemainingMs = () => number;

const brief = (sql: string) => sql.replace(/\s+/g, ' ').trim().slice(0, 80);

/** The sessions (an earlier call's, an earlier invocation's) running this statement: id, seconds in their state, state. */
async function runningSessions(client: SqlClient, sql: string): Promise<{ id: number; secs: number; state: string }[]> {
  const q =
    client.dialect === 'postgres'
      ? "SELECT pid AS id, 0 AS secs, '' AS state FROM pg_stat_activity WHERE query = :sql AND state = 'active' AND pid <> pg_backend_pid()"
      : 'SELECT ID AS id, TIME AS secs, STATE AS state FROM information_schema.PROCESSLIST WHERE INFO = :sql AND ID <> CONNECTION_ID()';
  return (await client.query(q, { sql })).rows.map((r) => ({ id: Number(r.id), secs: Number(r.secs ?? 0), state: String(r.state ?? '') }));
}
const stillRunning = async (client: SqlClient, sql: string) => (await runningSessions(client, sql)).length > 0;

/**
 * MySQL: what lock_wait_timeout would do for a statement that cannot carry one (DDL sent past its call): a session
 * that has waited for a metadata lock for lockTimeoutMs is stopped with KILL QUERY. Whether it stopped one.
 */
async function stopLockWaits(client: SqlClient, sessions: readonly { id: number; secs: number; state: string }[], lockTimeoutMs: number): Promise<boolean> {
  const over = sessions.filter((x) => /metadata lock/i.test(x.state) && x.secs * 1000 >= lockTimeoutMs);
  for (const x of over) await client.query(`KILL QUERY ${x.id}`).catch(() => undefined);
  return over.length > 0;
}

const lockWaitStopped = (sql: string, lockTimeoutMs: number) =>
  new Error(`Lock wait timeout exceeded: "${brief(sql)}" waited ${Math.ceil(lockTimeoutMs / 1000)} s for a metadata lock and was stopped (KILL QUERY), as lock_wait_timeout would`);

/**
 * Wait while a session runs the statement; when the invocation's time is nearly up, hand over to the next one. With
 * `lockTimeoutMs` (MySQL), a session that waits for a metadata lock that long is stopped: the lock timeout is thrown.
 */
async function waitWhileRunning(client: SqlClient, sql: string, deps: Pick<Deps, 'clock' | 'progress'>, remainingMs: RemainingMs | undefined, lockTimeoutMs?: number): Promise<void> {
  for (let looks = 0; ; looks++) {
    const sessions = await runningSessions(client, sql);
    if (!sessions.length) return;
    if (lockTimeoutMs !== undefined && (await stopLockWaits(client, sessions, lockTimeoutMs))) throw lockWaitStopped(sql, lockTimeoutMs);
    if (remainingMs && remainingMs() < INVOCATION_MARGIN_MS + OUTLIVING_POLL_MS)
      throw new MigrationStillRunning(`"${brief(sql)}" is still running; the next invocation follows it`);
    if (looks % 30 === 0) deps.progress?.({ stage: 'Schema', done: 0, total: 1, message: `"${brief(sql)}" still running; waiting for it` });
    await deps.clock.sleep(OUTLIVING_POLL_MS);
  }
}

/**
 * A statement that may take longer than a Data API call's 45 seconds (CREATE INDEX CONCURRENTLY, VALIDATE CONSTRAINT,
 * a MySQL ALTER that copies a big table): sent with continueAfterTimeout, so a timed-out call leaves it running; then
 * it is waited for until no session runs it any more, across invocations (MigrationStillRunning). On MySQL a watchdog
 * bounds its metadata-lock wait meanwhile (`lockTimeoutMs`). Resolves to whether its call timed out (its outcome did
 * not come back: the caller checks its effect).
 */
async function runOutliving(
  client: SqlClient,
  sql: string,
  opts: { deps: Pick<Deps, 'clock' | 'progress'>; remainingMs?: RemainingMs; mayDefer: boolean; lockTimeoutMs?: number },
): Promise<{ timedOut: boolean }> {
  const { deps, remainingMs, lockTimeoutMs } = opts;
  // Late in an invocation that has done work, the next one (with its whole time) sends it; a fresh one cannot get more time.
  if (opts.mayDefer && remainingMs && remainingMs() < DATA_API_CALL_MS + INVOCATION_MARGIN_MS)
    throw new MigrationStillRunning(`"${brief(sql)}" not started: too little of this invocation is left; the next one starts it`);
  let settled = false;
  let stopped = false;
  // The watchdog looks while the call is out; it ends at its next look once the call has returned.
  if (lockTimeoutMs !== undefined)
    void (async () => {
      while (!settled) {
        await deps.clock.sleep(OUTLIVING_POLL_MS);
        if (!settled && (await stopLockWaits(client, await runningSessions(client, sql), lockTimeoutMs))) stopped = true;
      }
    })().catch(() => undefined);
  try {
    await client.query(sql, {}, { continueAfterTimeout: true });
    return { timedOut: false };
  } catch (e) {
    if (stopped) throw lockWaitStopped(sql, lockTimeoutMs!);
    if ((e as Error).name !== 'StatementTimeoutException') throw e;
  } finally {
    settled = true;
  }
  await waitWhileRunning(client, sql, deps, remainingMs, lockTimeoutMs);
  return { timedOut: true };
}

/**
 * One statement of a statement-by-statement file, exactly once:
 * - PostgreSQL statements that can run in a transaction run in one, under SET LOCAL lock_timeout (no queueing behind an idle transaction);
 * - CREATE INDEX CONCURRENTLY: an index of that name left invalid by an interrupted build is dropped and built again, and the new index must be valid;
 * - the statement an interrupted attempt may have run: "already exists" means it did (and for an index, only a valid one counts).
 */
async function applyStepwise(
  client: SqlClient,
  sql: string,
  opts: { lockTimeoutMs: number; mayHaveRun: boolean; deps: Pick<Deps, 'clock' | 'progress'>; remainingMs?: RemainingMs; mayDefer: boolean },
): Promise<{ rebuilt?: string; foundApplied?: boolean }> {
  const { lockTimeoutMs, mayHaveRun } = opts;
  const pg = client.dialect === 'postgres';
  const index = pg ? CONCURRENT_INDEX.exec(sql)?.[1] : undefined;
  let rebuilt: string | undefined;
  const indexState = async (name: string) =>
    (await client.query('SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = to_regclass(:name)', { name: name.startsWith('"') ? name : name.toLowerCase() })).rows[0]?.valid;
  const validate = pg ? VALIDATE_CONSTRAINT.exec(sql) : null;
  // Whether the constraint a VALIDATE names is validated now (its scan's outcome when its call timed out).
  const validated = async () =>
    (await client.query('SELECT convalidated AS ok FROM pg_constraint WHERE conrelid = to_regclass(:table) AND conname = :name', { table: validate![1]!, name: catalogName(validate![2]!) })).rows[0]?.ok === true;
  const mysqlTable = pg ? undefined : mysqlLongDdlTable(sql);
  // An earlier invocation's statement still running (a build past its Lambda): followed to its end, never started twice.
  const followed = mayHaveRun && (pg ? outlives(sql) : mysqlTable !== undefined) && (await stillRunning(client, sql));
  if (followed) {
    await waitWhileRunning(client, sql, opts.deps, opts.remainingMs, pg ? undefined : lockTimeoutMs);
    // Done when its effect is there (a valid index, a validated constraint); any other statement ran to its end.
    // A followed build that failed leaves an invalid index (dropped and built again below); a failed VALIDATE runs again.
    // A MySQL one's outcome is unknown here: it runs again below, where "already exists" says it had run.
    if (pg && (index ? (await indexState(index)) === true : validate ? await validated() : true)) return { foundApplied: true };
  }
  if (index) {
    const valid = await indexState(index);
    if (valid === false) {
      await client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${index}`);
      rebuilt = index.replace(/^"|"$/g, '');
    } else if (valid === true && mayHaveRun) return { foundApplied: true };
  }
  try {
    if (mysqlTable !== undefined) {
      // Its outcome, should its call time out, is the table's definition: changed (or renamed away) means done (MySQL
      // DDL is atomic). A table that cannot be shown leaves the statement's own error to speak.
      const definition = async () =>
        String(Object.values((await client.query(`SHOW CREATE TABLE ${mysqlTable}`).catch(() => ({ rows: [] as Record<string, unknown>[] }))).rows[0] ?? {})[1] ?? '');
      const before = INVISIBLE_REBUILD.test(sql) ? '' : await definition();
      const { timedOut } = await runOutliving(client, sql, { ...opts, lockTimeoutMs });
      if (timedOut && before && (await definition()) === before)
        throw new Error(`${sql.trim()} ran past its call and ended without changing ${mysqlTable} (SHOW CREATE TABLE as before): it failed, and its error went with the call; run it by hand to see why`);
    } else if (!pg) {
      // One pinned session per statement: a bounded metadata-lock wait (the server default is a year), then the
      // statement, then the session's default again: the connection goes back to a pool and must not keep it.
      await client.transaction(async (tx) => {
        await tx.query(`SET SESSION lock_wait_timeout = ${Math.max(1, Math.ceil(lockTimeoutMs / 1000))}`);
        let failure: unknown;
        try {
          await tx.query(sql);
        } catch (e) {
          failure = e;
        }
        // The statement's own error is the one that counts ("already exists" is how a resume recognises its work).
        await tx.query('SET SESSION lock_wait_timeout = DEFAULT').catch((e) => {
          if (!failure) throw e;
        });
        if (failure) throw failure;
      });
    } else if (outlives(sql)) {
      await runOutliving(client, sql, { deps: opts.deps, remainingMs: opts.remainingMs, mayDefer: opts.mayDefer });
      // The call may have timed out while the scan ran on: its outcome is the constraint's state.
      if (validate && !(await validated()))
        throw new Error(`${sql.trim()} ended without validating ${validate[2]}; expected every row to satisfy it (run the statement by hand to see the row that does not)`);
    }
    else
      await client.transaction(async (tx) => {
        await tx.query(`SET LOCAL lock_timeout = '${Math.floor(lockTimeoutMs)}ms'`);
        await tx.query(sql);
      });
  } catch (e) {
    if (mayHaveRun && !index && ALREADY.test(errorMessage(e))) return { foundApplied: true };
    throw e;
  }
  if (index && (await indexState(index)) !== true) throw new Error(`index ${index} is not valid after CREATE INDEX CONCURRENTLY; expected a valid index (drop it and run again)`);
  return rebuilt ? { rebuilt } : {};
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
            opts.deps.progress?.({ stage: 'Schema', done: i, total: pending.length, message: `${m.script}: lock timeout, retry ${attempt}` });
            await opts.deps.clock.sleep(Math.min(30_000, 500 * 2 ** attempt));
            continue;
          }
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
      opts.deps.progress?.({ stage: 'Schema', done: i + 1, total: pending.length, message: m.script });
    }
    return { applied, skipped: migrations.length - checked.pending.length, directoryHash: migrations.at(-1)?.chain ?? '', ...(baselined.length ? { baselined } : {}) };
  } finally {
    await releaseLease(client, leaseTable, 'schema', opts.executionArn).catch(() => undefined);
  }
}
