/**
 * Transient database faults, retried with backoff: a dropped connection, a
 * terminated backend, a deadlock or serialization failure, a lock wait, the
 * Data API resuming a paused cluster. Only for idempotent work (backfill
 * chunks, gate reads): running it again changes nothing that already happened.
 */
import type { Clock } from '../ports';
import { errorMessage } from './errors';

export const TRANSIENT =
  /terminating connection|Connection terminated|server closed the connection|connection is closed|Connection lost|ECONNRESET|EPIPE|ETIMEDOUT|ECONNREFUSED|PROTOCOL_CONNECTION_LOST|closed state|admin_shutdown|57P01|Deadlock found|deadlock detected|could not serialize access|Lock wait timeout exceeded|StatementTimeoutException|DatabaseResumingException|Communications link failure/i;

export const isTransient = (e: unknown): boolean => TRANSIENT.test(errorMessage(e)) || TRANSIENT.test((e as { code?: string })?.code ?? '');

/** Run fn; a transient failure is retried (25 ms doubling, with jitter) up to `attempts` times in all, then thrown with the count. */
export async function retryTransient<T>(clock: Pick<Clock, 'sleep'>, fn: (attempt: number) => Promise<T>, attempts = 6): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn(i);
    } catch (e) {
      if (i >= attempts || !isTransient(e)) {
        if (i > 1 && e instanceof Error) e.message = `${e.message} (after ${i} attempts)`;
        throw e;
      }
      await clock.sleep(25 * 2 ** i + Math.floor(Math.random() * 50));
    }
  }
}
