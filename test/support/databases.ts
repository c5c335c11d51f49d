/** Databases on the real servers the tests use (CUTLINE_TEST_PG_URL, CUTLINE_TEST_MYSQL_URL). */
import mysql from 'mysql2/promise';
import { afterAll, beforeAll } from 'vitest';
import { mysqlClient } from '../../lambdas/adapters/local/sql-mysql';
import type { SqlClient } from '../../lambdas/ports';
import pg from 'pg';

/** The server's URL with another database in its path. */
export function pgUrlFor(base: string, db: string): string {
  const u = new URL(base);
  u.pathname = `/${db}`;
  return u.toString();
}

const isMysql = (url: string) => /^(mysql|mariadb):/.test(url);

async function admin(baseUrl: string, sql: string[]): Promise<void> {
  if (isMysql(baseUrl)) {
    const c = await mysql.createConnection(baseUrl);
    try {
      for (const q of sql) await c.query(q);
    } finally {
      await c.end();
    }
    return;
  }
  const c = new pg.Client({ connectionString: baseUrl });
  await c.connect();
  try {
    for (const q of sql) await c.query(q);
  } finally {
    await c.end();
  }
}

const drop = (baseUrl: string, name: string) => `DROP DATABASE IF EXISTS ${name}${isMysql(baseUrl) ? '' : ' WITH (FORCE)'}`;

/**
 * An empty database `name` on the server of `baseUrl` (one a killed run left behind is dropped first); returns its URL.
 * `charset` (MariaDB): e.g. 'utf8mb4 COLLATE utf8mb4_general_ci'.
 */
export async function freshDatabase(baseUrl: string, name: string, opts: { charset?: string } = {}): Promise<string> {
  await admin(baseUrl, [drop(baseUrl, name), `CREATE DATABASE ${name}${opts.charset ? ` CHARACTER SET ${opts.charset}` : ''}`]);
  return pgUrlFor(baseUrl, name);
}

export async function dropDatabase(baseUrl: string, name: string): Promise<void> {
  await admin(baseUrl, [drop(baseUrl, name)]);
}

/** One statement on a fresh connection to `url` (PostgreSQL). */
export async function pgQuery(url: string, text: string): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await c.query(text);
  } finally {
    await c.end();
  }
}

/**
 * Terminate backends of the run's databases while it runs (pg_terminate_backend), bounded:
 * at most `max` terminations and `rounds` polls of `pollMs`, one backend at a time, `pauseMs` after each.
 * `query` narrows which backends (a LIKE pattern on pg_stat_activity.query); stop() ends it and says how many.
 */
export async function terminateBackends(urls: string[], o: { max: number; query?: string; pollMs?: number; pauseMs?: number; rounds?: number }): Promise<{ stop(): Promise<number> }> {
  const clients = await Promise.all(
    urls.map(async (url) => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      return c;
    }),
  );
  let terminated = 0;
  let running = true;
  const loop = (async () => {
    for (let i = 0; i < (o.rounds ?? 3000) && running && terminated < o.max; i++) {
      const r = await clients[i % clients.length]!.query(
        `SELECT count(pg_terminate_backend(pid)) AS n FROM (SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'${o.query ? ' AND query LIKE $1' : ''} LIMIT 1) a`,
        o.query ? [o.query] : [],
      );
      const n = Number(r.rows[0].n);
      terminated += n;
      await new Promise((res) => setTimeout(res, n ? (o.pauseMs ?? 200) : (o.pollMs ?? 10)));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      await Promise.all(clients.map((c) => c.end()));
      return terminated;
    },
  };
}

/** A fresh MariaDB database for the describe block it is called in: the client (after beforeAll), dropped after all. */
export function freshMysqlForBlock(baseUrl: string, prefix: string): { readonly client: SqlClient } {
  const name = `${prefix}_${process.pid}`;
  const box: { client: SqlClient } = { client: undefined as unknown as SqlClient };
  beforeAll(async () => {
    box.client = mysqlClient(await freshDatabase(baseUrl, name));
  });
  afterAll(async () => {
    await box.client?.close();
    await dropDatabase(baseUrl, name);
  });
  return box;
}
