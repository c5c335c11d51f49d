/** HTTP smoke checks after cutover (from the smoke function, or curl on the jumpbox), with seed 003's idempotency replay. */
import type { Deps } from '../ports';
import { runCommand } from './actions';
import { errorMessage, IdempotencyFailed, SmokeFailed } from './errors';
import { sha256Hex } from './evidence';
import type { RunSpec } from './spec';

/** What smoke checks touch: HTTP from this function, or the jumpbox. */
export type SmokeDeps = Pick<Deps, 'http' | 'commands' | 'clock'>;
export interface SmokeResult {
  readonly name: string;
  readonly url: string;
  readonly expectStatus: number;
  readonly status: number | null;
  readonly ok: boolean;
  readonly ms: number;
  readonly detail: string;
  /** An idempotency check (read, replay, read again): seed 003's 07_idempotency_duplicate. */
  readonly replay: boolean;
  /** The first response's body: its SHA-256 and length in bytes (seed 003's BODY_SHA256 / BODY_LEN). */
  readonly BODY_SHA256?: string;
  readonly BODY_LEN?: number;
}

/** The payload parsed, without its volatile fields at any depth, keys sorted (seed 003's canonical payload). */
export function canonicalPayload(body: string, ignore: readonly string[]): unknown {
  const drop = new Set(ignore);
  const canon = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canon);
    if (v && typeof v === 'object')
      return Object.fromEntries(
        Object.keys(v as object)
          .filter((k) => !drop.has(k))
          .sort()
          .map((k) => [k, canon((v as Record<string, unknown>)[k])]),
      );
    return v;
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new Error(`the response is not JSON (${JSON.stringify(body.slice(0, 80))}); expected a JSON payload to hash`);
  }
  return canon(parsed);
}

/** seed 003: the canonical payload as compact JSON, SHA-256. */
export function canonicalPayloadHash(body: string, ignore: readonly string[]): string {
  return sha256Hex(JSON.stringify(canonicalPayload(body, ignore)));
}

/** Where two canonical payloads differ, as JSON paths ($.a.b[2]), at most `limit` of them. */
export function jsonDifferences(a: unknown, b: unknown, limit = 20): string[] {
  const out: string[] = [];
  const walk = (x: unknown, y: unknown, at: string): void => {
    if (out.length >= limit) return;
    const kind = (v: unknown) => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);
    if (kind(x) !== kind(y)) {
      out.push(at);
    } else if (Array.isArray(x)) {
      const ya = y as unknown[];
      if (x.length !== ya.length) out.push(`${at} (length ${x.length} vs ${ya.length})`);
      else
        for (const [i, v] of x.entries()) walk(v, ya[i], `${at}[${i}]`);
    } else if (x && typeof x === 'object') {
      const xo = x as Record<string, unknown>;
      const yo = y as Record<string, unknown>;
      for (const k of [...new Set([...Object.keys(xo), ...Object.keys(yo)])].sort()) {
        if (!(k in xo) || !(k in yo)) out.push(`${at}.${k}`);
        else walk(xo[k], yo[k], `${at}.${k}`);
        if (out.length >= limit) return;
      }
    } else if (x !== y) out.push(at);
  };
  walk(a, b, '$');
  return out;
}

type SmokeCheck = RunSpec['smoke']['checks'][number];

/** The most of a response body the jumpbox prints: with its three header lines it stays within SSM's 24,000 characters. */
export const JUMPBOX_BODY_BYTES = 16_000;

export interface Fetched {
  readonly status: number;
  /** The body, or (from the jumpbox) its first JUMPBOX_BODY_BYTES. */
  readonly body: string;
  readonly length: number;
  readonly sha256: string;
  /** false: `body` is cut; length and sha256 still describe the whole body. */
  readonly whole: boolean;
}

/**
 * One HTTP request, from here or (via jumpbox) with curl on the jumpbox. On the jumpbox the status, the body's
 * length and its SHA-256 come first, on lines of their own, then at most JUMPBOX_BODY_BYTES of the body: SSM's cut
 * of stdout at 24,000 characters can never take the status with it.
 */
export async function fetchOnce(spec: RunSpec, c: { url: string; method: string; timeoutMs: number; via: 'lambda' | 'jumpbox'; body?: string }, deps: SmokeDeps): Promise<Fetched> {
  if (c.via === 'lambda') {
    const r = await deps.http.request(c.url, { method: c.method, timeoutMs: c.timeoutMs, ...(c.body ? { body: c.body, headers: { 'content-type': 'application/json' } } : {}) });
    return { ...r, length: Buffer.byteLength(r.body), sha256: sha256Hex(r.body), whole: true };
  }
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const curl = `curl -sS -o "$f" -X ${c.method} --max-time ${Math.ceil(c.timeoutMs / 1000)} ${c.body ? `-H 'content-type: application/json' --data ${q(c.body)} ` : ''}-w '%{http_code}' ${q(c.url)}`;
  const script = [
    'f=$(mktemp) || exit 70',
    `code=$(${curl}); rc=$?`,
    `printf 'HTTP_STATUS %s\\nBODY_LEN %s\\nBODY_SHA256 %s\\n' "$code" "$(wc -c < "$f" | tr -d ' ')" "$(sha256sum "$f" | cut -d' ' -f1)"`,
    `head -c ${JUMPBOX_BODY_BYTES} "$f"; rm -f "$f"; exit $rc`,
  ].join('\n');
  const r = await runCommand(deps, spec.jumpbox!.instanceId, script, Math.ceil(c.timeoutMs / 1000) + 30);
  if (r.status !== 'Success') throw new Error(`curl on the jumpbox ended ${r.status} (exit ${r.exitCode}): ${r.stderr.slice(-200)}`);
  const m = /^HTTP_STATUS (\d{3})\nBODY_LEN (\d+)\nBODY_SHA256 ([0-9a-f]{64})\n/.exec(r.stdout);
  if (!m) throw new Error(`the jumpbox's curl printed ${JSON.stringify(r.stdout.slice(0, 120))}; expected HTTP_STATUS, BODY_LEN and BODY_SHA256 lines first`);
  const body = r.stdout.slice(m[0].length);
  const length = Number(m[2]);
  return { status: Number(m[1]), body, length, sha256: m[3]!, whole: Buffer.byteLength(body) >= length };
}

