/**
 * Dry run of a whole spec: what each stage would do, and nothing changed.
 * Schema: pending files with each statement, its lock and the lint findings
 * (history read if it exists, never created). Backfill: every chunk's
 * statement run in a transaction that is rolled back, to count the rows it
 * would touch. Gates: tables and catalog estimates. Cutover and rollback: the
 * actions, in order.
 */
import type { Deps, SqlClient } from '../lambdas/ports';
import { describeAction } from '../lambdas/core/actions';
import { planBackfill } from '../lambdas/core/backfill';
import { keyBound, readLoadFile } from '../lambdas/core/backfill-load';
import { errorMessage } from '../lambdas/core/errors';
import { expectedLock, type LintFinding, lintMigrations } from '../lambdas/core/lint';
import { expandFiles, type HistoryRow, loadMigrations, readHistory, validateAgainstHistory } from '../lambdas/core/migrations';
import { quoteIdent } from '../lambdas/core/sql-builders';
import type { RunSpec } from '../lambdas/core/spec';
import { dbRef } from '../lambdas/core/spec';

export interface DryRun {
  readonly schema?: {
    readonly pending: { script: string; statements: { line: number; sql: string; lock: string }[] }[];
    readonly applied: number;
    readonly problems: string[];
    readonly lint: LintFinding[];
  };
  readonly backfill: { task: string; index: number; lo: string; hi: string; file?: string; rows: number | null; upperBound?: boolean; note?: string; error?: string }[];
  readonly cutover: string[];
  readonly rollback: string[];
}

class Rollback extends Error {}

async function historyIfAny(client: SqlClient, table: string): Promise<HistoryRow[]> {
  try {
    return await readHistory(client, table);
  } catch {
    return [];
  }
}

export async function dryRun(spec: RunSpec, deps: Pick<Deps, 'sql' | 'scripts' | 'clock' | 'logger' | 'progress'>): Promise<DryRun> {
  let schema: DryRun['schema'];
  const m = spec.migrations;
  if (m) {
    const client = deps.sql(dbRef(spec, m.database));
    const contract = m.contractLocation ? await deps.scripts.list(m.contractLocation) : [];
    const contractNames = new Set(contract.map((f) => f.name));
    const migrations = loadMigrations([...(await expandFiles(m, deps.scripts)), ...contract], client.dialect);
    const checked = validateAgainstHistory(migrations, await historyIfAny(client, m.historyTable));
    schema = {
      pending: checked.pending.map((x) => ({ script: x.script, statements: x.statements.map((s) => ({ line: s.line, sql: s.sql, lock: expectedLock(s.sql, client.dialect) })) })),
      applied: migrations.length - checked.pending.length,
      problems: checked.problems.map((p) => p.detail),
      // Contract files run after the go/no-go: destructive statements are theirs to hold.
      lint: [
        ...lintMigrations(checked.pending.filter((x) => !contractNames.has(x.script)), client.dialect),
        ...lintMigrations(checked.pending.filter((x) => contractNames.has(x.script)), client.dialect, { contract: true }),
      ],
    };
  }
  const backfill: DryRun['backfill'] = [];
  if (spec.backfill.tasks.length) {
    let phases: Awaited<ReturnType<typeof planBackfill>>['phases'] = [];
    try {
      phases = (await planBackfill(spec, deps)).phases;
    } catch (e) {
      backfill.push({ task: '*', index: 0, lo: '', hi: '', rows: null, error: errorMessage(e) });
    }
    for (const chunk of phases.flat()) {
      const task = spec.backfill.tasks.find((t) => t.name === chunk.task)!;
      const at = { task: chunk.task, index: chunk.index, lo: chunk.lo, hi: chunk.hi, ...(chunk.file ? { file: chunk.file } : {}) };
      // The rows a key range holds on the database it is read from: what a copy reads, or an in-place statement's bound.
      const countRange = async (client: SqlClient, table: string) => {
        const range = { lo: keyBound(chunk.lo, chunk.key, client.dialect), hi: keyBound(chunk.hi, chunk.key, client.dialect) };
        const r = await client.query(`SELECT count(*) AS n FROM ${quoteIdent(table, client.dialect)} WHERE ${quoteIdent(task.key, client.dialect)} BETWEEN :lo AND :hi`, range);
        return Number(r.rows[0]!.n);
      };
      if (task.load) {
        try {
          const f = await readLoadFile(spec, task, chunk.file!, deps);
          backfill.push({ ...at, rows: f.inside.length, upperBound: true, note: `loads ${chunk.file}: ${f.read} row(s), ${f.read - f.inside.length} outside [${f.range.from}, ${f.range.to}] (existing keys are kept)` });
        } catch (e) {
          backfill.push({ ...at, rows: null, note: `loads ${chunk.file}`, error: errorMessage(e) });
        }
      } else if (task.copyFrom) {
        const note = `copies from ${task.copyFrom.table} (existing keys are kept)`;
        try {
          backfill.push({ ...at, rows: await countRange(deps.sql(dbRef(spec, task.copyFrom.database)), task.copyFrom.table), upperBound: true, note });
        } catch (e) {
          backfill.push({ ...at, rows: null, note, error: errorMessage(e) });
        }
      } else {
        const client = deps.sql(dbRef(spec, task.database));
        let rows: number | null = null;
        let note: string | undefined;
        let error: string | undefined;
        try {
          // The chunk's own statement, rolled back: the exact number of rows it would touch.
          await client.transaction(async (tx) => {
            rows = (await tx.query(task.sql!, { lo: keyBound(chunk.lo, chunk.key, client.dialect), hi: keyBound(chunk.hi, chunk.key, client.dialect) })).rowsAffected;
            throw new Rollback();
          });
        } catch (e) {
          if (!(e instanceof Rollback)) {
            // Usually the statement needs pending migrations (a dry run never changes the schema): count the key range instead.
            note = `upper bound (the statement cannot run yet: ${errorMessage(e)})`;
            rows = await countRange(client, task.table).catch((e2) => {
              error = errorMessage(e2);
              return null;
            });
          }
        }
        backfill.push({ ...at, rows, ...(note ? { upperBound: true, note } : {}), ...(error ? { error } : {}) });
      }
      deps.progress?.({ stage: 'dry run: backfill', done: backfill.length, total: phases.flat().length });
    }
  }
  return { ...(schema ? { schema } : {}), backfill, cutover: spec.cutover.actions.map(describeAction), rollback: spec.rollback.actions.map(describeAction) };
}

