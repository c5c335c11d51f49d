/**
 * Transient database faults, retried with backoff: a dropped connection, a
 * terminated backend, a deadlock or serialization failure, a lock wait, the
 * Data API resuming a paused cluster. Only for idempotent work (backfill
 * chunks, gate reads): running it again changes nothing that already happened.
 */
import type { Clock, SqlClient } from '../ports';
import { errorMessage } from './errors';

/** A dropped connection or a terminated backend: the session is gone, whatever it was running. */
const CONNECTION_LOST =
  /terminating connection|Connection terminated|server closed the connection|connection is closed|Connection lost|ECONNRESET|EPIPE|ETIMEDOUT|ECONNREFUSED|PROTOCOL_CONNECTION_LOST|closed state|admin_shutdown|57P01|Communications link failure|is not queryable/i;
const TRANSIENT = new RegExp(
  `${CONNECTION_LOST.source}|Deadlock found|deadlock detected|could not serialize access|Lock wait timeout exceeded|StatementTimeoutException|DatabaseResumingException`,
  'i',
);
export const isConnectionLost = (e: unknown): boolean => CONNECTION_LOST.test(errorMessage(e)) || CONNECTION_LOST.test((e as { code?: string })?.code ?? '');

/**
 * The Data API's own answers for a cluster that is there but cannot answer now (resuming from auto-pause, busy,
 * throttled): by exception name, as the SDK throws them. They reach the state machine under their own names and its
 * Retry waits with backoff (a resume takes up to about a minute).
 */
export const DATA_API_TRANSIENT: ReadonlySet<string> = new Set(['StatementTimeoutException', 'DatabaseResumingException', 'DatabaseUnavailableException', 'ThrottlingException']);
export const isDataApiTransient = (e: unknown): boolean => DATA_API_TRANSIENT.has((e as { name?: string })?.name ?? '');

export const isTransient = (e: unknown): boolean => isDataApiTransient(e) || TRANSIENT.test(errorMessage(e)) || TRANSIENT.test((e as { code?: string })?.code ?? '');

/**
 * Run fn; a transient failure is retried (25 ms doubling, with jitter) up to `attempts` times in all, then thrown with
 * the count. A statement that ran past its call (StatementTimeoutException) is not run again here: it would take its
 * 45 s again, six times in one invocation; the state's Retry runs the stage again after its backoff.
 */
export async function retryTransient<T>(clock: Pick<Clock, 'sleep'>, fn: (attempt: number) => Promise<T>, attempts = 6): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn(i);
    } catch (e) {
      if (i >= attempts || !isTransient(e) || (e as { name?: string })?.name === 'StatementTimeoutException') {
        if (i > 1 && e instanceof Error) e.message = `${e.message} (after ${i} attempts)`;
        throw e;
      }
      await clock.sleep(25 * 2 ** i + Math.floor(Math.random() * 50));
    }
  }
}

/** A read: SELECT, or a WITH whose statements only read; safe to run again after a dropped connection. */
const READ = /^\s*(\(\s*)*(SELECT|SHOW|VALUES|TABLE)\b/i;
const WRITES = /\b(INSERT|UPDATE|DELETE|MERGE|INTO|NEXTVAL|SETVAL|PG_TERMINATE_BACKEND|PG_CANCEL_BACKEND|PG_ADVISORY_LOCK|GET_LOCK|FOR\s+UPDATE|FOR\s+SHARE)\b/i;
/** EXPLAIN plans its statement and runs nothing, unless ANALYZE is among its options (before the statement). */
const EXPLAIN = /^\s*EXPLAIN\b(?<options>[\s\S]*?)\b(SELECT|INSERT|UPDATE|DELETE|MERGE|WITH|VALUES|TABLE|REPLACE|CREATE|EXECUTE|DECLARE)\b/i;
export const isReadOnly = (sql: string): boolean => {
  const explain = EXPLAIN.exec(sql);
  if (explain) return !/\bANALY[SZ]E\b/i.test(explain.groups!['options']!);
  return (READ.test(sql) || /^\s*WITH\b/i.test(sql)) && !WRITES.test(sql);
};

/**
 * The composition roots wrap every SqlClient in this: reads (which change
 * nothing) are retried after a dropped connection or terminated backend, in
 * every stage; writes and transactions are left to the stage, which knows
 * whether running them again is safe.
 */
export function withReadRetries(client: SqlClient, clock: Pick<Clock, 'sleep'>): SqlClient {
  return {
    dialect: client.dialect,
    label: client.label,
    query: (sql, params, opts) => (isReadOnly(sql) ? retryTransient(clock, () => client.query(sql, params, opts)) : client.query(sql, params, opts)),
    transaction: (fn) => client.transaction(fn),
    close: () => client.close(),
  };
}
