/** SqlClient over mysql2 (MySQL / MariaDB). BIGINT and DECIMAL come back as exact strings. */
import mysql from 'mysql2/promise';
import type { SqlClient, SqlParams, SqlResult, SqlRow } from '../../ports';
import { bindMysql, normalizeValue, redactUrl } from './sql-common';

type Conn = mysql.Pool | mysql.PoolConnection;

async function run(c: Conn, sql: string, params?: SqlParams): Promise<SqlResult> {
  const { text, values } = bindMysql(sql, params);
  let [res, fields] = await c.query({ sql: text, values });
  // CALL returns several result sets (rows..., then a status header): the first one is the answer.
  if (Array.isArray(res) && Array.isArray(res[0])) {
    res = res[0] as typeof res;
    // ... and so are its fields: one list per result set.
    const first: unknown = fields?.[0];
    fields = Array.isArray(first) ? first : [];
  }
  if (Array.isArray(res)) {
    const cols = (fields ?? []).map((f) => ({ name: f.name, type: String(f.columnType ?? f.type) }));
    return {
      rows: (res as Record<string, unknown>[]).map((row) => {
        const o: SqlRow = {};
        for (const col of cols) o[col.name] = normalizeValue(row[col.name]);
        return o;
      }),
      columns: cols,
      rowsAffected: 0,
    };
  }
  return { rows: [], columns: [], rowsAffected: (res as mysql.ResultSetHeader).affectedRows ?? 0 };
}

class MysqlClient implements SqlClient {
  readonly dialect = 'mysql' as const;
  constructor(
    readonly label: string,
    private readonly conn: Conn,
    private readonly pool: mysql.Pool | null,
  ) {}
  query(sql: string, params?: SqlParams): Promise<SqlResult> {
    return run(this.conn, sql, params);
  }
  async transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    if (!this.pool) throw new Error('nested transactions are not supported: the Data API has one transaction per transactionId');
    const c = await this.pool.getConnection();
    try {
      await c.beginTransaction();
      const out = await fn(new MysqlClient(this.label, c, null));
      await c.commit();
      return out;
    } catch (e) {
      await c.rollback().catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }
  async close(): Promise<void> {
    await this.pool?.end();
  }
}

export function mysqlClient(url: string, opts: { max?: number } = {}): SqlClient {
  const pool = mysql.createPool({
    uri: url.replace(/^mariadb:/, 'mysql:'),
    connectionLimit: opts.max ?? 8,
    connectTimeout: 5000,
    multipleStatements: false,
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    dateStrings: true,
    timezone: 'Z',
    typeCast: (field, next) => (field.type === 'JSON' ? field.string('utf8') : next()),
  });
  pool.on('connection', (c) => {
    c.query("SET time_zone = '+00:00'");
  });
  return new MysqlClient(redactUrl(url), pool, pool);
}
