/**
 * Local backups before Schema, each read back: the embedded database's data directory (reopened), pg_dump on a real
 * PostgreSQL (pg_restore --list), mysqldump on a real MariaDB (its completion line); made once per id. And a run with
 * `backup` records it before the migrations change anything.
 */
import { appendFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import mysql from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/commands';
import { EXIT } from '../../cli/io';
import { runLocal } from '../../cli/runner/run';
import { LocalBackups } from '../../lambdas/adapters/local/backups';
import { LocalSqlFactory } from '../../lambdas/adapters/local/sql-factory';
import { MYSQL_URL, PG_URL } from '../support/env';
import { dropDatabase, freshDatabase, pgQuery } from '../support/databases';
import { miniSpec, readJson, tempDir } from '../support/local-run';

const ref = (url: string) => ({ engine: 'postgres' as const, url });

describe('local backups', () => {
  it('the embedded database: its data directory, reopened to check it; a second ensure finds the first', async () => {
    const pg = await PGlite.create();
    await pg.exec('CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100);');
    const dir = await tempDir('cutline-backups-');
    const b = new LocalBackups(dir, () => ({ url: 'pglite://memory', pglite: pg }));
    const st = await b.ensure(ref('pglite://memory'), 'cutline-x-pre-schema');
    expect(st).toMatchObject({ state: 'available', id: 'cutline-x-pre-schema', location: path.join(dir, 'cutline-x-pre-schema.tar.gz'), validatedBy: 'reopened with PGlite: 2 relation(s) in public' });
    expect(st.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(st.bytes).toBe((await stat(st.location)).size);
    const mtime = (await stat(st.location)).mtimeMs;
    expect(await b.ensure(ref('pglite://memory'), 'cutline-x-pre-schema')).toEqual(st);
    expect((await stat(st.location)).mtimeMs).toBe(mtime);
    await pg.close();
  });

  it('a database the run did not open: failed, saying which', async () => {
    const b = new LocalBackups(await tempDir('cutline-backups-'), () => undefined);
    expect(await b.ensure(ref('postgres://h/db'), 'y')).toMatchObject({ state: 'failed', detail: 'database postgres://h/db is not one this run opened' });
  });

  const name = `cutline_backup_${process.pid}`;
  afterAll(async () => {
    if (PG_URL) await dropDatabase(PG_URL, name);
    if (MYSQL_URL) await dropDatabase(MYSQL_URL, name);
  });

  it('the embedded database is restored in place (in memory and in a folder): its client sees the backup; a changed archive is refused and nothing changes', async () => {
    for (const url of ['pglite://memory', `pglite://${await tempDir('cutline-pglite-')}/data`]) {
      const factory = new LocalSqlFactory();
      const c = await factory.open(url);
      try {
        await c.query('CREATE TABLE t (id int PRIMARY KEY)');
        await c.query('INSERT INTO t SELECT generate_series(1, 100)');
        const b = new LocalBackups(await tempDir('cutline-backups-'), () => factory.backupTarget(url));
        const st = await b.ensure(ref(url), 'z');
        await c.query('CREATE TABLE made_by_the_run (x int)');
        await c.query('DELETE FROM t WHERE id > 10');
        const r = await b.restore(ref(url), 'z');
        expect(r.detail).toBe(`restored in place from ${st.location} (sha256 ${st.sha256}): the embedded database replaced by its data directory`);
        const state = async () => (await c.query("SELECT (SELECT count(*)::int FROM t) AS n, to_regclass('made_by_the_run') AS made")).rows[0];
        expect(await state()).toEqual({ n: 100, made: null });
        // Twice: the same database again.
        await b.restore(ref(url), 'z');
        expect(await state()).toEqual({ n: 100, made: null });
        // An archive changed since it was made: refused before anything is touched.
        await c.query('DELETE FROM t WHERE id > 50');
        await appendFile(st.location, 'x');
        await expect(b.restore(ref(url), 'z')).rejects.toThrow(`not the ${st.sha256} recorded when it was made; expected the archive unchanged`);
        expect(await state()).toEqual({ n: 50, made: null });
      } finally {
        await factory.closeAll();
      }
    }
  }, 120_000);

  it('a run on the embedded database (in a folder) whose smoke fails rolls back by restoring the backup: no migration history, no uuid columns', async () => {
    const url = `pglite://${await tempDir('cutline-pglite-')}/data`;
    const spec = await miniSpec({ runId: 'restore-embedded' });
    spec.source = { engine: 'postgres', url };
    spec.backup = {};
    spec.smoke.checks = [{ name: 'app is up', url: 'http://127.0.0.1:9/agents/1', expectStatus: 200, timeoutMs: 500 }];
    spec.rollback.actions = [spec.rollback.actions[0], { type: 'restore', description: 'restore the pre-cutover backup (seed 000)' }];
    const r = await runLocal({ spec, evidenceDir: await tempDir(), workDir: await tempDir('cutline-work-'), approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, out: () => {} });
    expect([r.outcome, r.classification]).toEqual(['NO_GO', 'ROLLED_BACK']);
    const rb = await readJson(path.join(r.evidenceDir, '12_rollback.json'));
    expect(rb.details.actions.map((a: { type: string; ok: boolean }) => [a.type, a.ok])).toEqual([
      ['parameter', true],
      ['restore', true],
    ]);
    const factory = new LocalSqlFactory();
    try {
      const c = await factory.open(url);
      const after = (
        await c.query(
          "SELECT to_regclass('cutline_schema_history') AS history, (SELECT count(*)::int FROM information_schema.columns WHERE column_name = 'agent_uuid') AS uuid_columns, (SELECT count(*)::int FROM s3_cloudbackup_agents) AS agents",
        )
      ).rows[0];
      expect(after).toEqual({ history: null, uuid_columns: 0, agents: 20 });
    } finally {
      await factory.closeAll();
    }
  }, 180_000);

  describe.runIf(!!PG_URL)('on a real PostgreSQL', () => {
    it('pg_dump -Fc, checked with pg_restore --list', async () => {
      const url = await freshDatabase(PG_URL!, name);
      await pgQuery(url, 'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 500) g;');
      const b = new LocalBackups(await tempDir('cutline-backups-'), () => ({ url }));
      const st = await b.ensure(ref(url), 'cutline-pg-pre-schema');
      expect(st.state, st.detail).toBe('available');
      expect(st.validatedBy).toMatch(/^pg_restore --list: \d+ entries$/);
      expect(st.location.endsWith('cutline-pg-pre-schema.dump')).toBe(true);
      // Restored in place, twice: what came after the backup is gone, the rows are the backup's.
      await pgQuery(url, "CREATE TABLE later (id int); UPDATE t SET v = 'changed'; CREATE SCHEMA extra;");
      for (let i = 0; i < 2; i++) {
        expect((await b.restore(ref(url), 'cutline-pg-pre-schema')).detail).toMatch(/^restored from .*cutline-pg-pre-schema\.dump \(sha256 [0-9a-f]{64}\); every schema dropped first$/);
        expect((await pgQuery(url, "SELECT to_regclass('later') AS later, (SELECT count(*)::int FROM t WHERE v = 'changed') AS changed, (SELECT count(*)::int FROM t) AS n, (SELECT count(*)::int FROM pg_namespace WHERE nspname = 'extra') AS extra")).rows[0]).toEqual({ later: null, changed: 0, n: 500, extra: 0 });
      }
    });
  });

  describe.runIf(!!MYSQL_URL)('on a real MariaDB', () => {
    it('mysqldump, checked for its completion line', async () => {
      const url = await freshDatabase(MYSQL_URL!, name);
      const seed = await mysql.createConnection(url);
      await seed.query('CREATE TABLE t (id int PRIMARY KEY, v varchar(40))');
      await seed.query("INSERT INTO t VALUES (1, 'a'), (2, 'b')");
      await seed.end();
      const b = new LocalBackups(await tempDir('cutline-backups-'), () => ({ url }));
      const st = await b.ensure({ engine: 'mysql', url }, 'cutline-my-pre-schema');
      expect(st.state, st.detail).toBe('available');
      expect(st.validatedBy).toBe('mysqldump completion line');
      const my = await mysql.createConnection(url);
      try {
        await my.query('CREATE TABLE later (id int)');
        expect((await b.restore({ engine: 'mysql', url }, 'cutline-my-pre-schema')).detail).toMatch(/; 2 table\(s\) dropped first$/);
        const [rows] = await my.query(`SELECT count(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${name}'`);
        expect((rows as { n: number }[])[0]!.n).toBe(1);
      } finally {
        await my.end();
      }
    });
  });

  it('a run with backup: the embedded database is backed up before Schema, its size and SHA-256 in evidence', async () => {
    const spec = await miniSpec({ runId: 'backup-run' });
    spec.backup = {};
    const workDir = await tempDir('cutline-work-');
    const r = await runLocal({ spec, evidenceDir: await tempDir(), workDir, approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, out: () => {} });
    expect([r.outcome, r.classification]).toEqual(['GO', 'GO']);
    const rec = await readJson(path.join(r.evidenceDir, '03_schema_backup.json'));
    expect(rec).toMatchObject({ database: 'target', state: 'available', validatedBy: expect.stringMatching(/^reopened with PGlite: \d+ relation\(s\) in public$/) });
    expect(rec.location).toBe(path.join(workDir, 'backup-run', 'backups', `${rec.id}.tar.gz`));
    expect((await readJson(path.join(r.evidenceDir, '03_schema.json'))).details.backup.sha256).toBe(rec.sha256);
    const manifest = (await readJson(path.join(r.evidenceDir, 'manifest.json'))).files.map((f: { file: string }) => f.file);
    expect(manifest).toContain('03_schema_backup.json');
  }, 120_000);

  it.runIf(!!PG_URL)('a run on a real PostgreSQL whose smoke fails rolls back by restoring the backup: the schema as before the run, no migration history', async () => {
    const dbName = `cutline_restore_run_${process.pid}`;
    const url = await freshDatabase(PG_URL!, dbName);
    try {
      const spec = await miniSpec({ runId: 'restore-run' });
      spec.source = { engine: 'postgres', url };
      spec.backup = {};
      spec.smoke.checks = [{ name: 'app is up', url: 'http://127.0.0.1:9/agents/1', expectStatus: 200, timeoutMs: 500 }];
      spec.rollback.actions = [spec.rollback.actions[0], { type: 'restore', description: 'restore the pre-cutover backup (seed 000)' }];
      const workDir = await tempDir('cutline-work-');
      const r = await runLocal({ spec, seed: true, evidenceDir: await tempDir(), workDir, approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, out: () => {} });
      expect([r.outcome, r.classification]).toEqual(['NO_GO', 'ROLLED_BACK']);
      const rb = await readJson(path.join(r.evidenceDir, '12_rollback.json'));
      expect(rb.details.actions.map((a: { type: string; ok: boolean }) => [a.type, a.ok])).toEqual([
        ['parameter', true],
        ['restore', true],
      ]);
      const after = (
        await pgQuery(
          url,
          "SELECT to_regclass('cutline_schema_history') AS history, (SELECT count(*)::int FROM information_schema.columns WHERE column_name = 'agent_uuid') AS uuid_columns, (SELECT count(*)::int FROM s3_cloudbackup_agents) AS agents",
        )
      ).rows[0];
      expect(after).toEqual({ history: null, uuid_columns: 0, agents: 20 });
      // By hand, again (`cutline rollback`): the same backup from the run's work folder, restored once more to the same database.
      const t = { out: [] as string[], err: [] as string[] };
      const code = await main(['rollback', 'restore-run', '--yes', '--evidence-dir', path.dirname(r.evidenceDir), '--work-dir', workDir], { out: (l) => t.out.push(l), err: (l) => t.err.push(l), env: {} });
      expect(code, t.err.join('\n')).toBe(EXIT.OK);
      expect(t.out.find((l) => l.includes('restore the pre-cutover backup'))).toMatch(/^ok +2\. restore the pre-cutover backup \(seed 000\): restored from .*\.dump \(sha256 [0-9a-f]{64}\); every schema dropped first$/);
      expect((await pgQuery(url, "SELECT to_regclass('cutline_schema_history') AS history, (SELECT count(*)::int FROM s3_cloudbackup_agents) AS agents")).rows[0]).toEqual({ history: null, agents: 20 });
    } finally {
      await dropDatabase(PG_URL!, dbName);
    }
  }, 180_000);
});
