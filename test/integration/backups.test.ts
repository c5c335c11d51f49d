/**
 * Local backups before Schema, each read back: the embedded database's data directory (reopened), pg_dump on a real
 * PostgreSQL (pg_restore --list), mysqldump on a real MariaDB (its completion line); made once per id. And a run with
 * `backup` records it before the migrations change anything.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, describe, expect, it } from 'vitest';
import { runLocal } from '../../cli/runner/run';
import { LocalBackups } from '../../lambdas/adapters/local/backups';
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

  describe.runIf(!!PG_URL)('on a real PostgreSQL', () => {
    it('pg_dump -Fc, checked with pg_restore --list', async () => {
      const url = await freshDatabase(PG_URL!, name);
      await pgQuery(url, 'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 500) g;');
      const b = new LocalBackups(await tempDir('cutline-backups-'), () => ({ url }));
      const st = await b.ensure(ref(url), 'cutline-pg-pre-schema');
      expect(st.state, st.detail).toBe('available');
      expect(st.validatedBy).toMatch(/^pg_restore --list: \d+ entries$/);
      expect(st.location.endsWith('cutline-pg-pre-schema.dump')).toBe(true);
    });
  });

  describe.runIf(!!MYSQL_URL)('on a real MariaDB', () => {
    it('mysqldump, checked for its completion line', async () => {
      const url = await freshDatabase(MYSQL_URL!, name);
      const b = new LocalBackups(await tempDir('cutline-backups-'), () => ({ url }));
      const st = await b.ensure({ engine: 'mysql', url }, 'cutline-my-pre-schema');
      expect(st.state, st.detail).toBe('available');
      expect(st.validatedBy).toBe('mysqldump completion line');
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
});
