/** Helpers for end-to-end runs through the local runner. */
import { mkdtemp, readFile, readdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readSpecFile } from '../../cli/spec-file';
import { rollbackByFiles } from '../../examples/agent-uuid/plan';
import { FsEvidenceStore } from '../../lambdas/adapters/local/evidence-fs';
import { verifyManifest as coreVerify } from '../../lambdas/core/evidence';

export const DEMO_SPEC = path.resolve(import.meta.dirname, '../../examples/agent-uuid/spec.json');
export const SCALE_1_100 = path.resolve(import.meta.dirname, '../e2e/fixtures/scale-1-100.sql');

export async function tempDir(prefix = 'cutline-e2e-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/** The demo spec at 1/100 scale, with smoke checks that need no app unless given one. */
export async function miniSpec(opts: { runId: string; appUrl?: string }): Promise<Record<string, any>> {
  const spec = (await readSpecFile(DEMO_SPEC, { DEMO_APP_URL: opts.appUrl ?? 'http://127.0.0.1:9' })) as Record<string, any>;
  spec.runId = opts.runId;
  spec.local.seed = [SCALE_1_100, ...spec.local.seed];
  for (const t of spec.backfill.tasks) t.batchSize = Math.max(5, Math.floor(t.batchSize / 100));
  // Without the demo app: no requests to it. The backup before Schema is left to the tests of it (each run would dump its database).
  if (!opts.appUrl) {
    spec.smoke.checks = [];
    spec.checks = spec.checks.filter((c: { http?: unknown }) => !c.http);
  }
  // Without the backup, the rollback undoes the swap with the planner's rollback file instead of restoring.
  delete spec.backup;
  const dir = path.dirname(DEMO_SPEC);
  const read = async (sub: string) => Promise.all((await readdir(path.join(dir, sub))).sort().map(async (name) => ({ name, body: await readFile(path.join(dir, sub, name), 'utf8') })));
  spec.rollback.actions = [...spec.rollback.actions.filter((a: { type: string }) => a.type !== 'restore'), ...rollbackByFiles(await read('rollback'), await read('contract'))];
  return spec;
}

/** A history in GetExecutionHistory's shape, one event per line (the local runner's .jsonl files). */
export async function readHistory(file: string): Promise<any[]> {
  return (await readFile(file, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

export async function readJson(file: string): Promise<any> {
  return JSON.parse(await readFile(file, 'utf8'));
}

export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  await walk(dir);
  return out.sort();
}

/** Recompute the manifest (core's verifyManifest over the folder as it is now). */
export async function verifyManifest(dir: string): Promise<{ ok: boolean; problems: string[] }> {
  const runId = path.basename(dir);
  const store = new FsEvidenceStore(path.dirname(dir));
  const now = new Map((await store.list(`${runId}/`)).map((f) => [f.key.slice(runId.length + 1), f.sha256]));
  const problems = coreVerify(await readJson(path.join(dir, 'manifest.json')), now).map((p) => `${p.problem} ${p.file}`);
  return { ok: problems.length === 0, problems };
}

export async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}
