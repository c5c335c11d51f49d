/**
 * SqlClient over the RDS Data API. One statement per call (refused locally
 * before sending, as the service would), typeHints for typed values, BIGINT
 * read exactly or refused (never rounded), one transactionId per transaction.
 */
import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  type Field,
  type RDSDataClient,
  RollbackTransactionCommand,
  type SqlParameter,
} from '@aws-sdk/client-rds-data';
import { assertSingleStatement, type Dialect, namedParams } from '../../core/sql-lexer';
import type { QueryOptions, SqlClient, SqlParam, SqlParams, SqlResult, SqlRow, SqlValue } from '../../ports';

const HINT = { uuid: 'UUID', timestamp: 'TIMESTAMP', date: 'DATE', time: 'TIME', decimal: 'DECIMAL', json: 'JSON' } as const;

export class LossyIntegerError extends Error {
  override readonly name = 'LossyIntegerError';
}

export function toField(v: SqlParam): { value: Field; typeHint?: SqlParameter['typeHint'] } {
  if (v === null) return { value: { isNull: true } };
  if (typeof v === 'string') return { value: { stringValue: v } };
  if (typeof v === 'boolean') return { value: { booleanValue: v } };
  if (typeof v === 'number') return Number.isInteger(v) ? { value: { longValue: v } } : { value: { doubleValue: v } };
  if (typeof v === 'bigint')
    return Number.isSafeInteger(Number(v)) ? { value: { longValue: Number(v) } } : { value: { stringValue: v.toString() }, typeHint: 'DECIMAL' };
  if (v instanceof Uint8Array) return { value: { blobValue: v } };
  return { value: { stringValue: v.value }, typeHint: HINT[v.type] };
}

const BIGINT_TYPES = /^(int8|bigint|bigserial|BIGINT( UNSIGNED)?|INT8)$/i;
/** Integers a JavaScript number holds exactly: read as numbers (BIGINT stays a string). */
const INT32_TYPES = /^(int2|int4|smallint|integer|serial|smallserial|INT( UNSIGNED)?|SMALLINT( UNSIGNED)?|TINYINT( UNSIGNED)?|MEDIUMINT( UNSIGNED)?|YEAR)$/i;

function fromField(f: Field, typeName: string | undefined, column: string): SqlValue {
  if (f.isNull) return null;
  if (f.longValue !== undefined) {
    if (!Number.isSafeInteger(f.longValue))
      throw new LossyIntegerError(
        `column ${column} (${typeName}) returned ${f.longValue}, beyond 2^53: the Data API sends BIGINT as a JSON number, so it is not exact; cast it to text in SQL`,
      );
    return typeName && BIGINT_TYPES.test(typeName) ? String(f.longValue) : f.longValue;
  }
  if (f.stringValue !== undefined) return typeName && INT32_TYPES.test(typeName) ? Number(f.stringValue) : f.stringValue;
  if (f.doubleValue !== undefined) return f.doubleValue;
  if (f.booleanValue !== undefined) return f.booleanValue;
  if (f.blobValue !== undefined) return f.blobValue;
  if (f.arrayValue !== undefined) return JSON.stringify(f.arrayValue);
  return null;
}

export interface DataApiTarget {
  readonly resourceArn: string;
  readonly secretArn: string;
  readonly database: string;
}

export class DataApiSql implements SqlClient {
  readonly label: string;
  constructor(
    private readonly client: RDSDataClient,
    private readonly target: DataApiTarget,
    readonly dialect: Dialect,
    private readonly transactionId?: string,
  ) {
    this.label = `data-api ${target.resourceArn.split(':').at(-1)}/${target.database}`;
  }

  async query(sql: string, params: SqlParams = {}, opts: QueryOptions = {}): Promise<SqlResult> {
    assertSingleStatement(sql, this.dialect);
    const names = [...new Set(namedParams(sql, this.dialect))];
    const parameters: SqlParameter[] = names.map((name) => {
      if (!(name in params)) throw new Error(`SQL uses :${name} but no value was given; got params ${JSON.stringify(Object.keys(params))}`);
      const f = toField(params[name]!);
      return { name, value: f.value, ...(f.typeHint ? { typeHint: f.typeHint } : {}) };
    });
    const out = await this.client.send(
      new ExecuteStatementCommand({
        ...this.target,
        sql,
        parameters,
        includeResultMetadata: true,
        // Integers come back as strings: a BIGINT beyond 2^53 is exact (a JSON number would not be).
        resultSetOptions: { longReturnType: 'STRING' },
        ...(this.transactionId ? { transactionId: this.transactionId } : {}),
        ...(opts.continueAfterTimeout ? { continueAfterTimeout: true } : {}),
      }),
    );
    const meta = out.columnMetadata ?? [];
    const rows = (out.records ?? []).map((rec) => {
      const o: SqlRow = {};
      rec.forEach((f, i) => {
        const name = meta[i]?.label ?? meta[i]?.name ?? `column${i}`;
        o[name] = fromField(f, meta[i]?.typeName, name);
      });
      return o;
    });
    return {
      rows,
      columns: meta.map((m) => ({ name: m.label ?? m.name ?? '', type: m.typeName ?? '' })),
      rowsAffected: out.records ? 0 : (out.numberOfRecordsUpdated ?? 0),
    };
  }

  async transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    if (this.transactionId) throw new Error('nested transactions are not supported: the Data API has one transaction per transactionId');
    const { transactionId } = await this.client.send(new BeginTransactionCommand({ ...this.target }));
    const tx = new DataApiSql(this.client, this.target, this.dialect, transactionId);
    try {
      const out = await fn(tx);
      await this.client.send(new CommitTransactionCommand({ resourceArn: this.target.resourceArn, secretArn: this.target.secretArn, transactionId }));
      return out;
    } catch (e) {
      await this.client
        .send(new RollbackTransactionCommand({ resourceArn: this.target.resourceArn, secretArn: this.target.secretArn, transactionId }))
        .catch(() => undefined);
      throw e;
    }
  }

  async close(): Promise<void> {}
}
