/**
 * The end of a run: rollback (by the state machine, or by hand after it), Classify and Summary (report, manifest, signature).
 */
import { EVIDENCE_STEPS, gateKey, manifestKey, stepKey, summaryMdKey } from './evidence-layout';
import type { Deps, EvidenceObject } from '../ports';
import { type ActionDeps, type ActionWaiting, rollbackEntries, runRollback } from './actions';
import { type PollRecord as PhasePoll, phaseRollbackEntries } from './phases';
import { signRoot } from './signature';
import { classify, type ClassifyOutcome } from './decision';
import { errorMessage } from './errors';
import { appendAddendum, buildManifest, readAddenda, canonicalJson, readEvidenceJson, type StepRecord, stepRecord, isUnlisted, listEvidence, readOnce } from './evidence';
import { type AttemptRecord, readAttempts } from './attempts';
import type { EndState, StageState } from './payloads';
import { releaseRunLease } from './lease';
import { RunSpec } from './spec';
import { mdText, renderSummary } from './summary';
import { escapeHtml } from './html';
import { PHASE_CHART_POLLS, type ReportInput, renderReport } from './report';
import { mapLimit } from './concurrency';
import { seed003AfterManualRollback, seed003Files, seed004Files } from './evidence-profile';
import { endWho, type Who, who, recorded, renewLease, leaseHolder } from './stage-record';
import { waitingIn } from './cutover-stages';

/** `cutline rollback <runId>`: the spec's rollback actions by hand, recorded next to the run's own records. */
export async function manualRollback(spec: RunSpec, who: string, deps: ActionDeps & Pick<Deps, 'signer'>) {
  const started = deps.clock.now();
  const out = await runRollback(spec, deps, { byHand: true, entries: [...(await phaseRollbackEntries(spec, deps)), ...rollbackEntries(spec)] });
  const record = await deps.evidence.put(
    stepKey(spec.runId, 'rollback', `_manual_${started.toISOString().replace(/[:.]/g, '-')}`),
    canonicalJson(stepRecord({ step: 'rollback', command: 'cutline rollback (by hand)', owner: who, now: deps.clock.now(), result: out.ok ? 'PASS' : 'FAIL', details: { ...out }, durationMs: deps.clock.now().getTime() - started.getTime() })),
    'application/json',
  );
  // After Summary sealed the run: the record, and the summaries that now say so, join the manifest as an addendum.
  const manifest = await readEvidenceJson<{ files: { file: string }[] }>(deps.evidence, manifestKey(spec.runId));
  if (!manifest) return out;
  const amended = await amendAfterRollback(spec.runId, record, deps);
  // A rollback by hand killed before its addendum left its record and superseded copies unsealed: this one seals them.
  const sealed = new Set([...manifest.files.map((f) => f.file), ...(await readAddenda(deps.evidence, spec.runId)).flatMap((a) => a.files.map((f) => f.file))]);
  const mine = new Set([record, ...amended].map((o) => o.key));
  const leftovers = (await listEvidence(deps.evidence, `${spec.runId}/`)).filter((o) => {
    const f = o.key.slice(spec.runId.length + 1);
    return !mine.has(o.key) && !sealed.has(f) && (/^12_rollback_manual_[^/]+\.json$/.test(f) || f.startsWith('superseded/'));
  });
  await appendAddendum(spec.runId, [record, ...amended, ...leftovers], `rollback by hand by ${who}`, deps);
  return out;
}

/** The rollbacks by hand a run's addenda record, oldest first (read by key: status never lists or hashes the run's files). */
export async function manualRollbacks(runId: string, evidence: Pick<Deps['evidence'], 'get'>): Promise<{ by: string; at: string; result: string }[]> {
  const keys = (await readAddenda(evidence, runId)).flatMap((a) => a.files.map((f) => f.file)).filter((f) => /^12_rollback_manual_[^/]+\.json$/.test(f)).map((f) => `${runId}/${f}`);
  const out: { by: string; at: string; result: string }[] = [];
  for (const k of keys) {
    const r = await readEvidenceJson<StepRecord>(evidence, k);
    if (r) out.push({ by: r.owner, at: r.timestamp_utc, result: r.result });
  }
  return out;
}

/**
 * A rollback by hand after Summary: summary.md, report.html and (seed 003) 09_rollback_or_no_rollback.log say so.
 * Each earlier version is kept under superseded/<record>/ (its hash is the one the manifest holds); the new
 * versions are listed by the addendum, which supersedes the manifest's entries.
 */
