/**
 * Evidence records (DESIGN.md "Evidence contract"): one JSON record per step,
 * summary.md, and manifest.json with each file's SHA-256 and a hash chain.
 * Pure: callers hand the rendered bodies to an EvidenceStore.
 */
import { createHash } from 'node:crypto';
import type { EvidenceObject, EvidenceStore, Signer } from '../ports';
import { mapLimit } from './concurrency';
import { EVIDENCE_STEPS, manifestKey, type RecordedStep } from './evidence-layout';
import { type RootSignature, signRoot } from './signature';

/** A JSON evidence file, parsed; undefined when it does not exist, an error naming the key when it is not JSON. */
export async function readEvidenceJson<T>(store: Pick<EvidenceStore, 'get'>, key: string): Promise<T | undefined> {
  const b = await store.get(key);
  if (!b) return undefined;
  try {
    return JSON.parse(Buffer.from(b).toString('utf8')) as T;
  } catch (e) {
    throw new Error(`evidence ${key} is not valid JSON: ${(e as Error).message}`);
  }
}

export type StepResult = 'PASS' | 'FAIL' | 'SKIPPED' | 'INFO';

export interface StepRecord {
  readonly step: string;
  readonly command: string;
  readonly exit_code: number;
  readonly timestamp_utc: string;
  readonly owner: string;
  readonly result: StepResult;
  readonly duration_ms?: number;
  readonly details: Record<string, unknown>;
}


export function stepRecord(r: {
  step: RecordedStep;
  command: string;
  owner: string;
  now: Date;
  result: StepResult;
  details: Record<string, unknown>;
  durationMs?: number;
}): StepRecord {
  return {
    step: EVIDENCE_STEPS[r.step],
    command: r.command,
    exit_code: r.result === 'FAIL' ? 1 : 0,
    timestamp_utc: r.now.toISOString(),
    owner: r.owner,
    result: r.result,
    ...(r.durationMs !== undefined ? { duration_ms: r.durationMs } : {}),
    details: r.details,
  };
}

export function sha256Hex(body: string | Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

/** JSON with sorted keys and a trailing newline: the same record hashes the same. */
export function canonicalJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === 'object' && !(v instanceof Uint8Array)) {
      return Object.fromEntries(
        Object.keys(v as object)
          .sort()
          .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return `${JSON.stringify(sort(value), null, 2)}\n`;
}

export interface ManifestEntry {
  readonly file: string;
  readonly sha256: string;
  readonly size: number;
  /** sha256(previous chain + "\n" + file + "\n" + sha256): any edit, insert or removal changes every later link. */
  readonly chain: string;
}
export interface Manifest {
  readonly runId: string;
  readonly algorithm: 'sha256';
  readonly files: ManifestEntry[];
  readonly root: string;
  /** The root signed (Summary's signer); outside the chain, so adding it changes no link. */
  readonly signature?: RootSignature;
}

export function buildManifest(runId: string, files: readonly { file: string; sha256: string; size: number }[]): Manifest {
  let chain = sha256Hex(`cutline-manifest-v1\n${runId}`);
  const entries = [...files]
    .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))
    .map((f) => {
      chain = sha256Hex(`${chain}\n${f.file}\n${f.sha256}`);
      return { ...f, chain };
    });
  return { runId, algorithm: 'sha256', files: entries, root: chain };
}

export interface ManifestProblem {
  readonly file: string;
  /** anchor: the manifest's root differs from the one the run recorded in its execution history; signature: a root's signature is missing or wrong. */
  readonly problem: 'changed' | 'missing' | 'added' | 'chain' | 'anchor' | 'signature';
  readonly detail: string;
}

/**
 * Recompute a manifest against the files as they are now: every changed,
 * missing or added file is named; a broken chain (an edited manifest) too.
 * `files` maps file name -> its current SHA-256 (from an EvidenceStore.list).
 */
/**
 * Files a run keeps beside its manifest but outside it: the manifest itself, and the local runner's execution
 * histories (written after Summary, and kept by Step Functions, not the bucket, in AWS).
 */
/**
 * A digest ledger (`<name>.digests.jsonl`, one `{key, sha256, size}` line per file): the digests a stage took of files as
 * it read or wrote them. listEvidence seals those files from it instead of reading each again.
 */
export const DIGESTS_SUFFIX = '.digests.jsonl';

export const renderDigests = (objects: readonly EvidenceObject[]) => objects.map((o) => `${JSON.stringify({ key: o.key, sha256: o.sha256, size: o.size })}\n`).join('');

/** Readers at once when a file has to be read to be hashed. */
const HASH_READERS = 16;

/**
 * Every file under the prefix with its SHA-256, each read once at most: one listing (keys), the ledgers read, and only the
 * files no ledger names read and hashed. A file a ledger names but that changed after is sealed with the ledger's digest,
 * so verify reports it changed: the manifest holds what the stage that decided on it saw.
 */
