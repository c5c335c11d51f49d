/**
 * Fidelity: Aurora MySQL through the Data API. The loopback endpoint served PostgreSQL only, so every MySQL statement
 * of a local run went through a direct mysql2 pool, which keeps session settings between calls, never times a call
 * out and returns what mysql2 returns rather than the service's Fields. Now a MySQL / MariaDB URL is served too: each
 * call on a pooled connection reset before the next (COM_RESET_CONNECTION), 45 s a call (KILL QUERY unless
 * continueAfterTimeout), the service's encoding (BIGINT and DECIMAL exact, binary as blobValue).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLocal } from '../../cli/runner/run';
import { loopbackDataApi } from '../../cli/loopback-data-api';
import { systemClock } from '../../lambdas/adapters/local/runtime';
import { applyMigrations, loadMigrations } from '../../lambdas/core/migrations';
import { dropDatabase, freshDatabase } from '../support/databases';
import { MYSQL_URL } from '../support/env';
import { readJson, tempDir } from '../support/local-run';
import { releasingOnWait } from '../support/clocks';

describe.runIf(!!MYSQL_URL)('the loopback Data API on MySQL / MariaDB', () => {
  const name = `cutline_dapi_my_${process.pid}`;
  let url: string;
  let admin: mysql.Connection;
  beforeAll(async () => {
    url = await freshDatabase(MYSQL_URL!, name);
    admin = await mysql.createConnection(url);
  });
  afterAll(async () => {
    await admin.end();
    await dropDatabase(MYSQL_URL!, name);
  });

  it('values as the service encodes them: BIGINT beyond 2^53 and DECIMAL exact, dates as written, binary as bytes', async () => {
    const sql = await loopbackDataApi(url, undefined, {});
    try {
      await admin.query('CREATE TABLE vals (id BIGINT PRIMARY KEY, amount DECIMAL(30,10), at DATETIME(3), raw VARBINARY(16), small INT, note VARCHAR(20))');
      await admin.query("INSERT INTO vals VALUES (9223372036854775807, 12345678901234567890.0123456789, '2026-11-30 12:34:56.789', UNHEX('00ff10'), -7, 'ünï')");
      const r = await sql.query('SELECT id, amount, at, raw, small, note FROM vals WHERE id = :id', { id: 9223372036854775807n });
      expect(r.rows).toEqual([{ id: '9223372036854775807', amount: '12345678901234567890.0123456789', at: '2026-11-30 12:34:56.789', raw: expect.anything(), small: -7, note: 'ünï' }]);
      expect(Buffer.from(r.rows[0]!.raw as string, 'base64').toString('hex')).toBe('00ff10');
      expect((await sql.query('UPDATE vals SET small = small + 1 WHERE id > :lo', { lo: 0 })).rowsAffected).toBe(1);
    } finally {
      await sql.close();
    }
  });

  it('a session setting or user variable does not carry to the next call; a transaction keeps its own', async () => {
    const sql = await loopbackDataApi(url, undefined, {});
    try {
      const global = (await sql.query('SELECT @@GLOBAL.lock_wait_timeout AS v')).rows[0]!.v;
      await sql.query('SET SESSION lock_wait_timeout = 7');
      await sql.query('SET @mark = 1');
      const later = await Promise.all(Array.from({ length: 4 }, async () => (await sql.query('SELECT @@SESSION.lock_wait_timeout AS v, @mark AS mark')).rows[0]));
      expect(later).toEqual(Array(4).fill({ v: global, mark: null }));
      const inside = await sql.transaction(async (tx) => {
        await tx.query('SET SESSION lock_wait_timeout = 9');
        return (await tx.query('SELECT @@SESSION.lock_wait_timeout AS v')).rows[0]!.v;
      });
      expect(String(inside)).toBe('9');
    } finally {
      await sql.close();
    }
  });

  it('a call past the statement limit fails with StatementTimeoutException and the statement is stopped', async () => {
    const sql = await loopbackDataApi(url, undefined, { statementTimeoutMs: 300 });
    try {
      await expect(sql.query('SELECT SLEEP(5) AS s')).rejects.toMatchObject({ name: 'StatementTimeoutException' });
      const [rows] = await admin.query("SELECT count(*) AS n FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(5) AS s'");
      expect((rows as { n: number }[])[0]!.n).toBe(0);
      await expect(sql.query('SELECT 1 AS a; SELECT 2 AS b')).rejects.toThrow(/Multistatements aren't supported|one statement/);
    } finally {
      await sql.close();
    }
  });

  /** A loopback that gives a call 150 ms (AWS: 45 s). */
  const shortCalls = async (fn: (sql: Awaited<ReturnType<typeof loopbackDataApi>>) => Promise<void>) => {
    const sql = await loopbackDataApi(url, undefined, { statementTimeoutMs: 150 });
    try {
      await fn(sql);
    } finally {
      await sql.close();
    }
  };
  /** 400,000 wide rows: a table-copying ALTER takes well over a 150 ms call. */
  const wideTable = async (table: string) => {
    await admin.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, pad CHAR(200) NOT NULL) ENGINE=InnoDB`);
    await admin.query(`INSERT INTO ${table} SELECT seq, CONCAT('p', seq) FROM seq_1_to_400000`);
  };

  it('an ALTER that outlives its call runs on (continueAfterTimeout) and the migration waits for it; one that fails after its call counts as failed', async () =>
    shortCalls(async (sql) => {
      await wideTable('wide');
      const files = [{ name: 'V1__wide.sql', body: 'ALTER TABLE wide ADD COLUMN n INT NULL, ALGORITHM=COPY;' }];
      const out = await applyMigrations(sql, loadMigrations(files, 'mysql'), { historyTable: 'wide_hist', executionArn: 'arn:wide', appliedBy: 'ops', deps: { clock: systemClock, progress: undefined }, lockTimeoutMs: 5000 });
      expect(out.applied.map((a) => a.script)).toEqual(['V1__wide.sql']);
      const [cols] = await admin.query("SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'wide' AND COLUMN_NAME = 'n'");
      expect(cols).toHaveLength(1);
      // Two equal values at the very end: the unique key's copy fails after its call has returned; nothing changed, and the run says so.
      await admin.query("UPDATE wide SET pad = 'dup' WHERE id >= 399999");
      const bad = [...files, { name: 'V2__unique.sql', body: 'ALTER TABLE wide ADD UNIQUE KEY wide_pad (pad), ALGORITHM=COPY;' }];
      await expect(
        applyMigrations(sql, loadMigrations(bad, 'mysql'), { historyTable: 'wide_hist', executionArn: 'arn:wide2', appliedBy: 'ops', deps: { clock: systemClock, progress: undefined }, lockTimeoutMs: 5000, lockRetries: 0 }),
      ).rejects.toThrow(/ALTER TABLE wide ADD UNIQUE KEY wide_pad .* ended without changing wide/);
      const [keys] = await admin.query("SELECT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'wide' AND INDEX_NAME = 'wide_pad'");
      expect(keys).toHaveLength(0);
    }), 120_000);

  it('an ALTER that outlives its Lambda is followed by the next invocation (MigrationStillRunning) and counted once', async () =>
    shortCalls(async (sql) => {
      await wideTable('longer');
      const files = [{ name: 'V1__longer.sql', body: 'ALTER TABLE longer ADD COLUMN m INT NULL, ALGORITHM=COPY;' }];
      const opts = (remainingMs: () => number) => ({ historyTable: 'longer_hist', executionArn: 'arn:longer', appliedBy: 'ops', remainingMs, deps: { clock: systemClock, progress: undefined }, lockTimeoutMs: 5000 });
      // The first invocation sends it, its call times out (the copy runs on), and its time is up.
      await expect(applyMigrations(sql, loadMigrations(files, 'mysql'), opts(() => 10_000))).rejects.toMatchObject({ name: 'MigrationStillRunning' });
      const out = await applyMigrations(sql, loadMigrations(files, 'mysql'), opts(() => 600_000));
      expect(out.applied[0]).toMatchObject({ script: 'V1__longer.sql', foundApplied: [1] });
      const [cols] = await admin.query("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'longer' AND COLUMN_NAME = 'm'");
      expect(cols).toHaveLength(1);
    }), 120_000);

  it('a DDL statement sent past its call still waits at most lockTimeoutMs for a metadata lock: stopped (KILL QUERY), retried, applied once the lock is gone', async () => {
    const sql = await loopbackDataApi(url, undefined, { statementTimeoutMs: 150 });
    const holder = await mysql.createConnection(url);
    try {
      await admin.query('CREATE TABLE held (id INT PRIMARY KEY) ENGINE=InnoDB');
      await holder.query('START TRANSACTION');
      await holder.query('SELECT * FROM held'); // a shared metadata lock until COMMIT
      const files = [{ name: 'V1__held.sql', body: 'ALTER TABLE held ADD COLUMN v INT;' }];
      const opts = { historyTable: 'held_hist', executionArn: 'arn:held', appliedBy: 'ops', deps: { clock: systemClock, progress: undefined }, lockTimeoutMs: 1000 };
      await expect(applyMigrations(sql, loadMigrations(files, 'mysql'), { ...opts, lockRetries: 0 })).rejects.toThrow(/Lock wait timeout exceeded/);
      const [left] = await admin.query("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO = 'ALTER TABLE held ADD COLUMN v INT'");
      expect(left).toHaveLength(0);
      const out = await applyMigrations(sql, loadMigrations(files, 'mysql'), { ...opts, executionArn: 'arn:held2', deps: releasingOnWait(() => holder.query('COMMIT')), lockRetries: 4 });
      expect(out.applied[0]!.lockRetries).toBe(1);
    } finally {
      await holder.end();
      await sql.close();
    }
  }, 60_000);

  it("a migration's session settings end with its statement (pinned by a transaction id), and the run on MariaDB ends GO through the Data API", async () => {
    const sql = await loopbackDataApi(url, undefined, {});
    try {
      const global = (await sql.query('SELECT @@GLOBAL.lock_wait_timeout AS v')).rows[0]!.v;
      const files = [{ name: 'V1__t.sql', body: 'CREATE TABLE t (id INT PRIMARY KEY);\nALTER TABLE t ADD COLUMN n INT NULL;' }];
      await applyMigrations(sql, loadMigrations(files, 'mysql'), { historyTable: 'hist', executionArn: 'arn:s', appliedBy: 'ops', deps: { clock: systemClock, progress: undefined }, lockTimeoutMs: 2000 });
      expect((await sql.query('SELECT @@SESSION.lock_wait_timeout AS v')).rows[0]!.v).toBe(global);
    } finally {
      await sql.close();
    }
    const evidenceDir = await tempDir();
    const migrations = await tempDir('cutline-mig-');
    await admin.query('CREATE TABLE orders (id BIGINT PRIMARY KEY, total DECIMAL(12,2) NOT NULL)');
    await admin.query('INSERT INTO orders VALUES (1, 10.50), (2, 20.25), (9007199254740993, 1.00)');
    await writeFile(path.join(migrations, 'V1__orders.sql'), 'ALTER TABLE orders ADD COLUMN note VARCHAR(40) NULL;\nCREATE INDEX orders_total ON orders (total);\n');
    const lines: string[] = [];
    const r = await runLocal({
      spec: {
        version: 1,
        runId: 'mysql-data-api',
        owner: 'dba@example.com',
        tCutover: '2026-11-21T02:00:00Z',
        source: { engine: 'mysql', url },
        migrations: { location: migrations, historyTable: 'dapi_history' },
        verify: { tables: ['orders'], rowCounts: 'before-vs-after' },
      },
      evidenceDir,
      workDir: await tempDir('cutline-work-'),
      approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' },
      out: (l) => lines.push(l),
    });
    expect([r.outcome, r.classification], lines.join('\n')).toEqual(['GO', 'GO']);
    expect(lines.join('\n')).toMatch(/mysql:\/\/.*every statement through the Data API adapter/);
    expect((await readJson(path.join(evidenceDir, 'mysql-data-api', '02_preflight.json'))).details.checks[0].detail).toContain('data-api loopback');
  }, 120_000);
});