async function amendAfterRollback(runId: string, record: EvidenceObject, deps: Pick<Deps, 'evidence'>): Promise<EvidenceObject[]> {
  const rec = await readEvidenceJson<StepRecord>(deps.evidence, record.key);
  if (!rec) return [];
  const stem = record.key.slice(runId.length + 1).replace(/\.json$/, '');
  const line = `Rolled back by hand by ${rec.owner} at ${rec.timestamp_utc}: ${rec.result} (${stem}.json).`;
  const edits: [string, (old: string) => string, string][] = [
    ['summary.md', (old) => `${old.trimEnd()}\n\n## Rolled back by hand\n\n${mdText(line)}\n`, 'text/markdown; charset=utf-8'],
    ['report.html', (old) => old.replace(/<body[^>]*>/, (m) => `${m}<section class="rolled-back" role="alert"><h2>Rolled back by hand</h2><p>${escapeHtml(line)}</p></section>`), 'text/html; charset=utf-8'],
    ['09_rollback_or_no_rollback.log', (old) => seed003AfterManualRollback(old, rec), 'text/plain; charset=utf-8'],
  ];
  const written: EvidenceObject[] = [];
  for (const [file, edit, type] of edits) {
    const old = await deps.evidence.get(`${runId}/${file}`);
    if (!old) continue;
    const text = Buffer.from(old).toString('utf8');
    written.push(await deps.evidence.put(`${runId}/superseded/${stem}/${file}`, text, type));
    written.push(await deps.evidence.put(`${runId}/${file}`, edit(text), type));
  }
  return written;
}

export async function rollbackStage(s: StageState, deps: Deps) {
  if (s.manual) {
    const out = await manualRollback(s.spec, s.manual.by, deps);
    return { ok: out.ok, actions: out.actions.length, manual: true };
  }
  return recorded<{ waiting: ActionWaiting } | { ok: boolean; actions: number }>(deps, who(s), 'rollback', 'rollback actions', async () => {
    await renewLease(s, deps);
    const entries = [...(await phaseRollbackEntries(s.spec, deps)), ...rollbackEntries(s.spec)];
    const out = await runRollback(s.spec, deps, { waiting: waitingIn(s, 'rollback'), entries });
    if (out.waiting) return { value: { waiting: out.waiting }, pending: true as const };
    return { value: { ok: out.ok, actions: out.actions.length }, result: out.ok ? 'PASS' : 'FAIL', details: { ok: out.ok, actions: out.actions } };
  });
}

export async function classifyStage(s: EndState, deps: Deps, platform: 'aws' | 'local' = 'aws'): Promise<ClassifyOutcome> {
  const w = endWho(s);
  // A rollback that did not report ok (still waiting when an error caught it) did not succeed.
  const rollback = s.results.rollback ? { ok: s.results.rollback.ok === true } : undefined;
  const out = classify({
    error: s.error ?? { Error: 'Unknown', Cause: 'Classify was reached without an error' },
    results: s.results,
    owner: w.owner,
    now: deps.clock.now(),
    rollback: rollback ?? (s.rollbackError ? { ok: false } : undefined),
    platform,
  });
  await deps.evidence.put(
    stepKey(w.runId, 'classify'),
    canonicalJson(stepRecord({ step: 'classify', command: 'classify NO_GO', owner: w.owner, now: deps.clock.now(), result: 'FAIL', details: { ...out, rollbackError: s.rollbackError } })),
    'application/json',
  );
  return out;
}

/** Summary must not fail on a record it cannot read: the report shows what is readable. */
const json = <T>(deps: Deps, key: string): Promise<T | undefined> => readEvidenceJson<T>(deps.evidence, key).catch(() => undefined);

