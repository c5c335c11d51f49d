/**
 * A loopback Data-API-compatible endpoint over PGlite, node-postgres or mysql2, so the
 * production adapter is tested through the real RDSDataClient. It behaves as
 * the service does where it matters: one statement per call
 * ("Multistatements aren't supported"), stringValue bound as varchar (a uuid
 * column needs typeHint UUID), BIGINT sent as a JSON number, responses over
 * 1 MiB refused, transactions by transactionId.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { PGlite, Transaction } from '@electric-sql/pglite';
import type { Pool as MysqlPool, PoolConnection as MysqlPoolConnection } from 'mysql2/promise';
import pg from 'pg';
import { PG_TEXT_OIDS } from './sql-common';
import { MultiStatementError, assertSingleStatement, rewriteParams } from '../../core/sql-lexer';

export const RESPONSE_LIMIT = 1024 * 1024;

interface Field {
  isNull?: boolean;
  stringValue?: string;
  longValue?: number;
  doubleValue?: number;
  booleanValue?: boolean;
  blobValue?: string;
}
interface Param {
  name: string;
  value: Field;
  typeHint?: string;
}
/** How the service encodes a column's values (Field member), its type's name and number in columnMetadata. */
interface Column {
  readonly name: string;
  readonly kind: 'long' | 'double' | 'boolean' | 'blob' | 'string';
  readonly typeName: string;
  readonly type: number;
}
type Exec = (text: string, values: unknown[]) => Promise<{ rows: unknown[][]; fields: Column[]; affected: number; command?: string }>;

/** One connection for one call (or one transaction): statements on it, a way to stop the one running, and its end. */
interface Session {
  exec: Exec;
  /** Stop the running statement (a call that timed out without continueAfterTimeout). */
  cancel(): Promise<void>;
}
interface Backend {
  /** The engine's SQL dialect (parameters, one statement per call). */
  readonly dialect: 'postgres' | 'mysql';
  /** A connection of the pool for one call; `end` resets every session setting, so nothing carries to the next call. */
  session(): Promise<Session & { end(): Promise<void> }>;
  begin(): Promise<Session & { commit(): Promise<void>; rollback(): Promise<void> }>;
}

const TYPE_NAMES: Record<number, string> = { 16: 'bool', 17: 'bytea', 20: 'int8', 21: 'int2', 23: 'int4', 25: 'text', 700: 'float4', 701: 'float8', 1043: 'varchar', 1082: 'date', 1083: 'time', 1114: 'timestamp', 1184: 'timestamptz', 1700: 'numeric', 2950: 'uuid', 114: 'json', 3802: 'jsonb' };
const HINT_CAST: Record<string, string> = { UUID: 'uuid', TIMESTAMP: 'timestamp', DATE: 'date', TIME: 'time', DECIMAL: 'numeric', JSON: 'json' };

class BadRequest extends Error {}

/** A PostgreSQL column as the service describes it. */
function pgColumn(f: { name: string; dataTypeID: number }): Column {
  const oid = f.dataTypeID;
  const kind = oid === 20 || oid === 21 || oid === 23 ? 'long' : oid === 700 || oid === 701 ? 'double' : oid === 16 ? 'boolean' : oid === 17 ? 'blob' : 'string';
  return { name: f.name, kind, typeName: TYPE_NAMES[oid] ?? String(oid), type: oid };
}

/** MySQL protocol column types (mysql2's columnType) as the service names and encodes them. */
const MYSQL_TYPES: Record<number, [Column['kind'], string]> = {
  1: ['long', 'TINYINT'], 2: ['long', 'SMALLINT'], 3: ['long', 'INT'], 8: ['long', 'BIGINT'], 9: ['long', 'MEDIUMINT'], 13: ['long', 'YEAR'],
  4: ['double', 'FLOAT'], 5: ['double', 'DOUBLE'], 0: ['string', 'DECIMAL'], 246: ['string', 'DECIMAL'],
  7: ['string', 'TIMESTAMP'], 12: ['string', 'DATETIME'], 10: ['string', 'DATE'], 11: ['string', 'TIME'], 245: ['string', 'JSON'], 16: ['boolean', 'BIT'],
  249: ['string', 'TEXT'], 250: ['string', 'TEXT'], 251: ['string', 'TEXT'], 252: ['string', 'TEXT'], 253: ['string', 'VARCHAR'], 254: ['string', 'CHAR'],
};
const BINARY_CHARSET = 63;
const UNSIGNED_FLAG = 32;

