/** SqlClient over node-postgres (a real PostgreSQL) or PGlite (embedded, the default). */
import type { PGlite, Transaction } from '@electric-sql/pglite';
import pg from 'pg';
import type { SqlClient, SqlParams, SqlResult, SqlRow } from '../../ports';
import { bindPostgres, normalizeValue, PG_TEXT_OIDS, redactUrl } from './sql-common';

const DML = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE', 'COPY']);

interface RawResult {
  rows: Record<string, unknown>[];
  fields: { name: string; dataTypeID: number }[];
  command?: string;
  affected: number;
}
type Exec = (text: string, values: unknown[]) => Promise<RawResult>;

function shape(r: RawResult): SqlResult {
  return {
    rows: r.rows.map((row) => {
      const o: SqlRow = {};
      for (const f of r.fields) o[f.name] = normalizeValue(row[f.name]);
      return o;
    }),
    columns: r.fields.map((f) => ({ name: f.name, type: String(f.dataTypeID) })),
    rowsAffected: r.command && DML.has(r.command.toUpperCase()) ? r.affected : 0,
  };
}

class PgFamilyClient implements SqlClient {
  readonly dialect = 'postgres' as const;
  constructor(
    readonly label: string,
    private readonly exec: Exec,
    private readonly tx: <T>(fn: (c: SqlClient) => Promise<T>) => Promise<T>,
    private readonly onClose: () => Promise<void>,
  ) {}
  async query(sql: string, params?: SqlParams): Promise<SqlResult> {
    const { text, values } = bindPostgres(sql, params);
    return shape(await this.exec(text, values));
  }
  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    return this.tx(fn);
  }
  close(): Promise<void> {
    return this.onClose();
  }
}

const noNestedTx = async (): Promise<never> => {
  throw new Error('nested transactions are not supported: the Data API has one transaction per transactionId');
};

const PGLITE_PARSERS = Object.fromEntries(PG_TEXT_OIDS.map((oid) => [oid, (v: string) => v]));

function pgliteExec(db: PGlite | Transaction): Exec {
  return async (text, values) => {
    const r = await db.query<Record<string, unknown>>(text, values, { parsers: PGLITE_PARSERS });
    return { rows: r.rows, fields: r.fields, command: (r as { command?: string }).command, affected: r.affectedRows ?? 0 };
  };
}

export function pgliteClient(db: PGlite, label = 'pglite (embedded)', onClose: () => Promise<void> = async () => {}): SqlClient {
  return new PgFamilyClient(
    label,
    pgliteExec(db),
    (fn) => db.transaction((tx) => fn(new PgFamilyClient(label, pgliteExec(tx), noNestedTx, async () => {}))),
    onClose,
  );
}

const TEXT = (v: string) => v;
const PG_TYPES = {
  getTypeParser(oid: number, format?: string) {
    if ((PG_TEXT_OIDS as readonly number[]).includes(oid)) return TEXT;
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

function pgExec(c: pg.Pool | pg.PoolClient): Exec {
  return async (text, values) => {
    const r = await c.query({ text, values, types: PG_TYPES });
    return { rows: r.rows, fields: r.fields, command: r.command, affected: r.rowCount ?? 0 };
  };
}

/** node-postgres pool; every session runs in UTC so timestamptz text is UTC. */
export function postgresClient(url: string, opts: { max?: number } = {}): SqlClient {
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 8, connectionTimeoutMillis: 5000, options: '-c TimeZone=UTC' });
  pool.on('error', () => undefined);
  const label = redactUrl(url);
  return new PgFamilyClient(
    label,
    pgExec(pool),
    async (fn) => {
      const c = await pool.connect();
      // A checked-out client whose backend is terminated emits 'error': without a listener that ends the process.
      let broken = false;
      const onError = () => {
        broken = true;
      };
      c.on('error', onError);
      try {
        await c.query('BEGIN');
        const out = await fn(new PgFamilyClient(label, pgExec(c), noNestedTx, async () => {}));
        await c.query('COMMIT');
        return out;
      } catch (e) {
        await c.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw e;
      } finally {
        c.off('error', onError);
        // A broken connection is destroyed, not handed to the next caller.
        c.release(broken);
      }
    },
    () => pool.end(),
  );
}