export async function listEvidence(store: Pick<EvidenceStore, 'keys' | 'get'>, prefix: string): Promise<EvidenceObject[]> {
  const keys = await store.keys(prefix);
  const known = new Map<string, EvidenceObject>();
  const read = async (key: string): Promise<EvidenceObject | undefined> => {
    const body = await store.get(key);
    if (!body) return undefined;
    const o = { key, sha256: sha256Hex(body), size: body.length };
    if (key.endsWith(DIGESTS_SUFFIX))
      for (const line of Buffer.from(body).toString('utf8').split('\n')) {
        let d: EvidenceObject;
        try {
          d = JSON.parse(line) as EvidenceObject;
        } catch {
          continue; // a line that is not a digest names nothing: the files it would have named are read and hashed
        }
        if (d && typeof d.key === 'string' && typeof d.sha256 === 'string' && typeof d.size === 'number' && !known.has(d.key)) known.set(d.key, d);
      }
    return o;
  };
  const ledgers = await mapLimit(
    keys.filter((k) => k.endsWith(DIGESTS_SUFFIX)),
    HASH_READERS,
    read,
  );
  const own = new Map(ledgers.filter((o): o is EvidenceObject => o !== undefined).map((o) => [o.key, o]));
  const rest = await mapLimit(
    keys.filter((k) => !own.has(k) && !known.has(k)),
    HASH_READERS,
    read,
  );
  const hashed = new Map(rest.filter((o): o is EvidenceObject => o !== undefined).map((o) => [o.key, o]));
  return keys.map((k) => own.get(k) ?? hashed.get(k) ?? known.get(k)).filter((o): o is EvidenceObject => o !== undefined);
}

/**
 * The store, each file read from it at most once: what is read or written is kept (up to `budgetBytes` in all, files of
 * at most 1 MiB) and a later read is served from memory. Summary reads records, hashes them and writes the report on it.
 */
export function readOnce<S extends Pick<EvidenceStore, 'get' | 'put'>>(store: S, budgetBytes: number): S {
  const kept = new Map<string, Uint8Array>();
  let left = budgetBytes;
  const keep = (key: string, body: Uint8Array) => {
    if (body.length > 1024 * 1024 || body.length > left) return;
    left -= body.length - (kept.get(key)?.length ?? 0);
    kept.set(key, body);
  };
  return Object.assign(Object.create(store) as S, {
    async get(key: string) {
      const hit = kept.get(key);
      if (hit) return hit;
      const body = await store.get(key);
      if (body) keep(key, body);
      return body;
    },
    async put(key: string, body: string | Uint8Array, contentType?: string) {
      const o = await store.put(key, body, contentType);
      keep(key, typeof body === 'string' ? Buffer.from(body) : body);
      return o;
    },
  });
}

export function isUnlisted(file: string): boolean {
  return file === 'manifest.json' || file === 'execution-history.jsonl' || file.startsWith('execution-history/');
}

/**
 * Records written after Summary sealed the manifest (a rollback by hand, a
 * late note) extend it: an addendum lists them with a chain that continues
 * from the root before it, so verify accepts them, in order, and still
 * catches any change to what came before.
 */
export interface ManifestAddendum {
  readonly runId: string;
  readonly sequence: number;
  readonly reason: string;
  readonly written_utc: string;
  /** The root this addendum continues: the manifest's, or the previous addendum's. */
  readonly previous_root: string;
  readonly files: ManifestEntry[];
  readonly root: string;
  readonly signature?: RootSignature;
}

export const addendumKey = (runId: string, n: number) => `${runId}/manifest-addenda/${String(n).padStart(3, '0')}.json`;
const isAddendum = (file: string) => /^manifest-addenda\/\d{3}\.json$/.test(file);

export function buildAddendum(
  runId: string,
  sequence: number,
  previousRoot: string,
  files: readonly { file: string; sha256: string; size: number }[],
  reason: string,
  now: Date,
): ManifestAddendum {
  let chain = previousRoot;
  const entries = [...files]
    .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))
    .map((f) => {
      chain = sha256Hex(`${chain}\n${f.file}\n${f.sha256}`);
      return { ...f, chain };
    });
  return { runId, sequence, reason, written_utc: now.toISOString(), previous_root: previousRoot, files: entries, root: sha256Hex(`${chain}\naddendum ${sequence}\n${reason}`) };
}

/**
 * The manifest and its addenda against the files as they are now. An addendum may list a file the manifest (or an
 * earlier addendum) listed: it supersedes it (summary.md and report.html after a rollback by hand), and the file
 * must now match the latest listing; the earlier version's hash stays in the chain before it.
 */