function mysqlColumn(f: { name: string; columnType?: number; type?: number; characterSet?: number; flags?: number | string[] }): Column {
  const code = f.columnType ?? f.type ?? 253;
  let [kind, typeName] = MYSQL_TYPES[code] ?? (['string', String(code)] as [Column['kind'], string]);
  // Binary strings and BLOBs come as blobValue; text ones as stringValue.
  if (f.characterSet === BINARY_CHARSET && code >= 249 && code <= 254) [kind, typeName] = ['blob', code === 253 ? 'VARBINARY' : code === 254 ? 'BINARY' : 'BLOB'];
  const unsigned = typeof f.flags === 'number' && (f.flags & UNSIGNED_FLAG) !== 0;
  return { name: f.name, kind, typeName: kind === 'long' && unsigned ? `${typeName} UNSIGNED` : typeName, type: code };
}

/** MySQL: `?` placeholders and the values as mysql2 escapes them (no casts: MySQL converts on assignment). */
function bindMysqlParams(sql: string, params: Param[]): { text: string; values: unknown[] } {
  const byName = new Map(params.map((p) => [p.name, p]));
  const values: unknown[] = [];
  const { sql: text } = rewriteParams(sql, 'mysql', (name) => {
    const p = byName.get(name);
    if (!p) throw new BadRequest(`No value specified for parameter: ${name}`);
    const v = p.value;
    if (v.isNull) values.push(null);
    else if (v.stringValue !== undefined) values.push(v.stringValue);
    else if (v.longValue !== undefined) values.push(BigInt(v.longValue));
    else if (v.doubleValue !== undefined) values.push(v.doubleValue);
    else if (v.booleanValue !== undefined) values.push(v.booleanValue);
    else if (v.blobValue !== undefined) values.push(Buffer.from(v.blobValue, 'base64'));
    else throw new BadRequest(`parameter ${name} has no value`);
    return '?';
  });
  return { text, values };
}

function bind(sql: string, params: Param[]): { text: string; values: unknown[] } {
  const byName = new Map(params.map((p) => [p.name, p]));
  const values: unknown[] = [];
  const { sql: text } = rewriteParams(sql, 'postgres', (name, pos) => {
    const p = byName.get(name);
    if (!p) throw new BadRequest(`No value specified for parameter: ${name}`);
    const v = p.value;
    let cast = '';
    if (v.isNull) values.push(null);
    else if (v.stringValue !== undefined) {
      values.push(v.stringValue);
      cast = p.typeHint ? `::${HINT_CAST[p.typeHint]}` : '::varchar';
    } else if (v.longValue !== undefined) {
      values.push(String(v.longValue));
      cast = '::int8';
    } else if (v.doubleValue !== undefined) {
      values.push(v.doubleValue);
      cast = '::float8';
    } else if (v.booleanValue !== undefined) {
      values.push(v.booleanValue);
      cast = '::boolean';
    } else if (v.blobValue !== undefined) {
      values.push(Buffer.from(v.blobValue, 'base64'));
      cast = '::bytea';
    } else throw new BadRequest(`parameter ${name} has no value`);
    return `$${pos}${cast}`;
  });
  return { text, values };
}

