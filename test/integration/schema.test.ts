/** Schema stage on real servers: lease, lock_timeout with retry, files outside a transaction, baseline, MySQL routines without DELIMITER. */
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger, systemClock } from '../../lambdas/adapters/local/runtime';
import { mysqlClient } from '../../lambdas/adapters/local/sql-mysql';
import { pgliteClient, postgresClient } from '../../lambdas/adapters/local/sql-postgres';
import { applyMigrations, loadMigrations } from '../../lambdas/core/migrations';
import { acquireLease as take, releaseLease as release } from '../../lambdas/core/lease';
import { MigrationFailed } from '../../lambdas/core/errors';
import { isTransient } from '../../lambdas/core/retry';

const acquireLease = (c: SqlClient, table: string, owner: string, secs: number) => take(c, table, 'schema', owner, secs, (m, d) => new MigrationFailed(m, d));
const releaseLease = (c: SqlClient, table: string, owner: string) => release(c, table, 'schema', owner);
import type { SqlClient } from '../../lambdas/ports';
import { MYSQL_URL, PG_URL } from '../support/env';
import { dropDatabase, freshDatabase } from '../support/databases';
import { releasingOnWait } from '../support/clocks';

const deps = { clock: systemClock, progress: undefined };
void silentLogger;

describe('a connection lost at COMMIT of a transactional file', () => {
  /** The embedded database, with the next COMMIT's answer lost: it commits (or not) and the caller sees a dropped connection. */
  async function flakyCommit(commits: boolean) {
    const db = await PGlite.create();
    const inner = pgliteClient(db);
    let armed = true;
    const client: SqlClient = {
      ...inner,
      query: (sql, p, o) => inner.query(sql, p, o),
      transaction: async (fn) => {
        if (!armed) return inner.transaction(fn);
        armed = false;
        const lost = new Error('Client has encountered a connection error and is not queryable');
        if (commits) {
          await inner.transaction(fn);
          throw lost;
        }
        await inner.transaction(async (tx) => {
          await fn(tx);
          throw lost;
        });
        throw lost;
      },
    };
    return { db, client };
  }
  const files = [{ name: 'V1__t.sql', body: 'CREATE TABLE t (id int PRIMARY KEY);\nCREATE INDEX t_id ON t (id);' }];

  it('committed, answer lost: the file counts as applied (its history row says so), not run again, not failed', async () => {
    const { db, client } = await flakyCommit(true);
    const out = await applyMigrations(client, loadMigrations(files, 'postgres'), { historyTable: 'h', executionArn: 'arn:a', appliedBy: 'ops', deps });
    expect(out.applied.map((a) => a.script)).toEqual(['V1__t.sql']);
    expect((await client.query('SELECT success, statements_applied FROM h')).rows).toEqual([{ success: true, statements_applied: 2 }]);
    await db.close();
  });

  it('a backend terminated more often than the Schema stage retries: the stage fails as a lost connection (the state machine runs it again), not as a failed migration, and logs no failure', async () => {
    const db = await PGlite.create();
    const inner = pgliteClient(db);
    let terminations = 0;
    const client: SqlClient = {
      ...inner,
      query: (sql, p, o) => inner.query(sql, p, o),
      transaction: async () => {
        terminations++;
        throw new Error('terminating connection due to administrator command');
      },
    };
    const messages: string[] = [];
    const sleeps: number[] = [];
    const fake = { clock: { now: () => new Date('2026-12-01T00:00:00Z'), sleep: async (ms: number) => void sleeps.push(ms) }, progress: (p: { message?: string }) => void messages.push(p.message ?? '') };
    const err = await applyMigrations(client, loadMigrations(files, 'postgres'), { historyTable: 'h', executionArn: 'arn:t', appliedBy: 'ops', deps: fake, lockRetries: 3 }).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(MigrationFailed);
    expect(isTransient(err)).toBe(true);
    expect(terminations).toBe(4);
    expect(sleeps).toEqual([1000, 2000, 4000]);
    // The operator reads what happened: a lost connection, not a lock timeout.
    expect(messages.filter((m) => /retry/.test(m))).toEqual(['V1__t.sql: connection lost, retry 1', 'V1__t.sql: connection lost, retry 2', 'V1__t.sql: connection lost, retry 3']);
    expect((await inner.query('SELECT count(*)::int AS n FROM h WHERE success = false AND error IS NOT NULL')).rows).toEqual([{ n: 0 }]);
    await db.close();
  });

  it('rolled back, answer lost: the file runs again and is applied once', async () => {
    const { db, client } = await flakyCommit(false);
    const out = await applyMigrations(client, loadMigrations(files, 'postgres'), { historyTable: 'h', executionArn: 'arn:a', appliedBy: 'ops', deps });
    expect(out.applied.map((a) => a.script)).toEqual(['V1__t.sql']);
    expect((await client.query("SELECT count(*)::int AS n FROM pg_indexes WHERE indexname = 't_id'")).rows).toEqual([{ n: 1 }]);
    await db.close();
  });
});

