/**
 * Verify: exact row counts per table (source vs target, or before vs after an
 * in-place migration) and assertion queries that must return zero rows.
 * The counts' verdict (the tolerance) is compare/verdict.ts's.
 */
import type { Deps, SqlClient, SqlParams } from '../ports';
import { keyParam } from './backfill-load';
import { keyBoundsSql } from './sql-builders';
import { errorMessage } from './errors';
import type { RunSpec } from './spec';
import { dbRef } from './spec';
import { countRows, integerPrimaryKey } from './row-count';
import { runIntegrity } from './integrity';
import type { TableCount } from './compare/verdict';
import type { BackfillTally } from './backfill';


export interface AssertionResult {
  readonly name: string;
  readonly ok: boolean;
  readonly violations: number;
  /** Up to 20 violating rows, for the evidence. */
  readonly sample: Record<string, unknown>[];
  readonly error?: string;
  /** Run per key range (`ranges`): how many statements it took. */
  readonly ranges?: number;
}

export interface VerifyOutcome {
  readonly mode: RunSpec['verify']['rowCounts'];
  readonly tables: TableCount[];
  readonly assertions: AssertionResult[];
  /** What the backfill checkpoints say per task (Verify checks them all before it counts). */
  readonly backfill?: BackfillTally[];
}

const jsonable = (row: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v]));

/** A sample of violating rows travels in the Verify result (the 256 KiB state): each value cut at 200 characters, the sample at 8 KiB. */
export const SAMPLE_VALUE_CHARS = 200;
export const SAMPLE_BYTES = 8192;
export function boundedSample(rows: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  const cut = (v: unknown) => (typeof v === 'string' && v.length > SAMPLE_VALUE_CHARS ? `${v.slice(0, SAMPLE_VALUE_CHARS)}… (${v.length} characters)` : v);
  const out: Record<string, unknown>[] = [];
  let bytes = 2;
  for (const row of rows) {
    const r = Object.fromEntries(Object.entries(row).map(([k, v]) => [k, cut(v)]));
    bytes += Buffer.byteLength(JSON.stringify(r)) + 1;
    if (bytes > SAMPLE_BYTES) break;
    out.push(r);
  }
  return out;
}

export async function runVerify(spec: RunSpec, baseline: Record<string, string>, deps: Deps): Promise<VerifyOutcome> {
  const tables: TableCount[] = [];
  const count = async (side: 'source' | 'target', table: string) => {
    const client = deps.sql(dbRef(spec, side));
    // Reads, retried after a dropped connection (the key-range count as one whole: it runs in a transaction).
    return (await countRows(client, table, { clock: deps.clock })).n;
  };
  for (const table of spec.verify.tables) {
    try {
      if (spec.verify.rowCounts === 'before-vs-after') {
        tables.push({ table, expected: baseline[table] ?? null, actual: await count('target', table) });
      } else {
        const [expected, actual] = await Promise.all([count('source', table), count('target', table)]);
        tables.push({ table, expected, actual });
      }
    } catch (e) {
      tables.push({ table, expected: null, actual: null, error: errorMessage(e) });
    }
  }
  const assertions: AssertionResult[] = [];
  for (const a of spec.verify.assertions) {
    try {
      const client = deps.sql(dbRef(spec, a.database));
      if (!a.ranges) {
        const { violations, sample } = await violationsOf(client, a.sql);
        assertions.push({ name: a.name, ok: violations === 0, violations, sample });
        continue;
      }
      const r = await violationsByRange(client, a.sql, a.ranges);
      assertions.push({ name: a.name, ok: r.violations === 0, ...r });
    } catch (e) {
      const error =
        (e as { name?: string }).name === 'StatementTimeoutException'
          ? `${errorMessage(e)}: the assertion ran past the Data API's limit of a call (45 s); expected an assertion that ends within one call, or "ranges" (a table and key) with :lo and :hi so that it runs per key range`
          : errorMessage(e);
      assertions.push({ name: a.name, ok: false, violations: 0, sample: [], error });
    }
  }
  assertions.push(...(await runIntegrity(spec, deps)));
  return { mode: spec.verify.rowCounts, tables, assertions };
}

/**
 * An assertion's violations, in one statement: the count over all of them (a window, before the LIMIT) and a sample
 * of at most 20 rows whose values never leave the database whole (PostgreSQL: each row as JSON cut at 2,000
 * characters). Returning every violating row could hit the Data API's 64 KB per row and 1 MiB per response.
 */
async function violationsOf(client: SqlClient, sql: string, params: SqlParams = {}): Promise<{ violations: number; sample: Record<string, unknown>[] }> {
  const q = sql.trim().replace(/;\s*$/, '');
  const { rows } = await client.query(
    client.dialect === 'postgres'
      ? `SELECT count(*) OVER () AS cutline_violations, left(row_to_json(v)::text, 2000) AS cutline_row FROM (${q}) v LIMIT ${SAMPLE_ROWS}`
      : `SELECT v.*, COUNT(*) OVER () AS cutline_violations FROM (${q}) v LIMIT ${SAMPLE_ROWS}`,
    params,
  );
  const violations = Number(rows[0]?.cutline_violations ?? 0);
  const sample = rows.map(({ cutline_violations: _n, cutline_row, ...rest }) => (client.dialect === 'postgres' ? parsedOrCut(String(cutline_row)) : jsonable(rest)));
  return { violations, sample: boundedSample(sample) };
}

const SAMPLE_ROWS = 20;

/**
 * An assertion over a big table, one statement per range of `span` key values from the key's smallest to its largest
 * (read from its index): the violations added up, the first rows kept as the sample.
 */
async function violationsByRange(
  client: SqlClient,
  sql: string,
  ranges: NonNullable<RunSpec['verify']['assertions'][number]['ranges']>,
): Promise<{ violations: number; sample: Record<string, unknown>[]; ranges: number }> {
  const key = ranges.key ?? (await integerPrimaryKey(client, ranges.table));
  if (!key) throw new Error(`ranges.table ${ranges.table} has no integer primary key; expected ranges.key naming an integer column`);
  const bounds = (await client.query(keyBoundsSql(client.dialect, ranges.table, key))).rows[0];
  let violations = 0;
  let statements = 0;
  const sample: Record<string, unknown>[] = [];
  if (bounds?.lo === null || bounds?.lo === undefined) return { violations, sample, ranges: statements };
  const hi = BigInt(String(bounds.hi));
  const span = BigInt(ranges.span);
  for (let lo = BigInt(String(bounds.lo)); lo <= hi; lo += span) {
    const end = lo + span - 1n < hi ? lo + span - 1n : hi;
    const r = await violationsOf(client, sql, { lo: keyParam(lo.toString()), hi: keyParam(end.toString()) });
    statements++;
    violations += r.violations;
    sample.push(...r.sample.slice(0, SAMPLE_ROWS - sample.length));
  }
  return { violations, sample: boundedSample(sample), ranges: statements };
}

function parsedOrCut(json: string): Record<string, unknown> {
  try {
    return JSON.parse(json) as Record<string, unknown>;
  } catch {
    return { row: `${json}…` };
  }
}