/** What an idempotency check compares: the canonical payload hash of a whole body, or the raw SHA-256 the jumpbox computed of one SSM cannot return whole. */
function payloadHash(f: Fetched, c: SmokeCheck): { hash: string; what: string } {
  if (f.whole) return { hash: canonicalPayloadHash(f.body, c.ignoreFields), what: 'canonical hash' };
  if (c.ignoreFields.length)
    throw new Error(
      `the response is ${f.length} bytes, more than the ${JUMPBOX_BODY_BYTES} the jumpbox returns through SSM; expected a smaller response, or no ignoreFields (then the whole body's SHA-256 is compared)`,
    );
  return { hash: f.sha256, what: 'body sha256' };
}

async function smokeOne(spec: RunSpec, c: SmokeCheck, deps: SmokeDeps): Promise<Omit<SmokeResult, 'name' | 'url' | 'expectStatus' | 'ms' | 'replay'>> {
  const first = await fetchOnce(spec, c, deps);
  return { BODY_SHA256: first.sha256, BODY_LEN: first.length, ...(await compared(spec, c, first, deps)) };
}

async function compared(spec: RunSpec, c: SmokeCheck, first: Fetched, deps: SmokeDeps): Promise<Omit<SmokeResult, 'name' | 'url' | 'expectStatus' | 'ms' | 'replay'>> {
  if (first.status !== c.expectStatus) return { status: first.status, ok: false, detail: `got HTTP ${first.status}; expected ${c.expectStatus}; body: ${first.body.slice(0, 200)}` };
  const bodyNote = `body ${first.length} bytes, sha256 ${first.sha256}`;
  if (!c.replay) return { status: first.status, ok: true, detail: `HTTP ${first.status}${c.via === 'jumpbox' ? ' (from the jumpbox)' : ''}; ${bodyNote}` };
  const before = payloadHash(first, c);
  if ('script' in c.replay) {
    const r = await runCommand(deps, spec.jumpbox!.instanceId, c.replay.script, c.replay.timeoutSeconds);
    if (r.status !== 'Success' || r.exitCode !== 0) return { status: first.status, ok: false, detail: `replay ended ${r.status} with exit ${r.exitCode}: ${r.stderr.slice(-200)}` };
  } else {
    const r = await fetchOnce(spec, { url: c.replay.url, method: c.replay.method, timeoutMs: c.timeoutMs, via: c.via, ...(c.replay.body ? { body: c.replay.body } : {}) }, deps);
    if (r.status >= 400) return { status: first.status, ok: false, detail: `replay answered HTTP ${r.status}` };
  }
  const second = await fetchOnce(spec, c, deps);
  if (second.status !== c.expectStatus) return { status: second.status, ok: false, detail: `after the replay: HTTP ${second.status}; expected ${c.expectStatus}` };
  const after = payloadHash(second, c);
  return before.hash === after.hash
    ? { status: second.status, ok: true, detail: `idempotent: ${before.what} ${before.hash} before and after the replay (ignoring ${c.ignoreFields.join(', ') || 'nothing'}); ${bodyNote}` }
    : { status: second.status, ok: false, detail: `not idempotent: ${before.what} ${before.hash} before, ${after.hash} after the replay (ignoring ${c.ignoreFields.join(', ') || 'nothing'})` };
}

/** Every smoke check, each to its end (a failure does not stop the others). */
export async function smokeResults(spec: RunSpec, deps: SmokeDeps): Promise<SmokeResult[]> {
  const results: SmokeResult[] = [];
  for (const c of spec.smoke.checks) {
    const t0 = deps.clock.now().getTime();
    try {
      const r = await smokeOne(spec, c, deps);
      results.push({ name: c.name, url: c.url, expectStatus: c.expectStatus, replay: !!c.replay, ...r, ms: deps.clock.now().getTime() - t0 });
    } catch (e) {
      results.push({ name: c.name, url: c.url, expectStatus: c.expectStatus, replay: !!c.replay, status: null, ok: false, ms: deps.clock.now().getTime() - t0, detail: errorMessage(e) });
    }
  }
  return results;
}

/** The failure smoke results add up to, with the stage's record details: only replays failing is IDEMPOTENCY_FAILED (the endpoint answers, duplicates are not handled). */
export function smokeFailure(results: readonly SmokeResult[], details: Record<string, unknown> = { checks: results }): SmokeFailed | IdempotencyFailed | undefined {
  const failed = results.filter((r) => !r.ok);
  if (!failed.length) return undefined;
  const Err = failed.every((f) => f.replay) ? IdempotencyFailed : SmokeFailed;
  return new Err(`smoke check(s) failed: ${failed.map((f) => `${f.name} ${f.url}: ${f.detail.slice(0, 300)}`).join('; ')}`, details);
}

export async function runSmoke(spec: RunSpec, deps: SmokeDeps): Promise<SmokeResult[]> {
  const results = await smokeResults(spec, deps);
  const failure = smokeFailure(results);
  if (failure) throw failure;
  return results;
}