describe('migration lease', () => {
  let db: PGlite;
  let c: SqlClient;
  beforeAll(async () => {
    db = await PGlite.create();
    c = pgliteClient(db);
  });
  afterAll(() => db?.close());

  it('a second run cannot take the lease; it is told who holds it and until when', async () => {
    await acquireLease(c, 'h_lease', 'arn:run-a', 60);
    await expect(acquireLease(c, 'h_lease', 'arn:run-b', 60)).rejects.toThrow(/held by arn:run-a until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);
    await acquireLease(c, 'h_lease', 'arn:run-a', 60); // the holder renews
    await releaseLease(c, 'h_lease', 'arn:run-a');
    await expect(acquireLease(c, 'h_lease', 'arn:run-b', 60)).resolves.toBeUndefined();
  });

  it('an expired lease is taken over', async () => {
    await c.query("UPDATE h_lease SET expires_at = now() - interval '1 minute'");
    await expect(acquireLease(c, 'h_lease', 'arn:run-c', 60)).resolves.toBeUndefined();
  });

  it('baseline: an existing database records old files as applied without running them', async () => {
    const files = [
      { name: 'V1__existing.sql', body: 'CREATE TABLE already_there (id int);' },
      { name: 'V2__new.sql', body: 'CREATE TABLE base_new (id int);' },
    ];
    const out = await applyMigrations(c, loadMigrations(files, 'postgres'), { historyTable: 'base_hist', executionArn: 'arn:x', appliedBy: 'ops', deps, baselineVersion: '1' });
    expect(out.baselined).toEqual(['V1__existing.sql']);
    expect(out.applied.map((a) => a.script)).toEqual(['V2__new.sql']);
    const t = await c.query("SELECT to_regclass('already_there') IS NULL AS absent");
    expect(t.rows[0]!.absent).toBe(true);
  });
});

