/**
 * A loopback Data-API-compatible endpoint over PGlite or node-postgres, so the
 * production adapter is tested through the real RDSDataClient. It behaves as
 * the service does where it matters: one statement per call
 * ("Multistatements aren't supported"), stringValue bound as varchar (a uuid
 * column needs typeHint UUID), BIGINT sent as a JSON number, responses over
 * 1 MiB refused, transactions by transactionId.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { PGlite, Transaction } from '@electric-sql/pglite';
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
type Exec = (text: string, values: unknown[]) => Promise<{ rows: unknown[][]; fields: { name: string; dataTypeID: number }[]; affected: number; command?: string }>;

/** One connection for one call (or one transaction): statements on it, a way to stop the one running, and its end. */
interface Session {
  exec: Exec;
  /** Stop the running statement (a call that timed out without continueAfterTimeout). */
  cancel(): Promise<void>;
}
interface Backend {
  /** A connection of the pool for one call; `end` resets every session setting, so nothing carries to the next call. */
  session(): Promise<Session & { end(): Promise<void> }>;
  begin(): Promise<Session & { commit(): Promise<void>; rollback(): Promise<void> }>;
}

const TYPE_NAMES: Record<number, string> = { 16: 'bool', 17: 'bytea', 20: 'int8', 21: 'int2', 23: 'int4', 25: 'text', 700: 'float4', 701: 'float8', 1043: 'varchar', 1082: 'date', 1083: 'time', 1114: 'timestamp', 1184: 'timestamptz', 1700: 'numeric', 2950: 'uuid', 114: 'json', 3802: 'jsonb' };
const HINT_CAST: Record<string, string> = { UUID: 'uuid', TIMESTAMP: 'timestamp', DATE: 'date', TIME: 'time', DECIMAL: 'numeric', JSON: 'json' };

class BadRequest extends Error {}

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
function encode(rows: unknown[][], fields: { name: string; dataTypeID: number }[], longAsString = false): string {
  const recs = rows.map((row) => {
    const rec = `[${row
        .map((v, i) => {
          const oid = fields[i]!.dataTypeID;
          if (v === null || v === undefined) return '{"isNull":true}';
          if (oid === 20 || oid === 21 || oid === 23) return longAsString ? `{"stringValue":"${String(v)}"}` : `{"longValue":${String(v)}}`;
          if (oid === 700 || oid === 701) return `{"doubleValue":${JSON.stringify(Number(v))}}`;
          if (oid === 16) return `{"booleanValue":${v === true || v === 't'}}`;
          if (oid === 17) return `{"blobValue":${JSON.stringify(Buffer.from(v as Uint8Array).toString('base64'))}}`;
          return `{"stringValue":${JSON.stringify(typeof v === 'string' ? v : String(v))}}`;
        })
        .join(',')}]`;
    if (Buffer.byteLength(rec) > ROW_LIMIT) throw new BadRequest(`Database returned a row of ${Buffer.byteLength(rec)} bytes; the Data API allows ${ROW_LIMIT} per row`);
    return rec;
  });
  const meta = fields.map((f) => ({ name: f.name, label: f.name, typeName: TYPE_NAMES[f.dataTypeID] ?? String(f.dataTypeID), type: f.dataTypeID }));
  return `{"columnMetadata":${JSON.stringify(meta)},"numberOfRecordsUpdated":0,"records":[${recs.join(',')}]}`;
}

const RAW = Object.fromEntries(PG_TEXT_OIDS.map((o) => [o, (v: string) => v]));

export function pgliteBackend(db: PGlite): Backend {
  const exec =
    (q: PGlite | Transaction): Exec =>
    async (text, values) => {
      const r = await q.query<unknown[]>(text, values, { rowMode: 'array', parsers: RAW });
      return { rows: r.rows, fields: r.fields, affected: r.affectedRows ?? 0 };
    };
  // PGlite is one connection and runs one statement at a time: a running statement cannot be stopped.
  const cancel = async () => undefined;
  return {
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
      return { rows: r.rows as unknown[][], fields: r.fields, affected: r.rowCount ?? 0, command: r.command };
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
  return {
    async session() {
      const { c, cancel, release } = await connect();
      return { exec: exec(c), cancel, end: release };
    },
    async begin() {
      const { c, cancel, release } = await connect();
      await c.query('BEGIN');
      const end = async (sql: string) => {
        await c.query(sql).finally(release);
      };
      return { exec: exec(c), cancel, commit: () => end('COMMIT'), rollback: () => end('ROLLBACK') };
    },
  };
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
        assertSingleStatement(sql, 'postgres');
      } catch (e) {
        if (e instanceof MultiStatementError) return bad("Multistatements aren't supported.");
        throw e;
      }
      const { text, values } = bind(sql, input.parameters ?? []);
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