/** The response JSON; BIGINT digits are written raw, as the service does (the SDK then parses a JS number). */
/** Records as the service encodes them; with resultSetOptions.longReturnType STRING every integer comes as a string. */
function encode(rows: unknown[][], fields: Column[], longAsString = false): string {
  const recs = rows.map((row) => {
    const rec = `[${row
        .map((v, i) => {
          const kind = fields[i]!.kind;
          if (v === null || v === undefined) return '{"isNull":true}';
          if (kind === 'long') return longAsString ? `{"stringValue":"${String(v)}"}` : `{"longValue":${String(v)}}`;
          if (kind === 'double') return `{"doubleValue":${JSON.stringify(Number(v))}}`;
          if (kind === 'boolean') return `{"booleanValue":${v === true || v === 't' || v === 1 || (Buffer.isBuffer(v) && v[0] === 1)}}`;
          if (kind === 'blob') return `{"blobValue":${JSON.stringify(Buffer.from(v as Uint8Array).toString('base64'))}}`;
          return `{"stringValue":${JSON.stringify(typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : String(v))}}`;
        })
        .join(',')}]`;
    if (Buffer.byteLength(rec) > ROW_LIMIT) throw new BadRequest(`Database returned a row of ${Buffer.byteLength(rec)} bytes; the Data API allows ${ROW_LIMIT} per row`);
    return rec;
  });
  const meta = fields.map((f) => ({ name: f.name, label: f.name, typeName: f.typeName, type: f.type }));
  return `{"columnMetadata":${JSON.stringify(meta)},"numberOfRecordsUpdated":0,"records":[${recs.join(',')}]}`;
}

const RAW = Object.fromEntries(PG_TEXT_OIDS.map((o) => [o, (v: string) => v]));

export function pgliteBackend(db: PGlite): Backend {
  const exec =
    (q: PGlite | Transaction): Exec =>
    async (text, values) => {
      const r = await q.query<unknown[]>(text, values, { rowMode: 'array', parsers: RAW });
      return { rows: r.rows, fields: r.fields.map(pgColumn), affected: r.affectedRows ?? 0 };
    };
  // PGlite is one connection and runs one statement at a time: a running statement cannot be stopped.
  const cancel = async () => undefined;
  return {
    dialect: 'postgres',
    async session() {
      return {
        exec: exec(db),
        cancel,
        // The next call starts from the defaults (the embedded database runs in UTC, as Aurora does).
        end: async () => {
          await db.exec("RESET ALL; SET TIME ZONE 'UTC'");
        },
      };
    },
    async begin() {
      // Hold a transaction open across HTTP calls.
      let release!: () => void;
      let fail!: (e: Error) => void;
      let txReady!: (tx: Transaction) => void;
      const ready = new Promise<Transaction>((r) => {
        txReady = r;
      });
      const done = db
        .transaction(async (tx) => {
          txReady(tx);
          await new Promise<void>((res, rej) => {
            release = res;
            fail = rej;
          });
        })
        .catch(() => undefined);
      const tx = await ready;
      return {
        exec: exec(tx),
        cancel,
        commit: async () => {
          release();
          await done;
        },
        rollback: async () => {
          fail(new Error('rollback'));
          await done;
        },
      };
    },
  };
}

const RAW_TYPES = { getTypeParser: (oid: number, fmt?: string) => ((PG_TEXT_OIDS as readonly number[]).includes(oid) ? (v: string) => v : pg.types.getTypeParser(oid, fmt as 'text')) };

/** Over a pg pool: every call on whichever connection the pool hands out, as the Data API's connection pool does. */
export function pgBackend(pool: pg.Pool): Backend {
  const listening = new WeakSet<pg.PoolClient>();
  const exec =
    (c: pg.PoolClient): Exec =>
    async (text, values) => {
      const r = await c.query({ text, values, rowMode: 'array', types: RAW_TYPES });
      return { rows: r.rows as unknown[][], fields: r.fields.map(pgColumn), affected: r.rowCount ?? 0, command: r.command };
    };
  const connect = async () => {
    const c = await pool.connect();
    // A backend terminated under a call (pg_terminate_backend, a restart) fails that call, as the service's does; it
    // must not take the process down with an unhandled 'error' event.
    if (!listening.has(c)) {
      listening.add(c);
      c.on('error', () => undefined);
    }
    const pid = (c as unknown as { processID: number }).processID;
    return {
      c,
      cancel: async () => void (await pool.query('SELECT pg_cancel_backend($1)', [pid])),
      // DISCARD ALL: no SET, temporary table or prepared statement of this call reaches the next one.
      release: () => c.query('DISCARD ALL').then(() => c.release(), (e: Error) => c.release(e)),
    };
  };
  return pooled('postgres', connect, exec, 'BEGIN');
}

/** A connection of a pool: a way to stop the statement it runs, and to give it back with nothing of its session left. */
interface Pooled<C> {
  readonly c: C;
  cancel(): Promise<void>;
  release(): Promise<void>;
}