describe.runIf(!!PG_URL)('PostgreSQL: lock_timeout with retry, CONCURRENTLY outside a transaction', () => {
  const name = `cutline_schema_${process.pid}`;
  let c: SqlClient;
  let locker: pg.Client;
  beforeAll(async () => {
    const url = await freshDatabase(PG_URL!, name);
    c = postgresClient(url);
    await c.query('CREATE TABLE hot (id int PRIMARY KEY, v int)');
    locker = new pg.Client({ connectionString: url });
    await locker.connect();
  });
  afterAll(async () => {
    await locker?.end();
    await c?.close();
    await dropDatabase(PG_URL!, name);
  });

  it('a file blocked by a long lock gives up after lock_timeout, retries, and succeeds once the lock is gone', async () => {
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE hot IN ACCESS EXCLUSIVE MODE');
    const files = [{ name: 'V1__add_col.sql', body: 'ALTER TABLE hot ADD COLUMN w int;' }];
    await expect(
      applyMigrations(c, loadMigrations(files, 'postgres'), { historyTable: 'h1', executionArn: 'arn:1', appliedBy: 'ops', deps, lockTimeoutMs: 200, lockRetries: 0 }),
    ).rejects.toThrow(/canceling statement due to lock timeout/);
    // The lock goes away during the wait before the first retry (no wall-clock race: the wait is the release).
    const out = await applyMigrations(c, loadMigrations(files, 'postgres'), { historyTable: 'h1', executionArn: 'arn:2', appliedBy: 'ops', deps: releasingOnWait(() => locker.query('COMMIT')), lockTimeoutMs: 200, lockRetries: 4 });
    expect(out.applied[0]).toMatchObject({ script: 'V1__add_col.sql', lockRetries: 1 });
  });

  it('CREATE INDEX CONCURRENTLY runs outside a transaction, statement by statement', async () => {
    const files = [{ name: 'V1__idx.sql', body: 'ALTER TABLE hot ADD COLUMN z int;\nCREATE INDEX CONCURRENTLY hot_z_idx ON hot (z);' }];
    const out = await applyMigrations(c, loadMigrations(files, 'postgres'), { historyTable: 'h2', executionArn: 'arn:3', appliedBy: 'ops', deps });
    expect(out.applied[0]).toMatchObject({ outsideTransaction: true, statements: 2 });
    const idx = await c.query("SELECT indisvalid AS ok FROM pg_index WHERE indexrelid = to_regclass('hot_z_idx')");
    expect(idx.rows[0]!.ok).toBe(true);
  });

  it('an invalid index left by an interrupted CREATE INDEX CONCURRENTLY IF NOT EXISTS is dropped and built again, never recorded as applied', async () => {
    await c.query('CREATE TABLE dup (id int PRIMARY KEY, code int)');
    await c.query('INSERT INTO dup SELECT g, g % 10 FROM generate_series(1, 100) g');
    // A failed concurrent build leaves the index behind, invalid (what a killed one leaves too).
    await expect(c.query('CREATE UNIQUE INDEX CONCURRENTLY dup_code_idx ON dup (code)')).rejects.toThrow(/could not create unique index/);
    expect((await c.query("SELECT indisvalid AS ok FROM pg_index WHERE indexrelid = to_regclass('dup_code_idx')")).rows[0]!.ok).toBe(false);
    await c.query('DELETE FROM dup WHERE id > 10');
    const files = [{ name: 'V1__uniq.sql', body: 'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS dup_code_idx ON dup (code);' }];
    const out = await applyMigrations(c, loadMigrations(files, 'postgres'), { historyTable: 'h3', executionArn: 'arn:4', appliedBy: 'ops', deps });
    expect(out.applied[0]).toMatchObject({ script: 'V1__uniq.sql', rebuiltInvalidIndexes: ['dup_code_idx'] });
    expect((await c.query("SELECT indisvalid AS ok FROM pg_index WHERE indexrelid = to_regclass('dup_code_idx')")).rows[0]!.ok).toBe(true);
  });

  it('a statement that ran before a kill but was not logged is found applied on resume, not run twice into "already exists"', async () => {
    const files = [{ name: 'V1__two.sql', body: 'ALTER TABLE hot ADD COLUMN k1 int;\nCREATE INDEX CONCURRENTLY hot_k1_idx ON hot (k1);\nALTER TABLE hot ADD COLUMN k2 int;' }];
    const ms = loadMigrations(files, 'postgres');
    // The killed attempt: statement 1 logged, statement 2 ran, the kill came before its log line.
    await applyMigrations(c, loadMigrations([{ name: 'V1__two.sql', body: 'ALTER TABLE hot ADD COLUMN k1 int;' }], 'postgres'), { historyTable: 'h4', executionArn: 'arn:5', appliedBy: 'ops', deps });
    await c.query(`UPDATE h4 SET success = false, finished_at = NULL, sha256 = '${ms[0]!.sha256}', chain = '${ms[0]!.chain}', statements_total = 3`);
    await c.query('CREATE INDEX CONCURRENTLY hot_k1_idx ON hot (k1)');
    const out = await applyMigrations(c, ms, { historyTable: 'h4', executionArn: 'arn:5', appliedBy: 'ops', deps });
    expect(out.applied[0]).toMatchObject({ script: 'V1__two.sql', resumedAt: 2, foundApplied: [2] });
    expect((await c.query("SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'hot' AND column_name = 'k2'")).rows[0]!.n).toBe(1);
  });

  it('statements of a statement-by-statement file run under lock_timeout too: an ALTER behind an idle transaction gives up instead of queueing', async () => {
    await locker.query('BEGIN');
    await locker.query('SELECT * FROM hot');
    const files = [{ name: 'V1__mixed.sql', body: 'ALTER TABLE hot ADD COLUMN blocked int;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS hot_v_idx ON hot (v);' }];
    try {
      await expect(
        applyMigrations(c, loadMigrations(files, 'postgres'), { historyTable: 'h5', executionArn: 'arn:6', appliedBy: 'ops', deps, lockTimeoutMs: 200, lockRetries: 0 }),
      ).rejects.toThrow(/statement 1 of 2 .*lock timeout/);
    } finally {
      await locker.query('COMMIT');
    }
  }, 15_000);
});

