/**
 * Applying a migration statement by statement: PostgreSQL files that cannot run in a transaction (CONCURRENTLY),
 * MySQL DDL (which commits), and statements that outlive a 45 s Data API call, followed across calls and
 * invocations (MigrationStillRunning), their lock waits bounded.
 */
import type { Deps, SqlClient } from '../ports';
import { errorMessage, MigrationStillRunning } from './errors';
import { DATA_API_CALL_MS, INVOCATION_MARGIN_MS } from './states';
import type { Migration } from './migrations';

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

export const isLockTimeout = (e: unknown) => /lock timeout|lock_timeout|Lock wait timeout exceeded|could not obtain lock/i.test(errorMessage(e));

const CONCURRENT_INDEX = /^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)/i;
/** The server says the object a statement creates is there already (PostgreSQL 42P07/42701/42710, MySQL 1050/1060/1061/1826). */
const ALREADY = /already exists|Duplicate column name|Duplicate key name|Duplicate foreign key|Table '.*' already exists/i;

/** How often a statement that outlived its Data API call is looked for among the running ones. */
const OUTLIVING_POLL_MS = 1000;

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
export async function applyStepwise(
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

