/**
 * Fidelity: connections are pooled (the Data API gives no session across calls; locally mysql2 reuses a pool), so a
 * session setting must never outlive the statement it was for. A migration statement on MySQL set
 * `lock_wait_timeout` for its session and left it on the pooled connection: every later statement on it (backfill
 * chunks, gates) waited on metadata locks for seconds instead of the server default.
 */
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../lambdas/adapters/local/runtime';
import { applyMigrations, loadMigrations } from '../../lambdas/core/migrations';
import { freshMysqlForBlock } from '../support/databases';
import { MYSQL_URL } from '../support/env';

describe.runIf(!!MYSQL_URL)('MySQL session settings on pooled connections', () => {
  const db = freshMysqlForBlock(MYSQL_URL!, 'cutline_session');

  it("a migration's lock_wait_timeout ends with its statement; the pooled connection keeps the server's value", async () => {
    const c = db.client;
    const global = (await c.query('SELECT @@GLOBAL.lock_wait_timeout AS v')).rows[0]!.v;
    const files = [{ name: 'V1__t.sql', body: 'CREATE TABLE t (id INT PRIMARY KEY);\nALTER TABLE t ADD COLUMN n INT NULL;' }];
    await applyMigrations(c, loadMigrations(files, 'mysql'), { historyTable: 'hist', executionArn: 'arn:s', appliedBy: 'ops', deps: { clock: systemClock, progress: undefined }, lockTimeoutMs: 2000 });
    // Every connection the pool hands out now (the one the migration used among them).
    const seen = await c.transaction(async (tx) => (await tx.query('SELECT @@SESSION.lock_wait_timeout AS v')).rows[0]!.v);
    const plain = await Promise.all(Array.from({ length: 4 }, async () => (await c.query('SELECT @@SESSION.lock_wait_timeout AS v')).rows[0]!.v));
    expect([seen, ...plain].map(String)).toEqual(Array(5).fill(String(global)));
  });
});
