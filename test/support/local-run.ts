/** Helpers for end-to-end runs through the local runner. */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readSpecFile } from '../../cli/spec-file';

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
  if (!opts.appUrl) spec.smoke.checks = [];
  return spec;
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

/** Recompute the manifest: every file's SHA-256 and the hash chain. */
export async function verifyManifest(dir: string): Promise<{ ok: boolean; problems: string[] }> {
  const m = await readJson(path.join(dir, 'manifest.json'));
  const problems: string[] = [];
  let chain = createHash('sha256').update(`cutline-manifest-v1\n${m.runId}`).digest('hex');
  for (const f of m.files) {
    const body = await readFile(path.join(dir, f.file)).catch(() => undefined);
    if (!body) problems.push(`missing ${f.file}`);
    else if (createHash('sha256').update(body).digest('hex') !== f.sha256) problems.push(`changed ${f.file}`);
    chain = createHash('sha256').update(`${chain}\n${f.file}\n${f.sha256}`).digest('hex');
    if (chain !== f.chain) problems.push(`chain broken at ${f.file}`);
  }
  if (chain !== m.root) problems.push('root does not match');
  const listed = new Set(m.files.map((f: { file: string }) => f.file));
  for (const f of await filesUnder(dir)) if (!listed.has(f) && f !== 'manifest.json' && f !== 'execution-history.json') problems.push(`added ${f}`);
  return { ok: problems.length === 0, problems };
}

export async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}