export function verifyEvidence(manifest: Manifest, addenda: readonly ManifestAddendum[], files: ReadonlyMap<string, string>): ManifestProblem[] {
  const sorted = [...addenda].sort((x, y) => x.sequence - y.sequence);
  const latest = new Map<string, number>();
  for (const a of sorted) for (const f of a.files) latest.set(f.file, a.sequence);
  const problems = verifyManifest(manifest, files).filter((p) => !((p.problem === 'added' || p.problem === 'changed') && (latest.has(p.file) || isAddendum(p.file))));
  let root = manifest.root;
  for (const [i, a] of sorted.entries()) {
    const name = `manifest-addenda/${String(a.sequence).padStart(3, '0')}.json`;
    if (a.sequence !== i + 1) problems.push({ file: name, problem: 'chain', detail: `addendum ${a.sequence} is out of sequence; expected ${i + 1}` });
    if (a.previous_root !== root) problems.push({ file: name, problem: 'chain', detail: `addendum ${a.sequence} does not continue the chain before it: an earlier record was replaced` });
    let chain = a.previous_root;
    for (const f of a.files) {
      const now = files.get(f.file);
      if (now === undefined) problems.push({ file: f.file, problem: 'missing', detail: `${f.file} is listed in addendum ${a.sequence} but gone` });
      else if (now !== f.sha256 && latest.get(f.file) === a.sequence) problems.push({ file: f.file, problem: 'changed', detail: `${f.file} changed since addendum ${a.sequence}` });
      chain = sha256Hex(`${chain}\n${f.file}\n${f.sha256}`);
      if (chain !== f.chain) problems.push({ file: f.file, problem: 'chain', detail: `the hash chain breaks at ${f.file} in addendum ${a.sequence}: the addendum was edited` });
    }
    if (sha256Hex(`${chain}\naddendum ${a.sequence}\n${a.reason}`) !== a.root) problems.push({ file: name, problem: 'chain', detail: `addendum ${a.sequence}'s root does not match: it was edited` });
    root = a.root;
  }
  return problems;
}

export function verifyManifest(manifest: Manifest, files: ReadonlyMap<string, string>): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  let chain = sha256Hex(`cutline-manifest-v1\n${manifest.runId}`);
  for (const f of manifest.files) {
    const now = files.get(f.file);
    if (now === undefined) problems.push({ file: f.file, problem: 'missing', detail: `${f.file} is listed in the manifest but gone` });
    else if (now !== f.sha256) problems.push({ file: f.file, problem: 'changed', detail: `${f.file} changed: sha256 ${now.slice(0, 12)}… now, ${f.sha256.slice(0, 12)}… in the manifest` });
    chain = sha256Hex(`${chain}\n${f.file}\n${f.sha256}`);
    if (chain !== f.chain) problems.push({ file: f.file, problem: 'chain', detail: `the hash chain breaks at ${f.file}: the manifest itself was edited` });
  }
  if (chain !== manifest.root) problems.push({ file: 'manifest.json', problem: 'chain', detail: 'the chain root does not match: the manifest itself was edited' });
  const listed = new Set(manifest.files.map((f) => f.file));
  for (const f of files.keys()) if (!listed.has(f) && !isUnlisted(f)) problems.push({ file: f, problem: 'added', detail: `${f} is not in the manifest (added after the run)` });
  return problems;
}

/** Seal records written after Summary into the next addendum of the run's manifest (nothing to do before there is a manifest). */
export async function appendAddendum(
  runId: string,
  written: readonly EvidenceObject[],
  reason: string,
  deps: { evidence: Pick<EvidenceStore, 'get' | 'putIfAbsent'>; clock: { now(): Date }; signer?: Signer },
): Promise<ManifestAddendum | undefined> {
  const manifest = await readEvidenceJson<Manifest>(deps.evidence, manifestKey(runId));
  if (!manifest) return undefined;
  const files = written.map((o) => ({ file: o.key.slice(runId.length + 1), sha256: o.sha256, size: o.size }));
  for (;;) {
    const earlier = await readAddenda(deps.evidence, runId);
    const n = earlier.length + 1;
    const built = buildAddendum(runId, n, earlier.at(-1)?.root ?? manifest.root, files, reason, deps.clock.now());
    const a = deps.signer ? { ...built, signature: await signRoot(deps.signer, runId, `addendum ${n}`, built.root) } : built;
    if (await deps.evidence.putIfAbsent(addendumKey(runId, n), canonicalJson(a), 'application/json')) return a;
    // another writer took this number: read again and go on after it
  }
}

/** A run's addenda, in order (read by key: no listing of the run's files). */
export async function readAddenda(evidence: Pick<EvidenceStore, 'get'>, runId: string): Promise<ManifestAddendum[]> {
  const out: ManifestAddendum[] = [];
  for (let n = 1; ; n++) {
    const a = await readEvidenceJson<ManifestAddendum>(evidence, addendumKey(runId, n));
    if (!a) return out;
    out.push(a);
  }
}