/** The run's records read back from evidence: the report and the seed 003 files show what an auditor will find, not what the run believed. */
async function readRecords(w: Who, files: readonly EvidenceObject[], deps: Deps) {
  const rel = (k: string) => k.slice(w.runId.length + 1);
  const read = <T>(keys: EvidenceObject[]) => mapLimit(keys, 16, async (f) => ({ file: rel(f.key), rec: await json<T>(deps, f.key) }));
  const steps = (await read<StepRecord>(files.filter((x) => /^\d\d_[a-z_]+\.json$/.test(rel(x.key)))))
    .filter((r) => r.rec?.step)
    .map((r) => ({ ...r.rec!, file: r.file }));
  // Phases: each record, and the last polls of its soak (the monitor series the report charts).
  const phaseRecords = (await read<Record<string, unknown>>(files.filter((x) => /^13_phases\/\d\d_[a-z0-9_-]+\.json$/.test(rel(x.key)))))
    .filter((r) => r.rec)
    .map((r) => ({ ...r.rec!, file: r.file }));
  const pollFiles = files.filter((x) => /^13_phases\/\d\d_[a-z0-9_-]+\/polls\/\d+\.json$/.test(rel(x.key))).sort((a, b) => (a.key < b.key ? -1 : 1));
  const byPhase = new Map<string, EvidenceObject[]>();
  for (const f of pollFiles) {
    const dir = rel(f.key).split('/polls/')[0]!;
    byPhase.set(dir, [...(byPhase.get(dir) ?? []), f]);
  }
  const polls = (await read<PhasePoll>([...byPhase.values()].flatMap((list) => list.slice(-PHASE_CHART_POLLS)))).map((r) => r.rec).filter((p): p is PhasePoll => !!p?.windows);
  type ChunkRecord = { task: string; index: number; rows: number; ms: number };
  const chunks = (await read<ChunkRecord>(files.filter((x) => rel(x.key).startsWith('05_backfill/')).slice(0, 1000)))
    .map((r) => r.rec)
    .filter((c): c is ChunkRecord => !!c && typeof c.rows === 'number');
  return { steps, chunks, phases: phaseRecords, polls };
}

type Records = Awaited<ReturnType<typeof readRecords>>;

async function buildReport(
  w: Who,
  o: { go: boolean; classification: string; reason: string; c?: ClassifyOutcome; attempts: AttemptRecord[] },
  s: EndState,
  rec: Records,
  files: { file: string; sha256: string }[],
  deps: Deps,
): Promise<string> {
  const { steps, chunks, phases, polls } = rec;
  const { gates, verify } = s.results;
  const methodReports = (await json<{ table: string; diffs: { key: string; kind: string; columns?: string[] }[] }[]>(deps, gateKey(w.runId, 'report.json'))) ?? [];
  const approval = (await json<StepRecord>(deps, stepKey(w.runId, 'goNoGo')))?.details;
  const scale = steps.find((r) => r.step === EVIDENCE_STEPS.gates)?.details?.scale as ReportInput['scale'];
  return renderReport({
    runId: w.runId,
    owner: w.owner,
    outcome: o.go ? 'GO' : 'NO_GO',
    classification: o.classification,
    reason: o.reason,
    generatedUtc: deps.clock.now().toISOString(),
    steps,
    ...(o.c ? { classify: o.c } : {}),
    counts: (gates?.tables ?? []).map((t) => ({ table: t.table, expected: t.expected, actual: t.actual, verdict: t.verdict })),
    methodTables: gates?.methodTables ?? [],
    diffs: methodReports.flatMap((t) => t.diffs.map((d) => ({ table: t.table, ...d }))),
    assertions: (verify?.assertions ?? []).map((a) => ({ name: a.name, ok: a.ok, violations: a.violations })),
    chunks,
    ...(approval ? { approval } : {}),
    files,
    ...(scale ? { scale } : {}),
    attempts: o.attempts,
    phases: phases as unknown as ReportInput['phases'],
    polls,
  });
}

/**
 * Every backfill chunk's result: an inline phase's are in the state; a Distributed Map phase's state holds only its
 * Map Run and where ResultWriter put the results (SUCCEEDED_<n>.json under the phase's results prefix, in the work
 * bucket), read here.
 */
export interface SummaryOutcome {
  readonly outcome: 'GO' | 'NO_GO';
  readonly classification: string;
  readonly reason: string;
  readonly summaryKey: string;
  readonly manifestKey: string;
  readonly manifestRoot: string;
  readonly attempts: number;
}

/** What Summary keeps of the files it reads, so none is read twice (records, reports: a few MiB; past it a file is read again). */
const SUMMARY_READ_BYTES = 64 * 1024 * 1024;