/** A backend over a pool: a call (or a transaction, opened with `begin`) on a connection the pool hands out. */
function pooled<C extends { query(sql: string): Promise<unknown> }>(dialect: Backend['dialect'], connect: () => Promise<Pooled<C>>, exec: (c: C) => Exec, begin: string): Backend {
  return {
    dialect,
    async session() {
      const { c, cancel, release } = await connect();
      return { exec: exec(c), cancel, end: release };
    },
    async begin() {
      const { c, cancel, release } = await connect();
      await c.query(begin);
      const end = async (sql: string) => {
        await c.query(sql).finally(release);
      };
      return { exec: exec(c), cancel, commit: () => end('COMMIT'), rollback: () => end('ROLLBACK') };
    },
  };
}

/**
 * Over a mysql2 pool (Aurora MySQL's Data API): every call on whichever connection is free; the connection is reset
 * (COM_RESET_CONNECTION: session variables, user variables, temporary tables) before it serves another call.
 */
export function mysqlBackend(pool: MysqlPool): Backend {
  const exec =
    (c: MysqlPoolConnection): Exec =>
    async (text, values) => {
      const [res, fields] = await c.query({ sql: text, values, rowsAsArray: true });
      if (!Array.isArray(res)) return { rows: [], fields: [], affected: (res as { affectedRows?: number }).affectedRows ?? 0 };
      return { rows: res as unknown[][], fields: (fields ?? []).map(mysqlColumn), affected: 0 };
    };
  const connect = async (): Promise<Pooled<MysqlPoolConnection>> => {
    const c = await pool.getConnection();
    const id = c.threadId;
    return {
      c,
      cancel: async () => void (await pool.query(`KILL QUERY ${Number(id)}`)),
      release: () => c.reset().then(() => c.query("SET time_zone = '+00:00'")).then(
        () => c.release(),
        () => c.destroy(),
      ),
    };
  };
  return pooled('mysql', connect, exec, 'START TRANSACTION');
}

/** The Data API's limits (each option may only be lower, for tests: never more lenient than the service). */
export const STATEMENT_TIMEOUT_MS = 45_000;
export const TRANSACTION_IDLE_MS = 180_000;
export const ROW_LIMIT = 64 * 1024;

export interface DataApiServerOptions {
  /** A call returns StatementTimeoutException after this long; without continueAfterTimeout the statement is stopped. */
  readonly statementTimeoutMs?: number;
  /** A transaction without a call for this long is rolled back; its id is then unknown. */
  readonly transactionIdleMs?: number;
  /**
   * An auto-paused Aurora Serverless v2 cluster: the first call wakes it, and every call answers
   * DatabaseResumingException until it has resumed, this long after that first call.
   */
  readonly pausedResumeMs?: number;
}

