/** Reading a spec file: JSON, ${env:NAME} expansion, paths relative to the file. */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';

export class SpecFileError extends Error {
  override readonly name = 'SpecFileError';
}

/** Replace ${env:NAME} in every string; a missing variable is an error naming it and where it is used. */
export function expandEnv(value: unknown, env: NodeJS.ProcessEnv, at = '$'): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
      const v = env[name];
      if (v === undefined) throw new SpecFileError(`${at}: uses \${env:${name}}, but ${name} is not set; expected the environment variable to be exported`);
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, `${at}[${i}]`));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandEnv(v, env, `${at}.${k}`)]));
  return value;
}

/** Local paths in a spec are relative to the spec file. */
export function resolvePaths(spec: unknown, baseDir: string): unknown {
  if (!spec || typeof spec !== 'object') return spec;
  // biome-ignore lint/suspicious/noExplicitAny: raw spec JSON, validated later by zod
  const s = structuredClone(spec) as Record<string, any>;
  const abs = (p: unknown) => (typeof p === 'string' && !/^[a-z0-9]+:\/\//i.test(p) ? path.resolve(baseDir, p) : p);
  if (s.migrations && typeof s.migrations === 'object') {
    if (s.migrations.location !== 'bundled') s.migrations.location = abs(s.migrations.location);
    if (s.migrations.contractLocation !== undefined) s.migrations.contractLocation = abs(s.migrations.contractLocation);
  }
  for (const t of Array.isArray(s.backfill?.tasks) ? s.backfill.tasks : [])
    if (t?.load && Array.isArray(t.load.files)) t.load.files = t.load.files.map(abs);
  if (s.local && typeof s.local === 'object') {
    if (Array.isArray(s.local.seed)) s.local.seed = s.local.seed.map(abs);
    if (s.local.parameters !== undefined) s.local.parameters = abs(s.local.parameters);
    if (s.local.alarms !== undefined) s.local.alarms = abs(s.local.alarms);
  }
  for (const side of ['source', 'target']) {
    const ref = s[side];
    if (ref && typeof ref === 'object' && typeof ref.url === 'string' && ref.url.startsWith('pglite://') && !['pglite://memory', 'pglite://'].includes(ref.url) && !ref.url.startsWith('pglite://memory/'))
      ref.url = `pglite://${path.resolve(baseDir, ref.url.slice('pglite://'.length))}`;
  }
  return s;
}

/**
 * The spec travels in the execution input and in every state, next to the stages' results: Step Functions caps each
 * at 256 KiB, so the spec may take half of it.
 */
export const MAX_SPEC_BYTES = 128 * 1024;

export async function readSpecFile(file: string, env: NodeJS.ProcessEnv = process.env): Promise<unknown> {
  let text: string;
  try {
    const size = (await stat(file)).size;
    if (size > MAX_SPEC_BYTES)
      throw new SpecFileError(
        `spec ${file} is ${size} bytes; expected at most ${MAX_SPEC_BYTES} (half of Step Functions' 256 KiB state limit: the spec travels in every state next to the results): keep migrations in a folder or s3:// prefix, not bundled`,
      );
    text = await readFile(file, 'utf8');
  } catch (e) {
    if (e instanceof SpecFileError) throw e;
    throw new SpecFileError(`cannot read spec ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; expected a run spec JSON file`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new SpecFileError(`spec ${file} is not valid JSON: ${(e as Error).message}`);
  }
  return resolvePaths(expandEnv(raw, env), path.dirname(path.resolve(file)));
}
