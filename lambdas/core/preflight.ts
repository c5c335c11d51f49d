/**
 * Preflight: databases reachable and of the expected engine/version, launch-gate
 * parameters present and well-formed, jumpbox online. Every failing check is
 * listed; any failure blocks the run (ENVIRONMENT_BLOCKED).
 */
import type { Deps } from '../ports';
import { errorMessage } from './errors';
import { isDataApiTransient, isTransient } from './retry';
import { KEY_TYPES_EXPECTED, keyKindOf } from './backfill';
import { parseCsv, parseJsonl } from './backfill-load';
import { countedBy, countRows } from './row-count';
import { columnTypeSql, splitQualified } from './sql-builders';
import { type DbSide, dbRef, type Engine, type ParameterRule, type RunSpec } from './spec';

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  /** What was found and what was expected; never a secret value. */
  readonly detail: string;
}

/** "PostgreSQL 16.4 on x86_64..." / "10.11.19-MariaDB-0+deb12u1" / "8.0.36" -> engine family and version. */
export function parseServerVersion(raw: string): { family: 'postgres' | 'mariadb' | 'mysql'; version: string } | undefined {
  const pg = /PostgreSQL (\d+(?:\.\d+)*)/.exec(raw);
  if (pg) return { family: 'postgres', version: pg[1]! };
  const maria = /^(\d+\.\d+\.\d+)[^ ]*MariaDB/i.exec(raw);
  if (maria) return { family: 'mariadb', version: maria[1]! };
  const my = /^(\d+\.\d+\.\d+)/.exec(raw);
  if (my) return { family: 'mysql', version: my[1]! };
  return undefined;
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

function describeRule(r: ParameterRule): string {
  const parts: string[] = [];
  if (r.equals !== undefined) parts.push(r.secret ? 'equal to the expected value' : `= ${JSON.stringify(r.equals)}`);
  if (r.oneOf) parts.push(r.secret ? `one of ${r.oneOf.length} allowed values` : `one of ${r.oneOf.map((v) => JSON.stringify(v)).join(', ')}`);
  if (r.regex !== undefined) parts.push(`matching /${r.regex}/`);
  if (r.minLength !== undefined) parts.push(`at least ${r.minLength} chars`);
  if (r.maxLength !== undefined) parts.push(`at most ${r.maxLength} chars`);
  return parts.length ? parts.join(', ') : 'present';
}

/** Problems with one value against a rule; empty = passes. Messages never echo secret values. */
function valueProblems(value: string, r: ParameterRule): string[] {
  const got = (what: string) => (r.secret ? what : `${what} ${JSON.stringify(value)}`);
  const p: string[] = [];
  if (r.equals !== undefined && value !== r.equals) p.push(`${got('got a different value')}; expected ${describeRule({ ...r, oneOf: undefined, regex: undefined, minLength: undefined, maxLength: undefined })}`);
  if (r.oneOf && !r.oneOf.includes(value)) p.push(`${got('got a value')} outside the allowed set`);
  if (r.regex !== undefined && !new RegExp(r.regex).test(value)) p.push(`${got('got a value')} not matching /${r.regex}/`);
  if (r.minLength !== undefined && value.length < r.minLength) p.push(`got ${value.length} chars; expected at least ${r.minLength}`);
  if (r.maxLength !== undefined && value.length > r.maxLength) p.push(`got ${value.length} chars; expected at most ${r.maxLength}`);
  return p;
}

/** Pure: evaluate launch-gate rules against the values found. */
export function checkParameters(rules: readonly ParameterRule[], values: ReadonlyMap<string, string>): Check[] {
  return rules.map((r) => {
    const names = r.name ? [r.name] : r.anyOf!;
    const label = r.name ?? `one of ${names.join(' | ')}`;
    const present = names.filter((n) => values.has(n));
    if (present.length === 0)
      return { name: `parameter ${label}`, ok: false, detail: `missing; expected ${describeRule(r)}` };
    const results = present.map((n) => ({ n, problems: valueProblems(values.get(n)!, r) }));
    const passing = results.find((x) => x.problems.length === 0);
    if (passing) return { name: `parameter ${label}`, ok: true, detail: `${passing.n} ${describeRule(r)}` };
    return {
      name: `parameter ${label}`,
      ok: false,
      detail: results.map((x) => `${x.n}: ${x.problems.join('; ')}`).join(' / '),
    };
  });
}

export function engineMatches(expected: Engine, family: 'postgres' | 'mariadb' | 'mysql'): boolean {
  return expected === 'postgres' ? family === 'postgres' : family !== 'postgres';
}

async function checkDatabase(spec: RunSpec, side: DbSide, deps: Deps): Promise<{ check: Check; version?: string }> {
  const ref = dbRef(spec, side);
  const name = `${side} database reachable (${ref.engine})`;
  try {
    const client = deps.sql(ref);
    const sql = ref.engine === 'postgres' ? 'SELECT version() AS v' : 'SELECT VERSION() AS v';
    const { rows } = await client.query(sql);
    const raw = String(rows[0]?.v ?? '');
    const parsed = parseServerVersion(raw);
    if (!parsed) return { check: { name, ok: false, detail: `got server version ${JSON.stringify(raw)}; expected a PostgreSQL or MySQL version string` } };
    if (!engineMatches(ref.engine, parsed.family))
      return { check: { name, ok: false, detail: `got a ${parsed.family} ${parsed.version} server at ${client.label}; expected engine "${ref.engine}"` } };
    const min = spec.preflight.minVersion[ref.engine];
    if (min && parsed.family !== 'mariadb' && compareVersions(parsed.version, min) < 0)
      return { check: { name, ok: false, detail: `got ${parsed.family} ${parsed.version}; expected >= ${min}` } };
    return { check: { name, ok: true, detail: `${parsed.family} ${parsed.version} at ${client.label}` }, version: raw };
  } catch (e) {
    // A paused or busy Aurora cluster is there: the state's Retry waits for it; only a database that is not is blocked.
    if (isDataApiTransient(e)) throw e;
    return { check: { name, ok: false, detail: `unreachable: ${errorMessage(e)}` } };
  }
}

/**
 * Each key-range backfill task's key column: there and of an integer type,
 * found before the migrations change anything. A table or column the
 * migrations are still to create is checked when the backfill is planned.
 */
async function checkBackfillKeys(spec: RunSpec, deps: Deps): Promise<Check[]> {
  const out: Check[] = [];
  for (const task of spec.backfill.tasks) {
    if (task.load) continue;
    const table = task.copyFrom?.table ?? task.table;
    const client = deps.sql(dbRef(spec, task.copyFrom ? task.copyFrom.database : task.database));
    const name = `backfill task ${task.name}: key ${table}.${task.key}`;
    try {
      const type = (await client.query(columnTypeSql(client.dialect), { ...splitQualified(table), column: task.key })).rows[0]?.type;
      if (type === undefined)
        out.push(
          spec.migrations
            ? { name, ok: true, detail: `not there yet on ${client.label}; checked again when the backfill is planned (after the migrations)` }
            : { name, ok: false, detail: `column not found on ${client.label}; expected a key column of ${table}` },
        );
      else if (!keyKindOf(String(type))) out.push({ name, ok: false, detail: `got type ${type}; expected ${KEY_TYPES_EXPECTED}` });
      else out.push({ name, ok: true, detail: `${type}` });
    } catch (e) {
      // The database answered the reachability check: a connection lost here is the state's to retry, not a finding.
      if (isTransient(e)) throw e;
      out.push({ name, ok: false, detail: errorMessage(e) });
    }
    if (task.sql) out.push(await explainBackfillSql(spec, task, deps));
  }
  return out;
}

const SYNTAX = /syntax error|You have an error in your SQL syntax/i;
const NOT_YET = /does not exist|Unknown column|doesn't exist|Unknown table/i;

/**
 * The backfill statement is planned by the server (EXPLAIN, which runs
 * nothing): a syntax error stops the run here, before the migrations change
 * anything. A table or column the migrations are still to create is checked
 * when the chunks run.
 */
async function explainBackfillSql(spec: RunSpec, task: RunSpec['backfill']['tasks'][number], deps: Deps): Promise<Check> {
  const name = `backfill task ${task.name}: SQL`;
  const client = deps.sql(dbRef(spec, task.database));
  try {
    await client.query(`EXPLAIN ${task.sql}`, { lo: 0, hi: 0 });
    return { name, ok: true, detail: `planned by ${client.label}` };
  } catch (e) {
    if (isTransient(e)) throw e;
    const msg = errorMessage(e);
    if (!SYNTAX.test(msg) && NOT_YET.test(msg) && spec.migrations) return { name, ok: true, detail: `not plannable before the migrations (${msg}); checked when the chunks run` };
    return { name, ok: false, detail: `${msg}; expected one statement the server can run with :lo and :hi` };
  }
}

/** Every load file readable, strict UTF-8 and well-formed before anything changes (a bad one names its file and line). */
async function checkLoadFiles(spec: RunSpec, deps: Deps): Promise<Check[]> {
  const out: Check[] = [];
  for (const task of spec.backfill.tasks) {
    if (!task.load) continue;
    for (const file of task.load.files) {
      const name = `backfill task ${task.name}: load file ${file}`;
      try {
        const text = await deps.scripts.read(file);
        const records = task.load.format === 'jsonl' ? parseJsonl(text) : parseCsv(text);
        const bad = records.findIndex((r) => Number.isNaN(Date.parse(String(r[task.load!.timeColumn] ?? ''))));
        if (bad >= 0) out.push({ name, ok: false, detail: `record ${bad + 1} has ${task.load.timeColumn} = ${JSON.stringify(records[bad]![task.load.timeColumn] ?? null)}; expected an ISO-8601 time` });
        else out.push({ name, ok: true, detail: `${records.length} ${task.load.format} records` });
      } catch (e) {
        out.push({ name, ok: false, detail: errorMessage(e) });
      }
    }
  }
  return out;
}

export interface PreflightOutcome {
  readonly ok: boolean;
  readonly checks: Check[];
  /** Row counts of verify.tables taken before any change (before-vs-after verification). */
  readonly baselineCounts: Record<string, string>;
}

/** A baseline fixed on the run's first attempt (every resume reuses it). */
export interface Baseline {
  readonly taken_utc: string;
  readonly counts: Record<string, string>;
}

export async function runPreflight(spec: RunSpec, deps: Deps, fixed?: Baseline): Promise<PreflightOutcome> {
  const checks: Check[] = [];
  checks.push((await checkDatabase(spec, 'source', deps)).check);
  if (spec.target) checks.push((await checkDatabase(spec, 'target', deps)).check);

  if (spec.preflight.parameters.length > 0) {
    const names = [...new Set(spec.preflight.parameters.flatMap((r) => (r.name ? [r.name] : r.anyOf!)))];
    try {
      // A SecureString is secret whatever the spec says: its value is never echoed.
      const [values, secure] = await Promise.all([deps.parameters.getMany(names), deps.parameters.secureNames(names)]);
      const rules = spec.preflight.parameters.map((r) => ({ ...r, secret: r.secret || (r.name ? [r.name] : r.anyOf!).some((n) => secure.has(n)) }));
      checks.push(...checkParameters(rules, values));
    } catch (e) {
      checks.push({ name: 'parameter store reachable', ok: false, detail: errorMessage(e) });
    }
  }

  if (spec.jumpbox) {
    try {
      const ping = await deps.commands.ping(spec.jumpbox.instanceId);
      checks.push({ name: `jumpbox ${spec.jumpbox.instanceId} online`, ok: ping.online, detail: ping.detail });
    } catch (e) {
      checks.push({ name: `jumpbox ${spec.jumpbox.instanceId} online`, ok: false, detail: errorMessage(e) });
    }
  }

  const baselineCounts: Record<string, string> = {};
  const dbOk = checks.filter((c) => c.name.includes('database reachable')).every((c) => c.ok);
  if (dbOk) checks.push(...(await checkBackfillKeys(spec, deps)));
  checks.push(...(await checkLoadFiles(spec, deps)));
  if (dbOk && spec.verify.rowCounts === 'before-vs-after' && fixed) {
    Object.assign(baselineCounts, fixed.counts);
    checks.push({ name: 'baseline row counts', ok: true, detail: `taken ${fixed.taken_utc} before the first attempt changed anything; reused` });
  } else if (dbOk && spec.verify.rowCounts === 'before-vs-after') {
    const client = deps.sql(dbRef(spec, 'target'));
    for (const table of spec.verify.tables) {
      try {
        const c = await countRows(client, table, { clock: deps.clock });
        baselineCounts[table] = c.n;
        checks.push({ name: `table ${table} readable`, ok: true, detail: `${c.n} rows before the run (${countedBy(c)})` });
      } catch (e) {
        if (isTransient(e)) throw e;
        checks.push({ name: `table ${table} readable`, ok: false, detail: errorMessage(e) });
      }
    }
  }
  return { ok: checks.every((c) => c.ok), checks, baselineCounts };
}