export async function startDataApiServer(
  backend: Backend,
  opts: DataApiServerOptions = {},
): Promise<{ endpoint: string; calls: { op: string; sql?: string }[]; close(): Promise<void> }> {
  const statementMs = Math.min(STATEMENT_TIMEOUT_MS, opts.statementTimeoutMs ?? STATEMENT_TIMEOUT_MS);
  const idleMs = Math.min(TRANSACTION_IDLE_MS, opts.transactionIdleMs ?? TRANSACTION_IDLE_MS);
  const txs = new Map<string, Awaited<ReturnType<Backend['begin']>> & { idle?: NodeJS.Timeout }>();
  /** A call on a transaction restarts its idle clock; past it the transaction is rolled back and forgotten. */
  const touch = (id: string) => {
    const tx = txs.get(id);
    if (!tx) return;
    clearTimeout(tx.idle);
    tx.idle = setTimeout(() => {
      txs.delete(id);
      void tx.rollback().catch(() => undefined);
    }, idleMs);
    tx.idle.unref?.();
  };
  const calls: { op: string; sql?: string }[] = [];
  let resumedAt: number | undefined = opts.pausedResumeMs === undefined ? 0 : undefined;
  const server = http.createServer(async (req, res) => {
    const body = await new Promise<string>((r) => {
      let b = '';
      req.on('data', (d) => {
        b += d;
      });
      req.on('end', () => r(b));
    });
    const send = (status: number, json: string, errorType?: string) =>
      res.writeHead(status, { 'content-type': 'application/json', ...(errorType ? { 'x-amzn-errortype': errorType } : {}) }).end(json);
    const bad = (message: string) => send(400, JSON.stringify({ message }), 'BadRequestException');
    try {
      const input = JSON.parse(body || '{}') as { sql?: string; parameters?: Param[]; transactionId?: string; continueAfterTimeout?: boolean; resultSetOptions?: { longReturnType?: string } };
      const op = (req.url ?? '/').replace(/^\//, '');
      calls.push({ op, sql: input.sql });
      resumedAt ??= Date.now() + (opts.pausedResumeMs ?? 0);
      if (Date.now() < resumedAt)
        return send(400, JSON.stringify({ message: 'The Aurora DB instance db-cutline-local is resuming after being auto-paused. Please wait a few seconds and try again.' }), 'DatabaseResumingException');
      if (op === 'BeginTransaction') {
        const id = randomUUID();
        txs.set(id, await backend.begin());
        touch(id);
        return send(200, JSON.stringify({ transactionId: id }));
      }
      if (op === 'CommitTransaction' || op === 'RollbackTransaction') {
        const tx = txs.get(input.transactionId ?? '');
        if (!tx) return send(404, JSON.stringify({ message: 'Transaction not found' }), 'NotFoundException');
        clearTimeout(tx.idle);
        txs.delete(input.transactionId!);
        await (op === 'CommitTransaction' ? tx.commit() : tx.rollback());
        return send(200, JSON.stringify({ transactionStatus: op === 'CommitTransaction' ? 'Transaction Committed' : 'Rollback Complete' }));
      }
      if (op !== 'Execute') return bad(`unsupported operation ${op}`);
      const sql = input.sql ?? '';
      try {
        assertSingleStatement(sql, backend.dialect);
      } catch (e) {
        if (e instanceof MultiStatementError) return bad("Multistatements aren't supported.");
        throw e;
      }
      const { text, values } = backend.dialect === 'mysql' ? bindMysqlParams(sql, input.parameters ?? []) : bind(sql, input.parameters ?? []);
      const tx = input.transactionId ? txs.get(input.transactionId) : undefined;
      if (input.transactionId && !tx) return send(404, JSON.stringify({ message: 'Transaction not found' }), 'NotFoundException');
      if (tx) touch(input.transactionId!);
      const session = tx ?? (await backend.session());
      const end = async () => {
        if (!tx) await (session as Awaited<ReturnType<Backend['session']>>).end();
      };
      const work = session.exec(text, values);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((r) => {
        timer = setTimeout(() => r('timeout'), statementMs);
      });
      const r = await Promise.race([work, timedOut])
        .catch(async (e: unknown) => {
          // A failed statement gives its connection back too (the pool would run dry, and the next call hang).
          await end();
          throw e;
        })
        .finally(() => clearTimeout(timer));
      if (r === 'timeout') {
        // The call ends; the statement runs on only with continueAfterTimeout (DDL should), else it is stopped.
        if (!input.continueAfterTimeout) await session.cancel();
        void work.then(end, end).catch(() => undefined);
        return send(400, JSON.stringify({ message: `The statement ran past ${statementMs / 1000} seconds (the Data API's limit per call)${input.continueAfterTimeout ? '; it continues (continueAfterTimeout)' : ' and was stopped'}` }), 'StatementTimeoutException');
      }
      await end();
      if (r.fields.length === 0) return send(200, JSON.stringify({ numberOfRecordsUpdated: r.affected, generatedFields: [] }));
      const json = encode(r.rows, r.fields, input.resultSetOptions?.longReturnType === 'STRING');
      if (Buffer.byteLength(json) > RESPONSE_LIMIT) return bad('Database returned more than the allowed response size limit');
      return send(200, json);
    } catch (e) {
      if (e instanceof BadRequest) return bad(e.message);
      return bad(`ERROR: ${(e as Error).message}`);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    close: async () => {
      for (const [id, tx] of txs) {
        clearTimeout(tx.idle);
        txs.delete(id);
        await tx.rollback().catch(() => undefined);
      }
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