describe.runIf(!!MYSQL_URL)('MariaDB: routines and triggers without DELIMITER', () => {
  const name = `cutline_schema_${process.pid}`;
  let c: SqlClient;
  beforeAll(async () => {
    c = mysqlClient(await freshDatabase(MYSQL_URL!, name));
  });
  afterAll(async () => {
    await c?.close();
    await dropDatabase(MYSQL_URL!, name);
  });

  it('applies a procedure and a trigger whose bodies hold semicolons, and they work', async () => {
    const body = `CREATE TABLE counters (id INT PRIMARY KEY, n INT NOT NULL DEFAULT 0);
CREATE TRIGGER counters_bi BEFORE INSERT ON counters FOR EACH ROW
BEGIN
  IF NEW.n < 0 THEN
    SET NEW.n = 0;
  END IF;
END;
CREATE PROCEDURE bump(IN k INT, IN by_n INT)
BEGIN
  INSERT INTO counters (id, n) VALUES (k, by_n) ON DUPLICATE KEY UPDATE n = n + by_n;
  SELECT n FROM counters WHERE id = k;
END;`;
    const out = await applyMigrations(c, loadMigrations([{ name: 'V1__routines.sql', body }], 'mysql'), { historyTable: 'hist', executionArn: 'arn:m', appliedBy: 'ops', deps });
    expect(out.applied).toEqual([{ script: 'V1__routines.sql', statements: 3 }]);
    await c.query('INSERT INTO counters (id, n) VALUES (1, -5)');
    await c.query('CALL bump(1, 3)');
    expect((await c.query('SELECT n FROM counters WHERE id = 1')).rows[0]!.n).toBe(3);
  });
});

describe.runIf(!!MYSQL_URL)('MariaDB: a metadata lock held elsewhere', () => {
  const name = `cutline_mdl_${process.pid}`;
  let c: SqlClient;
  let url: string;
  beforeAll(async () => {
    url = await freshDatabase(MYSQL_URL!, name);
    c = mysqlClient(url);
    await c.query('CREATE TABLE busy (id INT PRIMARY KEY) ENGINE=InnoDB');
  });
  afterAll(async () => {
    await c?.close();
    await dropDatabase(MYSQL_URL!, name);
  });

  it('the ALTER waits at most lockTimeoutMs, is retried, and goes through once the lock is released', async () => {
    const holder = await import('mysql2/promise').then((m) => m.createConnection(url));
    await holder.query('START TRANSACTION');
    await holder.query('SELECT * FROM busy'); // holds a shared metadata lock until COMMIT
    const files = [{ name: 'V1__alter.sql', body: 'ALTER TABLE busy ADD COLUMN v INT;' }];
    await expect(
      applyMigrations(c, loadMigrations(files, 'mysql'), { historyTable: 'h', executionArn: 'arn:1', appliedBy: 'ops', deps, lockTimeoutMs: 1000, lockRetries: 0 }),
    ).rejects.toThrow(/Lock wait timeout exceeded/);
    const out = await applyMigrations(c, loadMigrations(files, 'mysql'), { historyTable: 'h', executionArn: 'arn:2', appliedBy: 'ops', deps: releasingOnWait(() => holder.query('COMMIT')), lockTimeoutMs: 1000, lockRetries: 4 });
    expect(out.applied[0]!.lockRetries).toBe(1);
    await holder.end();
  }, 60_000);

  it('a DDL statement that ran before a kill but was not logged is found applied on resume (no "Duplicate column name")', async () => {
    const files = [{ name: 'V2__cols.sql', body: 'ALTER TABLE busy ADD COLUMN a1 INT;\nALTER TABLE busy ADD COLUMN a2 INT;\nCREATE INDEX busy_a2 ON busy (a2);' }];
    const ms = loadMigrations(files, 'mysql');
    await applyMigrations(c, loadMigrations([{ name: 'V2__cols.sql', body: 'ALTER TABLE busy ADD COLUMN a1 INT;' }], 'mysql'), { historyTable: 'h2', executionArn: 'arn:3', appliedBy: 'ops', deps });
    await c.query(`UPDATE h2 SET success = false, finished_at = NULL, sha256 = '${ms[0]!.sha256}', chain = '${ms[0]!.chain}', statements_total = 3`);
    await c.query('ALTER TABLE busy ADD COLUMN a2 INT');
    const out = await applyMigrations(c, ms, { historyTable: 'h2', executionArn: 'arn:3', appliedBy: 'ops', deps });
    expect(out.applied[0]).toMatchObject({ script: 'V2__cols.sql', resumedAt: 2, foundApplied: [2] });
    expect((await c.query("SELECT count(*) AS n FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME = 'busy_a2'")).rows[0]!.n).toBe('1');
  }, 60_000);
});