export function renderDryRun(d: DryRun): string[] {
  const lines: string[] = [];
  if (d.schema) {
    lines.push(`Schema: ${d.schema.applied} file(s) applied, ${d.schema.pending.length} pending`);
    for (const p of d.schema.problems) lines.push(`  PROBLEM ${p}`);
    for (const f of d.schema.pending) {
      lines.push(`  ${f.script}`);
      for (const s of f.statements) lines.push(`    line ${s.line} [${s.lock}] ${s.sql.replace(/\s+/g, ' ').slice(0, 160)}`);
    }
    for (const f of d.schema.lint) lines.push(`  lint ${f.code} ${f.blocking ? 'BLOCKS' : 'allowed'} ${f.script}:${f.line} ${f.title}; instead: ${f.safe}`);
  }
  if (d.backfill.length) {
    const total = d.backfill.reduce((n, c) => n + (c.rows ?? 0), 0);
    const unknown = d.backfill.filter((c) => c.rows === null).length;
    const bound = d.backfill.some((c) => c.upperBound) ? 'at most ' : '';
    lines.push(`Backfill: ${d.backfill.length} chunk(s) would touch ${bound}${total} row(s)${unknown ? ` (and ${unknown} chunk(s) that could not be counted)` : ''}`);
    for (const c of d.backfill)
      lines.push(`  ${c.task} #${c.index}${c.file ? '' : ` [${c.lo}, ${c.hi}]`}: ${c.rows === null ? 'not counted' : `${c.upperBound ? '<= ' : ''}${c.rows} row(s)`}${c.note ? `  (${c.note})` : ''}${c.error ? `  ERROR ${c.error}` : ''}`);
  }
  lines.push(`Cutover (after go): ${d.cutover.length ? '' : 'nothing'}`);
  lines.push(...d.cutover.map((a, i) => `  ${i + 1}. ${a}`));
  lines.push(`Rollback: ${d.rollback.length ? '' : 'nothing'}`);
  lines.push(...d.rollback.map((a, i) => `  ${i + 1}. ${a}`));
  lines.push('Nothing was changed.');
  return lines;
}
