/**
 * Local database URLs -> SqlClient, one client per URL for the whole run:
 *   pglite://memory         embedded PostgreSQL in memory (the default)
 *   pglite://memory/<name>  another in-memory database (e.g. a separate target)
 *   pglite://./data/dir     embedded PostgreSQL kept in a folder
 *   postgres://user@host/db a real PostgreSQL (node-postgres)
 *   mysql://root@host/db    MySQL / MariaDB (mysql2)
 */
import { engineOfUrl } from '../../core/spec';
import { PGlite } from '@electric-sql/pglite';
import type { DatabaseRef } from '../../core/spec';
import type { SqlClient } from '../../ports';
import { mysqlClient } from './sql-mysql';
import { pgliteClient, postgresClient } from './sql-postgres';

export class LocalSqlFactory {
  private readonly clients = new Map<string, SqlClient>();
  private readonly embedded = new Map<string, PGlite>();

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
      const db = await PGlite.create(where === 'memory' || where === '' || where.startsWith('memory/') ? undefined : where);
      await db.exec("SET TIME ZONE 'UTC'");
      this.embedded.set(url, db);
      client = pgliteClient(db, `pglite://${where || 'memory'}`, () => db.close());
    } else if (engineOfUrl(url) === 'postgres') client = postgresClient(url);
    else if (engineOfUrl(url) === 'mysql') client = mysqlClient(url);
    else throw new Error(`database URL ${JSON.stringify(url)} has an unknown scheme; expected pglite://, postgres:// or mysql://`);
    this.clients.set(url, client);
    return client;
  }

  /** The embedded PGlite behind a pglite:// URL (seeding uses its multi-statement exec). */
  pglite(url: string): PGlite | undefined {
    return this.embedded.get(url);
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
