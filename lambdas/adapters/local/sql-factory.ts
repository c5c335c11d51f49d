/**
 * Local database URLs -> SqlClient, one client per URL for the whole run:
 *   pglite://memory         embedded PostgreSQL in memory (the default)
 *   pglite://memory/<name>  another in-memory database (e.g. a separate target)
 *   pglite://./data/dir     embedded PostgreSQL kept in a folder
 *   postgres://user@host/db a real PostgreSQL (node-postgres)
 *   mysql://root@host/db    MySQL / MariaDB (mysql2)
 */
import { rename, rm } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { engineOfUrl } from '../../core/spec';
import type { DatabaseRef } from '../../core/spec';
import type { SqlClient } from '../../ports';
import type { BackupTarget } from './backups';
import { mysqlClient } from './sql-mysql';
import { pgliteClient, postgresClient } from './sql-postgres';

/**
 * An embedded database that a restore can replace in place: every holder (its client, the loopback Data API, the
 * backup) keeps `handle`, and every call through it reaches the current instance.
 */
class Embedded {
  readonly handle: PGlite;
  constructor(
    public db: PGlite,
    /** The data directory of a pglite://<dir> URL; undefined in memory. */
    readonly dir: string | undefined,
  ) {
    this.handle = new Proxy(Object.create(PGlite.prototype) as PGlite, {
      get: (_t, key) => {
        const v = Reflect.get(this.db, key);
        return typeof v === 'function' ? v.bind(this.db) : v;
      },
    });
  }

  static async open(dir: string | undefined, archive?: Blob): Promise<PGlite> {
    const db = await PGlite.create(dir, archive ? { loadDataDir: archive } : {});
    await db.exec("SET TIME ZONE 'UTC'");
    return db;
  }

  /**
   * The database as the archive (a dumpDataDir of it) has it, in place: opened and checked beside the current one
   * first (in memory, or a sibling folder renamed over the data directory), so a bad archive leaves the database as it was.
   */
  async replace(archive: Blob): Promise<void> {
    if (!this.dir) {
      const next = await Embedded.open(undefined, archive);
      await this.db.close();
      this.db = next;
      return;
    }
    const incoming = `${this.dir}.restoring`;
    await rm(incoming, { recursive: true, force: true });
    await (await Embedded.open(incoming, archive)).close();
    await this.db.close();
    const previous = `${this.dir}.replaced`;
    await rm(previous, { recursive: true, force: true });
    await rename(this.dir, previous);
    await rename(incoming, this.dir);
    this.db = await Embedded.open(this.dir);
    await rm(previous, { recursive: true, force: true });
  }
}

export class LocalSqlFactory {
  private readonly clients = new Map<string, SqlClient>();
  private readonly embedded = new Map<string, Embedded>();

  /** Pre-register a client for a URL (tests, the demo). */
  register(url: string, client: SqlClient): void {
    this.clients.set(url, client);
  }

  async open(url: string): Promise<SqlClient> {
    const have = this.clients.get(url);
    if (have) return have;
    let client: SqlClient;
    if (url.startsWith('pglite:')) {
      const where = url.slice('pglite://'.length);
      const dir = where === 'memory' || where === '' || where.startsWith('memory/') ? undefined : where;
      const e = new Embedded(await Embedded.open(dir), dir);
      this.embedded.set(url, e);
      client = pgliteClient(e.handle, `pglite://${where || 'memory'}`, () => e.db.close());
    } else if (engineOfUrl(url) === 'postgres') client = postgresClient(url);
    else if (engineOfUrl(url) === 'mysql') client = mysqlClient(url);
    else throw new Error(`database URL ${JSON.stringify(url)} has an unknown scheme; expected pglite://, postgres:// or mysql://`);
    this.clients.set(url, client);
    return client;
  }

  /** The embedded PGlite behind a pglite:// URL (seeding uses its multi-statement exec). */
  pglite(url: string): PGlite | undefined {
    return this.embedded.get(url)?.handle;
  }

  /** What a backup and a restore of this URL's database reach: the URL, and for the embedded one its instance and how to replace it. */
  backupTarget(url: string): ReturnType<BackupTarget> {
    const e = this.embedded.get(url);
    return { url, ...(e ? { pglite: e.handle, replace: (archive: Blob) => e.replace(archive) } : {}) };
  }

  /** Synchronous lookup for the Deps port: every URL is opened before the run starts. */
  get(ref: DatabaseRef): SqlClient {
    const c = ref.url ? this.clients.get(ref.url) : undefined;
    if (!c) throw new Error(`database ${ref.url ?? JSON.stringify(ref.dataApi)} was not opened by the local runner; expected a local url`);
    return c;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close().catch(() => undefined)));
    this.clients.clear();
  }
}
