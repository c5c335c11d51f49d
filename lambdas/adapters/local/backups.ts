/**
 * Local backups before Schema, each checked by reading it back: the embedded database's data directory (PGlite
 * dumpDataDir, reopened in a second PGlite), PostgreSQL with `pg_dump -Fc` (checked with `pg_restore --list`), MySQL /
 * MariaDB with `mysqldump` (checked for its completion line). The file goes to the run's work folder (not evidence: a
 * dump can be large); its size and SHA-256 go to evidence. A sidecar JSON makes `ensure` idempotent by id.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import type { DatabaseRef } from '../../core/spec';
import type { BackupService, BackupStatus, RestoreStatus } from '../../ports';

const run = promisify(execFile);

/** What the runner knows of a database the spec names (by the URL the handlers see): its real URL, the embedded instance. */
export type BackupTarget = (ref: DatabaseRef) => { url: string; pglite?: PGlite; replace?: (archive: Blob) => Promise<void> } | undefined;

/** Run a command with a file as its standard input (a dump replayed by `mysql`), whatever the file's path holds. */
function replay([cmd, ...args]: string[], file: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, args, { env, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-2000);
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} < ${file} ended with exit ${code}: ${stderr.trim()}`))));
    createReadStream(file).on('error', reject).pipe(child.stdin);
  });
}

/** The last `bytes` of a file as text (a dump's completion line), without reading the whole file. */
async function tail(file: string, bytes: number): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const buf = Buffer.alloc(Math.min(bytes, size));
    await fh.read(buf, 0, buf.length, size - buf.length);
    return buf.toString('utf8');
  } finally {
    await fh.close();
  }
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export class LocalBackups implements BackupService {
  constructor(
    private readonly dir: string,
    private readonly target: BackupTarget,
  ) {}

  private sidecar(id: string) {
    return path.join(this.dir, `${id}.json`);
  }

  async status(_db: DatabaseRef, id: string): Promise<BackupStatus> {
    try {
      return JSON.parse(await readFile(this.sidecar(id), 'utf8')) as BackupStatus;
    } catch {
      return { state: 'failed', id, location: this.dir, detail: `no backup ${id} in ${this.dir}` };
    }
  }

  async ensure(db: DatabaseRef, id: string): Promise<BackupStatus> {
    const found = await this.status(db, id);
    if (found.state === 'available') return found;
    await mkdir(this.dir, { recursive: true });
    const t = this.target(db);
    let st: BackupStatus;
    try {
      if (!t) throw new Error(`database ${db.url ?? '?'} is not one this run opened`);
      st = t.pglite ? await this.embedded(t.pglite, id) : /^(mysql|mariadb):/.test(t.url) ? await this.mysqldump(t.url, id) : await this.pgDump(t.url, id);
    } catch (e) {
      st = { state: 'failed', id, location: this.dir, detail: (e as Error).message.split('\n')[0]!.slice(0, 500) };
    }
    await writeFile(this.sidecar(id), JSON.stringify(st, null, 2));
    return st;
  }

  /**
   * In place, as the backup has it: every schema of the PostgreSQL database dropped and the dump restored
   * (`pg_restore --exit-on-error`), or every table of the MySQL database dropped and the dump replayed. What was made
   * after the backup (tables, the migration history) is gone, so a later run applies its migrations again. The
   * embedded database is replaced by its backed-up data directory, opened and checked before the current one closes.
   * The archive must still have the SHA-256 recorded when it was made.
   */
  async restore(db: DatabaseRef, id: string): Promise<RestoreStatus> {
    const st = await this.status(db, id);
    if (st.state !== 'available') throw new Error(`no backup ${id} to restore (${st.detail}); expected the backup made before Schema`);
    const t = this.target(db);
    if (!t) throw new Error(`database ${db.url ?? '?'} is not one this run opened`);
    const sha = await sha256File(st.location).catch((e: Error) => `unreadable (${e.message})`);
    if (sha !== st.sha256) throw new Error(`backup ${st.location} has SHA-256 ${sha}, not the ${st.sha256} recorded when it was made; expected the archive unchanged`);
    if (t.pglite) {
      if (!t.replace) throw new Error(`the embedded database ${t.url} cannot be replaced here; expected the runner that opened it`);
      await t.replace(new Blob([await readFile(st.location)]));
      return { state: 'restored', detail: `restored in place from ${st.location} (sha256 ${st.sha256}): the embedded database replaced by its data directory` };
    }
    if (/^(mysql|mariadb):/.test(t.url)) {
      const u = new URL(t.url);
      const conn = ['-h', u.hostname, '-P', u.port || '3306', '-u', decodeURIComponent(u.username)];
      const env = { ...process.env, ...(u.password ? { MYSQL_PWD: decodeURIComponent(u.password) } : {}) };
      const name = decodeURIComponent(u.pathname.slice(1));
      const { stdout } = await run('mysql', [...conn, '-N', '-e', `SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${name.replace(/'/g, "''")}'`], { env });
      const tables = stdout.split('\n').filter(Boolean);
      if (tables.length) await run('mysql', [...conn, name, '-e', `SET FOREIGN_KEY_CHECKS = 0; DROP TABLE ${tables.map((x) => `\`${x.replace(/`/g, '``')}\``).join(', ')}`], { env });
      await replay(['mysql', ...conn, name], st.location, env);
      return { state: 'restored', detail: `restored ${name} from ${st.location} (sha256 ${st.sha256}); ${tables.length} table(s) dropped first` };
    }
    const drop = `DO $$ DECLARE s text; BEGIN
      FOR s IN SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' LOOP EXECUTE format('DROP SCHEMA %I CASCADE', s); END LOOP;
      CREATE SCHEMA public; END $$`;
    await run('psql', ['-v', 'ON_ERROR_STOP=1', '-q', '-d', t.url, '-c', drop]);
    await run('pg_restore', ['--no-owner', '--exit-on-error', '-d', t.url, st.location], { maxBuffer: 16 * 1024 * 1024 });
    return { state: 'restored', detail: `restored from ${st.location} (sha256 ${st.sha256}); every schema dropped first` };
  }

  private async finished(file: string, id: string, validatedBy: string): Promise<BackupStatus> {
    const { size } = await stat(file);
    return { state: 'available', id, location: file, detail: `${size} bytes`, bytes: size, sha256: await sha256File(file), validatedBy };
  }

  private async embedded(pg: PGlite, id: string): Promise<BackupStatus> {
    const file = path.join(this.dir, `${id}.tar.gz`);
    const blob = await pg.dumpDataDir('gzip');
    await writeFile(`${file}.part`, Buffer.from(await blob.arrayBuffer()));
    // Read back: a second embedded database opened from the archive answers a query over the catalog.
    const copy = await PGlite.create({ loadDataDir: new Blob([await readFile(`${file}.part`)]) });
    let relations: number;
    try {
      relations = Number((await copy.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace")).rows[0]!.n);
    } finally {
      await copy.close();
    }
    await rename(`${file}.part`, file);
    return this.finished(file, id, `reopened with PGlite: ${relations} relation(s) in public`);
  }

  private async pgDump(url: string, id: string): Promise<BackupStatus> {
    const file = path.join(this.dir, `${id}.dump`);
    await run('pg_dump', ['-Fc', '-f', `${file}.part`, '--dbname', url], { maxBuffer: 16 * 1024 * 1024 });
    const list = await run('pg_restore', ['--list', `${file}.part`], { maxBuffer: 64 * 1024 * 1024 });
    const entries = list.stdout.split('\n').filter((l) => l && !l.startsWith(';')).length;
    await rename(`${file}.part`, file);
    return this.finished(file, id, `pg_restore --list: ${entries} entries`);
  }

  private async mysqldump(url: string, id: string): Promise<BackupStatus> {
    const u = new URL(url);
    const file = path.join(this.dir, `${id}.sql`);
    const args = ['--single-transaction', '--routines', '--triggers', '-h', u.hostname, '-P', u.port || '3306', '-u', decodeURIComponent(u.username), `--result-file=${file}.part`, decodeURIComponent(u.pathname.slice(1))];
    await run('mysqldump', args, { env: { ...process.env, ...(u.password ? { MYSQL_PWD: decodeURIComponent(u.password) } : {}) }, maxBuffer: 16 * 1024 * 1024 });
    if (!/-- Dump completed/.test(await tail(`${file}.part`, 200))) throw new Error(`mysqldump of ${u.pathname.slice(1)} ended without its "-- Dump completed" line; expected a whole dump`);
    await rename(`${file}.part`, file);
    return this.finished(file, id, 'mysqldump completion line');
  }
}
