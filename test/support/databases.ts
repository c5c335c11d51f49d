/** Databases on the real servers the tests use (CUTLINE_TEST_PG_URL, CUTLINE_TEST_MYSQL_URL). */
import mysql from 'mysql2/promise';
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