export async function summaryStage(s: EndState, given: Deps): Promise<SummaryOutcome> {
  const deps: Deps = { ...given, evidence: readOnce(given.evidence, SUMMARY_READ_BYTES) };
  const w = endWho(s);
  // The run is over (GO, NO_GO, rolled back): its databases are free for the next run. Only this run's lease is
  // released, and only by an execution that works on it (one refused for naming another run releases nothing).
  const parsed = RunSpec.safeParse(s.spec);
  if (parsed.success && parsed.data.runId === w.runId) await releaseRunLease(parsed.data, leaseHolder({ spec: parsed.data }), deps.sql).catch((e) => deps.logger.warn('run lease not released', { error: errorMessage(e) }));
  const c = s.results.classify;
  // A progressive cutover is GO only once its last phase has soaked and closed (Phase said done).
  const phases = parsed.success ? parsed.data.phases.length : 0;
  const phasesDone = phases === 0 || (s.results.phase as { done?: boolean } | undefined)?.done === true;
  const go = !c && !s.error && s.results.smoke !== undefined && s.results.goNoGo !== undefined && phasesDone;
  const classification = go ? 'GO' : (c?.classification ?? 'INTERNAL_ERROR');
  const reason = go
    ? `every gate passed, approved, cut over, smoke checks passed${phases ? `, ${phases} phase(s) applied and soaked` : ''}`
    : (c?.reason ?? s.classifyError?.Cause ?? (phasesDone ? 'run did not complete' : `the run ended before its ${phases} phase(s) had soaked`));
  const summaryKey = summaryMdKey(w.runId);
  const attempts = await readAttempts(w.runId, deps).catch(() => []);
  const md = renderSummary({ runId: w.runId, owner: w.owner, outcome: go ? 'GO' : 'NO_GO', classification, reason, classify: c, results: s.results, now: deps.clock.now(), attempts: attempts.length || undefined });
  await deps.evidence.put(summaryKey, md, 'text/markdown; charset=utf-8');
  await deps.evidence.put(
    stepKey(w.runId, 'summary'),
    canonicalJson(stepRecord({ step: 'summary', command: 'summary', owner: w.owner, now: deps.clock.now(), result: go ? 'PASS' : 'FAIL', details: { outcome: go ? 'GO' : 'NO_GO', classification, reason, attempts: attempts.length } })),
    'application/json',
  );
  // Listed once, each file read at most once (none a digest ledger names); what Summary writes after that is added from the digests its own puts return.
  const files = new Map((await listEvidence(deps.evidence, `${w.runId}/`)).map((f) => [f.key, f]));
  const put = async (name: string, body: string, type: string) => {
    const o = await deps.evidence.put(`${w.runId}/${name}`, body, type);
    files.set(o.key, o);
  };
  const rec = await readRecords(w, [...files.values()], deps);
  const profile = (s.spec as { evidence?: { profile?: string } } | undefined)?.evidence?.profile;
  if (profile === 'seed004') {
    const spec = s.spec as Partial<RunSpec> | undefined;
    const stateStore = spec?.verify?.integrity?.stateStore;
    for (const f of seed004Files({ steps: new Map(rec.steps.map((r) => [r.step, r])), nowUtc: deps.clock.now().toISOString(), ...(stateStore ? { stateStore } : {}) }))
      await put(f.name, f.body, f.name.endsWith('.patch') ? 'text/x-diff; charset=utf-8' : 'text/plain; charset=utf-8');
  }
  if (profile === 'seed003') {
    const { steps, chunks } = rec;
    const input = { runId: w.runId, owner: w.owner, outcome: go ? ('GO' as const) : ('NO_GO' as const), classification, nowUtc: deps.clock.now().toISOString(), chunks, summaryMd: md };
    for (const f of seed003Files({ ...input, steps: new Map(steps.map((r) => [r.step, r])) })) await put(f.name, f.body, f.name.endsWith('.md') ? 'text/markdown; charset=utf-8' : 'text/plain; charset=utf-8');
  }
  const listed = () =>
    [...files.values()].filter((f) => !isUnlisted(f.key.slice(w.runId.length + 1))).map((f) => ({ file: f.key.slice(w.runId.length + 1), sha256: f.sha256, size: f.size }));
  await put('report.html', await buildReport(w, { go, classification, reason, c, attempts }, s, rec, listed(), deps), 'text/html; charset=utf-8');
  const built = buildManifest(w.runId, listed());
  // Signed: a chain rebuilt over forged files cannot carry a valid signature without the key.
  const manifest = deps.signer ? { ...built, signature: await signRoot(deps.signer, w.runId, 'manifest', built.root) } : built;
  const manifestFile = manifestKey(w.runId);
  await deps.evidence.put(manifestFile, canonicalJson(manifest), 'application/json');
  return { outcome: go ? 'GO' : 'NO_GO', classification, reason, summaryKey, manifestKey: manifestFile, manifestRoot: manifest.root, attempts: attempts.length };
}
