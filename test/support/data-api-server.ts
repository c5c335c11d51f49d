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
import { PG_TEXT_OIDS } from '../../lambdas/adapters/local/sql-common';
import { MultiStatementError, assertSingleStatement, rewriteParams } from '../../lambdas/core/sql-lexer';

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

interface Backend {
  exec: Exec;
  begin(): Promise<{ exec: Exec; commit(): Promise<void>; rollback(): Promise<void> }>;
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
function encode(rows: unknown[][], fields: { name: string; dataTypeID: number }[]): string {
  const recs = rows.map(
    (row) =>
      `[${row
        .map((v, i) => {
          const oid = fields[i]!.dataTypeID;
          if (v === null || v === undefined) return '{"isNull":true}';
          if (oid === 20 || oid === 21 || oid === 23) return `{"longValue":${String(v)}}`;
          if (oid === 700 || oid === 701) return `{"doubleValue":${JSON.stringify(Number(v))}}`;
          if (oid === 16) return `{"booleanValue":${v === true || v === 't'}}`;
          if (oid === 17) return `{"blobValue":${JSON.stringify(Buffer.from(v as Uint8Array).toString('base64'))}}`;
          return `{"stringValue":${JSON.stringify(typeof v === 'string' ? v : String(v))}}`;
        })
        .join(',')}]`,
  );
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
  return {
    exec: exec(db),
    async begin() {
      // PGlite is one connection: hold a transaction open across HTTP calls.
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

export function pgBackend(pool: pg.Pool): Backend {
  const exec =
    (c: pg.Pool | pg.PoolClient): Exec =>
    async (text, values) => {
      const r = await c.query({ text, values, rowMode: 'array', types: RAW_TYPES });
      return { rows: r.rows as unknown[][], fields: r.fields, affected: r.rowCount ?? 0, command: r.command };
    };
  return {
    exec: exec(pool),
    async begin() {
      const c = await pool.connect();
      await c.query('BEGIN');
      return {
        exec: exec(c),
        commit: async () => {
          await c.query('COMMIT');
          c.release();
        },
        rollback: async () => {
          await c.query('ROLLBACK');
          c.release();
        },
      };
    },
  };
}

export async function startDataApiServer(backend: Backend): Promise<{ endpoint: string; calls: { op: string; sql?: string }[]; close(): Promise<void> }> {
  const txs = new Map<string, Awaited<ReturnType<Backend['begin']>>>();
  const calls: { op: string; sql?: string }[] = [];
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
      const input = JSON.parse(body || '{}') as { sql?: string; parameters?: Param[]; transactionId?: string };
      const op = (req.url ?? '/').replace(/^\//, '');
      calls.push({ op, sql: input.sql });
      if (op === 'BeginTransaction') {
        const id = randomUUID();
        txs.set(id, await backend.begin());
        return send(200, JSON.stringify({ transactionId: id }));
      }
      if (op === 'CommitTransaction' || op === 'RollbackTransaction') {
        const tx = txs.get(input.transactionId ?? '');
        if (!tx) return send(404, JSON.stringify({ message: 'Transaction not found' }), 'NotFoundException');
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
      const r = await (tx ?? backend).exec(text, values);
      if (r.fields.length === 0) return send(200, JSON.stringify({ numberOfRecordsUpdated: r.affected, generatedFields: [] }));
      const json = encode(r.rows, r.fields);
      if (Buffer.byteLength(json) > RESPONSE_LIMIT) return bad('Database returned more than the allowed response size limit');
      return send(200, json);
    } catch (e) {
      if (e instanceof BadRequest) return bad(e.message);
      return bad(`ERROR: ${(e as Error).message}`);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { endpoint: `http://127.0.0.1:${port}`, calls, close: () => new Promise((r) => server.close(() => r())) };
}
