/** `plan` (a dry run of a spec, or the integer -> UUID recipe of a database), `lint` and `schema`. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { z } from 'zod';
import { localPlanDeps } from '../../lambdas/adapters/local/deps';
import { FsEvidenceStore } from '../../lambdas/adapters/local/evidence-fs';
import { DirScriptSource } from '../../lambdas/adapters/local/scripts-dir';
import { sealedOutcome } from '../../lambdas/core/attempts';
import { canonicalJson } from '../../lambdas/core/evidence';
import { formatFinding, lintMigrations } from '../../lambdas/core/lint';
import { loadMigrations } from '../../lambdas/core/migrations';
import { engineOfUrl, parseSpec, platformProblems, RunSpec } from '../../lambdas/core/spec';
import { type DryRun, dryRun, renderDryRun } from '../dry-run';
import { EXIT, type Io, localUrl, placeholderEnv, type SetExit, UsageError, wholeNumber } from '../io';
import { applyUrlOverrides, openLocalDatabases } from '../runner/databases';
import { readSpecFile, SpecFileError } from '../spec-file';
import { planUuid, readUuidGraph } from '../uuid-plan';

export function planCommands(program: Command, io: Io, setExit: SetExit): void {
  program
    .command('plan')
    .description('`plan <spec>`: dry run of a whole spec (SQL, locks, lint, rows each backfill chunk would touch; changes nothing). `plan uuid`: write the integer -> UUID key recipe for a database')
    .argument('<spec|uuid>', 'run spec JSON file, or "uuid"')
    .option('--source-url <url>', 'source database', localUrl)
    .option('--target-url <url>', 'target database', localUrl)
    .option('--seed', 'apply spec.local.seed also to a non-embedded database first')
    .option('--out <dir>', 'plan uuid: folder for migrations/, contract/, rollback/ and spec.fragment.json')
    .option('--tables <list>', 'plan uuid: only these parent tables (comma-separated)')
    .option('--batch-size <n>', 'plan uuid: rows per backfill chunk', wholeNumber(1, 10_000_000, 'rows per chunk'), 5000)
    .option('--start-version <n>', 'plan uuid: the first migration version (a later phase goes on after the files an earlier one applied)', wholeNumber(1, 1_000_000, 'a migration version'), 1)
    .option(
      '--mapping <kind>',
      'plan uuid: "per-table" (a mapping table per parent) or "shared" (one cutline_uuid_map (table_name, old_id) for every single-key table)',
      (v: string) => {
        if (v !== 'per-table' && v !== 'shared') throw new InvalidArgumentError(`got ${JSON.stringify(v)}; expected "per-table" or "shared"`);
        return v;
      },
      'per-table',
    )
    .option('--evidence-dir <dir>', "plan <spec>: also keep the dry run in the run's evidence (<dir>/<runId>/00_dry_run/<UTC>.json), so the run's manifest lists it")
    .option('--json', 'machine-readable output')
    .action(async (file: string, o: { sourceUrl?: string; targetUrl?: string; seed?: boolean; json?: boolean; out?: string; tables?: string; batchSize: number; startVersion: number; mapping: 'per-table' | 'shared'; evidenceDir?: string }) => {
      if (file === 'uuid') return setExit(await planUuidCommand(io, o));
      const raw = applyUrlOverrides(await readSpecFile(file, placeholderEnv(io.env)), o.sourceUrl, o.targetUrl);
      const r = parseSpec(raw);
      const problems = r.ok ? platformProblems(r.spec, 'local') : r.problems;
      if (!r.ok || problems.length) {
        for (const p of problems) io.err(`  ${p.path}: ${p.message}`);
        return setExit(EXIT.BAD_INPUT);
      }
      const { factory } = await openLocalDatabases(raw, { seed: o.seed }, o.json ? () => {} : io.out);
      try {
        const d = await dryRun(r.spec, localPlanDeps((ref) => factory.get(ref)));
        if (o.json) io.out(JSON.stringify(d, null, 2));
        else for (const l of renderDryRun(d)) io.out(l);
        const blocked = (d.schema?.lint.some((f) => f.blocking) ?? false) || (d.schema?.problems.length ?? 0) > 0 || d.backfill.some((c) => c.error);
        if (o.evidenceDir) {
          const kept = await keepDryRun(new FsEvidenceStore(path.resolve(o.evidenceDir)), r.spec, d, blocked);
          if (!o.json) io.out(`kept in the run's evidence: ${path.join(o.evidenceDir, kept)}`);
        }
        setExit(blocked ? EXIT.NO_GO : EXIT.OK);
      } finally {
        await factory.closeAll();
      }
    });

  program
    .command('lint')
    .description('lint a migrations folder: lock-heavy and destructive statements, each with the safe alternative')
    .argument('<dir>', 'folder of V<n>__<name>.sql files')
    .option('--dialect <dialect>', 'postgres | mysql', 'postgres')
    .option('--contract', 'the folder holds contract files (destructive statements allowed: they run after the go/no-go)')
    .option('--json', 'machine-readable output')
    .action(async (dir: string, o: { dialect: string; contract?: boolean; json?: boolean }) => {
      if (o.dialect !== 'postgres' && o.dialect !== 'mysql') throw new UsageError(`--dialect got ${JSON.stringify(o.dialect)}; expected postgres or mysql`);
      let files: { name: string; body: string }[];
      try {
        files = await new DirScriptSource().list(dir);
      } catch (e) {
        throw new SpecFileError((e as Error).message);
      }
      const migrations = loadMigrations(files, o.dialect);
      const findings = lintMigrations(migrations, o.dialect, { contract: o.contract });
      const blocking = findings.filter((f) => f.blocking);
      if (o.json) io.out(JSON.stringify({ files: migrations.length, findings }, null, 2));
      else {
        for (const f of findings) (f.blocking ? io.err : io.out)(formatFinding(f));
        io.out(`${migrations.length} file(s), ${findings.length} finding(s), ${blocking.length} blocking`);
      }
      setExit(blocking.length ? EXIT.BAD_INPUT : EXIT.OK);
    });

  program
    .command('schema')
    .description('write the JSON Schema of run spec v1 (for editors)')
    .option('-o, --out <file>', 'write to a file instead of stdout')
    .option('--json', 'accepted for symmetry: the schema is JSON')
    .action(async (o: { out?: string }) => {
      const text = `${JSON.stringify(jsonSchema(), null, 2)}\n`;
      if (o.out) await writeFile(o.out, text);
      else io.out(text.trimEnd());
      setExit(EXIT.OK);
    });
}

async function planUuidCommand(
  io: Io,
  o: { sourceUrl?: string; out?: string; tables?: string; batchSize: number; startVersion: number; mapping: 'per-table' | 'shared'; json?: boolean },
): Promise<number> {
  if (!o.sourceUrl) throw new UsageError('`plan uuid` needs --source-url (the database whose keys are planned)');
  if (!o.out) throw new UsageError('`plan uuid` needs --out <dir>');
  const { factory } = await openLocalDatabases({ source: { url: o.sourceUrl } }, {}, () => {});
  try {
    const client = factory.get({ engine: engineOfUrl(o.sourceUrl) ?? 'postgres', url: o.sourceUrl });
    const graph = await readUuidGraph(client, o.tables?.split(',').map((t) => t.trim()));
    const v7 = client.dialect === 'postgres' && (await client.query("SELECT to_regproc('uuidv7') IS NOT NULL AS ok")).rows[0]?.ok === true;
    const plan = planUuid(graph, { firstVersion: o.startVersion, uuidv7: v7, batchSize: o.batchSize, mapping: o.mapping });
    const write = async (dir: string, files: { name: string; body: string }[]) => {
      if (!files.length) return;
      await mkdir(path.join(o.out!, dir), { recursive: true });
      for (const f of files) await writeFile(path.join(o.out!, dir, f.name), f.body);
    };
    await write('migrations', plan.files);
    await write('contract', plan.contractFiles);
    await write('rollback', plan.rollbackFiles);
    const fragment = {
      migrations: { location: 'migrations', ...(plan.contractFiles.length ? { contractLocation: 'contract' } : {}) },
      backfill: { tasks: plan.backfill },
      verify: { rowCounts: 'before-vs-after', tables: plan.verifyTables, assertions: plan.assertions, integrity: plan.integrity },
    };
    await writeFile(path.join(o.out, 'spec.fragment.json'), `${JSON.stringify(fragment, null, 2)}\n`);
    const summary = {
      parents: graph.tables.filter((t) => t.isParent).length,
      compositeKeys: graph.tables.filter((t) => t.isParent && t.pk.length > 1).map((t) => t.table),
      foreignKeys: graph.fks.length,
      mapping: o.mapping,
      groups: plan.groups,
      skipped: plan.skipped,
      uuidv7: v7,
      out: o.out,
    };
    if (o.json) io.out(JSON.stringify(summary, null, 2));
    else {
      io.out(
        `uuid plan for ${client.label}: ${summary.parents} table(s) get uuid keys${summary.compositeKeys.length ? ` (${summary.compositeKeys.length} composite, each a surrogate <table>_uuid: ${summary.compositeKeys.join(', ')})` : ''}, ${summary.foreignKeys} foreign key(s) get uuid columns, ${plan.groups.length} swap group(s)`,
      );
      for (const sk of plan.skipped) io.out(`  skipped ${sk.table}: ${sk.reason}`);
      io.out(`wrote ${o.out}/migrations, ${plan.contractFiles.length ? 'contract, rollback, ' : ''}spec.fragment.json (merge it into your spec)`);
    }
    return EXIT.OK;
  } finally {
    await factory.closeAll();
  }
}

export function jsonSchema(): unknown {
  return z.toJSONSchema(RunSpec, { io: 'input', unrepresentable: 'any' });
}

/**
 * A dry run kept beside the run it rehearses (seed 004: "backfill dry-run first"): the run's Summary lists it in the
 * manifest like every other file. Refused for a run that already ended (its manifest is sealed).
 */
async function keepDryRun(store: FsEvidenceStore, spec: RunSpec, d: DryRun, blocked: boolean): Promise<string> {
  const ended = await sealedOutcome(spec.runId, { evidence: store }).catch(() => undefined);
  if (ended) throw new SpecFileError(`run ${spec.runId} already ended ${ended.outcome} (its manifest is sealed); expected a dry run before the run, or a new runId`);
  const now = new Date();
  const key = `${spec.runId}/00_dry_run/${now.toISOString().replace(/[:.]/g, '-')}.json`;
  const record = { step: '00_dry_run', command: 'cutline plan (dry run: nothing changed)', exit_code: blocked ? 1 : 0, timestamp_utc: now.toISOString(), owner: spec.owner, result: blocked ? 'FAIL' : 'PASS', details: d };
  await store.put(key, canonicalJson(record), 'application/json');
  return key;
}
