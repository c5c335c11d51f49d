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

import { MultiStatementError, assertSingleStatement } from '../../core/sql-lexer';


export const RESPONSE_LIMIT = 1024 * 1024;

import { type Backend, BadRequest, bind, bindMysqlParams, encode, type Exec, mysqlColumn, type Param, pgColumn } from './data-api-wire';


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
    // pg's client knows its backend's pid (not in its types).
    const pid = 'processID' in c ? Number(c.processID) : undefined;
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
