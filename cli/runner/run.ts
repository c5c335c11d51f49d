/**
 * The local runner: executes statemachines/cutover.asl.json as deployed on cutline's engine (cli/engine), every
 * Lambda task running the same handler code the Lambda runs, wired to local adapters (PGlite / postgres / mysql,
 * evidence folder, local shell, parameters file, approval page).
 */
import { specKey, stepKey } from '../../lambdas/core/evidence-layout';
import { access, copyFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LocalApprovalMode } from '../../lambdas/adapters/local/approval/channel';
import type { BackupTarget } from '../../lambdas/adapters/local/backups';
import type { DataApiServerOptions } from '../../lambdas/adapters/local/data-api-server';
import { localRunDeps } from '../../lambdas/adapters/local/deps';
import { FsEvidenceStore } from '../../lambdas/adapters/local/evidence-fs';
import { defaultSigningKeyPath, FileSigner } from '../../lambdas/adapters/local/signer-file';
import { redactUrl } from '../../lambdas/adapters/local/sql-common';
import { readAttempts, resumeExecutionName } from '../../lambdas/core/attempts';

import { readEvidenceJson } from '../../lambdas/core/evidence';
import { readGateEstimate } from '../../lambdas/core/compare/stage';
import { LOCAL_CHILD_CONCURRENCY, renderEstimate } from '../../lambdas/core/estimate';
import { specAsRun, specChangeProblem } from '../../lambdas/core/pipeline';
import { chunkLine, chunkProgress } from '../progress';
import type { DatabaseRef, RunSpec } from '../../lambdas/core/spec';
import { STATES, type TaskKey } from '../../lambdas/core/states';
import type { HandlerContext } from '../../lambdas/handlers/context';
import { runStage } from '../../lambdas/handlers/define';
import type { Signer, SqlClient } from '../../lambdas/ports';
import { Engine, type ExecutionOutcome } from '../engine/engine';
import { isTerminal } from '../engine/errors';
import { HISTORY_EVENT_LIMIT, type HistoryEvent, JsonlHistoryFile } from '../engine/history';
import type { Json } from '../engine/json-path';
import { archiveHistory, historyFileOf, MapRunFiles } from '../local-history';
import { loopbackDataApi, serverEngineOfUrl } from '../loopback-data-api';
import { takeRunnerLock } from '../runner-lock';
import { SpecFileError } from '../spec-file';
import { applyUrlOverrides, openLocalDatabases } from './databases';
import { FUNCTIONS, substitutedDefinition, withFunctionTimeout } from './definition';


/** A local bucket: the folder that stands for it and the store that writes there. */
interface LocalBucket {
  readonly root: string;
  readonly store: FsEvidenceStore;
}

/** The store and key of an object of a substituted bucket name (the evidence and the work bucket; no other exists). */
function bucketObject(buckets: Readonly<Record<string, LocalBucket>>, bucket: string, key: string): { store: FsEvidenceStore; key: string } {
  const b = buckets[bucket];
  if (!b) throw Object.assign(new Error(`NoSuchBucket: ${bucket} (locally only ${Object.keys(buckets).join(' and ')} exist)`), { name: 'NoSuchBucket' });
  return { store: b.store, key: path.isAbsolute(key) ? path.relative(b.root, key) : key };
}

export interface LocalRunOptions {
  /** The raw spec (paths already resolved, env expanded). */
  readonly spec: unknown;
  readonly sourceUrl?: string;
  readonly targetUrl?: string;
  readonly evidenceDir?: string;
  readonly workDir?: string;
  /** The key that signs the manifest root; outside the evidence folder. Default: $CUTLINE_SIGNING_KEY or ~/.config/cutline/signing-key.pem. */
  readonly signingKey?: string;
  readonly approval: LocalApprovalMode;
  readonly port?: number;
  /** Apply spec.local.seed even to a non-embedded database. */
  readonly seed?: boolean;
  readonly out?: (line: string) => void;
  /** Pre-opened clients by URL (the demo shares its embedded database with its app). */
  readonly clients?: Record<string, SqlClient>;
  /** Leave the databases open and return them (tests inspect them after the run). */
  readonly keepOpen?: boolean;
  /** Called for each database once it is open and seeded. */
  readonly onOpen?: (url: string, client: SqlClient) => void | Promise<void>;
  /** Called with the approval page URL once it listens (tests drive the page). */
  readonly onApprovalPage?: (baseUrl: string) => void;
  /**
   * Reach every database (PostgreSQL, MySQL / MariaDB, the embedded one) through the production Data API adapter and
   * a loopback Data API with the service's limits (45 s per call, 1 MiB per response, 64 KB per row, pooled
   * connections); tests may lower the limits. Default: on; false: direct clients.
   */
  readonly dataApi?: boolean | DataApiServerOptions;
  /** Shorter function timeouts in seconds (tests); never longer than the deployed ones (the stage registry). */
  readonly functionTimeouts?: Partial<Record<TaskKey, number>>;
  /** A lower history quota (tests); never above Step Functions' 25,000 events. */
  readonly historyEventLimit?: number;
  /**
   * Resume a run that ended (`--resume`) as AWS does (`cutline resume`): a new execution named after the run
   * (resumeExecutionName), which ValidateSpec accepts only for a run a resume can clear.
   */
  readonly resume?: boolean;
}

export interface LocalRunResult {
  readonly runId: string;
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly outcome: 'GO' | 'NO_GO';
  readonly classification: string;
  readonly reason: string;
  readonly evidenceDir: string;
  readonly output: unknown;
  /** The execution's history length as Step Functions would write it (its quota: 25,000). */
  readonly historyEvents: number;
  /** Open clients by URL, only with keepOpen (the caller closes them). */
  readonly clients: Record<string, SqlClient>;
}

/** Everything a run reads, checked before anything is written: a bad input changes nothing and uses up no runId. */
async function preflightInputs(raw: Record<string, unknown>, evidence: FsEvidenceStore): Promise<RunSpec> {
  const r = specAsRun(raw, 'local');
  if (!r.ok) throw new SpecFileError(`run spec is invalid (${r.problems.length} problem(s)); nothing was run:\n${r.problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`);
  const spec = r.spec;
  const missing: string[] = [];
  const exists = (f: string) => access(f).then(() => true, () => false);
  for (const [i, f] of (spec.local?.seed ?? []).entries()) if (!(await exists(f))) missing.push(`local.seed[${i}]: ${f} does not exist; expected a SQL file`);
  if (spec.local?.parameters && !(await exists(spec.local.parameters))) missing.push(`local.parameters: ${spec.local.parameters} does not exist; expected a JSON file of parameter values`);
  for (const [i, t] of spec.backfill.tasks.entries())
    for (const [j, f] of (t.load?.files ?? []).entries()) if (!/^s3:\/\//.test(f) && !(await exists(f))) missing.push(`backfill.tasks[${i}].load.files[${j}]: ${f} does not exist; expected a ${t.load!.format} file`);
  for (const [name, loc] of [['migrations.location', spec.migrations?.location], ['migrations.contractLocation', spec.migrations?.contractLocation]] as const)
    if (loc && loc !== 'bundled' && !/^s3:\/\//.test(loc) && !(await exists(loc))) missing.push(`${name}: ${loc} does not exist; expected a folder of V<n>__<name>.sql files`);
  if (missing.length) throw new SpecFileError(`${missing.length} file(s) the spec names are missing; nothing was run:\n${missing.map((m) => `  ${m}`).join('\n')}`);
  const changed = await specChangeProblem(spec, { evidence });
  if (changed) throw new SpecFileError(changed);
  return spec;
}

/** The Wait states of the jumpbox command loops (bulk copy, cutover, rollback). */
const COMMAND_WAITS = new Set<string>([STATES.commandWait, STATES.cutoverCommandWait, STATES.rollbackCommandWait, STATES.phaseCommandWait]);

export async function runLocal(opts: LocalRunOptions): Promise<LocalRunResult> {
  const out = opts.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const raw = applyUrlOverrides(opts.spec, opts.sourceUrl, opts.targetUrl);
  // A password in a database URL never leaves this process: the run (its input, history and evidence) sees the URL with
  // the password redacted, and the databases are opened with the real one and found again under the redacted form.
  const safe = structuredClone(raw);
  for (const side of ['source', 'target']) if (typeof safe?.[side]?.url === 'string') safe[side].url = redactUrl(safe[side].url);
  const evidenceRoot = path.resolve(opts.evidenceDir ?? 'evidence');
  const evidence = new FsEvidenceStore(evidenceRoot);
  const spec = await preflightInputs(safe, evidence);
  const runId = spec.runId;
  // Opened before the run: a key inside the evidence folder is refused before anything is written.
  const signer = new FileSigner(opts.signingKey ?? defaultSigningKeyPath(), evidenceRoot);
  // One runner per run; a lock left by a killed runner is taken over (that is a resume).
  const lock = await takeRunnerLock(evidenceRoot, runId);
  try {
    return await runLocked({ ...opts, signer }, raw, safe, runId, evidenceRoot, evidence, out);
  } finally {
    await lock.release();
  }
}

async function runLocked(
  opts: LocalRunOptions & { signer: Signer },
  // biome-ignore lint/suspicious/noExplicitAny: the raw spec is untyped until the handlers parse it
  raw: Record<string, any>,
  // biome-ignore lint/suspicious/noExplicitAny: as above; the spec the run sees, passwords redacted
  safe: Record<string, any>,
  runId: string,
  evidenceRoot: string,
  evidence: FsEvidenceStore,
  out: (line: string) => void,
): Promise<LocalRunResult> {
  const workDir = path.resolve(opts.workDir ?? '.cutline', runId);
  await mkdir(workDir, { recursive: true });
  // The work bucket (Map results), beside the runs' work folders: not evidence, never in the manifest.
  const workRoot = path.resolve(opts.workDir ?? '.cutline', 'work-bucket');
  const work = new FsEvidenceStore(workRoot);
  // The history of an earlier, interrupted attempt is kept beside this one's.
  const attempts = (await readAttempts(runId, { evidence })).length;
  await archiveHistory(path.join(evidenceRoot, runId), attempts || 1);
  // A killed run goes on under its own name (locally names can be reused); a resume of an ended run is a new execution, as in AWS.
  const executionName = opts.resume ? resumeExecutionName(runId, attempts + 1) : runId;
  const { factory, opened } = await openLocalDatabases(raw, opts, out);
  // Through the Data API (the default) the handlers reach each database as the Lambdas do (the direct clients stay for seeding and tests).
  const viaDataApi: Record<string, SqlClient> = {};
  const closeDatabases = async () => {
    await Promise.all(Object.values(viaDataApi).map((c) => c.close().catch(() => undefined)));
    if (opts.keepOpen) return;
    // The direct clients the loopback replaced for the handlers are no longer in the factory.
    if (Object.keys(viaDataApi).length) await Promise.all(Object.values(opened).map((c) => c.close().catch(() => undefined)));
    await factory.closeAll();
  };
  try {
    // By default every database (PostgreSQL, MySQL / MariaDB, the embedded one) is reached as the Lambdas reach Aurora.
    const dataApi = opts.dataApi ?? true;
    if (dataApi)
      for (const url of Object.keys(opened)) {
        const embedded = factory.pglite(url);
        if (!embedded && !serverEngineOfUrl(url) && opts.dataApi === undefined) continue;
        viaDataApi[url] = await loopbackDataApi(url, embedded, dataApi === true ? {} : dataApi);
        out(`${redactUrl(url)}: every statement through the Data API adapter and a loopback Data API (45 s a call, 1 MiB a response, 64 KB a row, pooled connections)`);
      }
  } catch (e) {
    await closeDatabases();
    throw new SpecFileError((e as Error).message);
  }
  for (const side of ['source', 'target']) {
    const url = raw?.[side]?.url;
    const client = typeof url === 'string' ? (viaDataApi[url] ?? opened[url]) : undefined;
    if (client) factory.register(redactUrl(url), client);
  }

  // Parameters: a working copy per run, so the runtime-selector flip never edits the example file;
  // made on the first attempt only: a resume keeps what the run's cutover already flipped.
  const paramsFile = path.join(workDir, 'parameters.json');
  const firstAttempt = !(await evidence.get(specKey(runId)));
  if (typeof raw?.local?.parameters === 'string' && (firstAttempt || !(await access(paramsFile).then(() => true, () => false)))) await copyFile(raw.local.parameters, paramsFile);

  // A backup reads the database directly (pg_dump, mysqldump, the embedded data directory), by the URL the spec names.
  const backupTargets = new Map<string, ReturnType<BackupTarget>>();
  for (const url of Object.keys(opened)) for (const k of [url, redactUrl(url)]) backupTargets.set(k, factory.backupTarget(url));
  const backupTarget = (ref: DatabaseRef) => (ref.url ? backupTargets.get(ref.url) : undefined);
  const alarmsFile = typeof raw?.local?.alarms === 'string' ? path.resolve(raw.local.alarms) : undefined;
  const { deps, tokens, page, channel } = localRunDeps({ sql: (ref) => factory.get(ref), evidence, work, workDir, signer: opts.signer, approval: opts.approval, out, backupTarget, ...(alarmsFile ? { alarmsFile } : {}) });
  const baseUrl = await page.start(opts.port ?? 0);
  opts.onApprovalPage?.(baseUrl);

  const ctx: HandlerContext = { deps, platform: 'local', approvalBaseUrl: baseUrl };

  // The deployed definition runs as it is, on cutline's engine (cli/engine): every Task's Lambda is the same handler
  // code, under its function's timeout (the stage registry, the table the CDK construct reads); Step Functions' limits and Map
  // semantics are the engine's. A Lambda still running when its iteration or execution is stopped runs to its end, as
  // in AWS: the runner waits for it before it returns, so nothing writes after the run's end.
  const definition = await substitutedDefinition();
  const inFlight = new Set<Promise<unknown>>();
  const track = <T>(work: Promise<T>) => {
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work)).catch(() => undefined);
    return work;
  };
  // Chunks done of total, rows and since when: the backfill's and the gates' progress lines.
  const counter = () => ({ total: 0, done: 0, rows: 0, start: 0, shown: 0 });
  const bf = counter();
  const gt = counter();
  const after: Partial<Record<TaskKey, (r: unknown) => void>> = {
    backfillPlan: (r) => {
      Object.assign(bf, counter(), { total: (r as { count?: number }).count ?? 0, start: Date.now() });
    },
    backfillChunk: (r) => {
      const c = r as { rows: number; skipped: boolean };
      bf.done++;
      bf.rows += c.rows;
      out(`  ${chunkLine('backfill', chunkProgress(bf.done, bf.total, bf.rows, bf.start, Date.now()))}${c.skipped ? ' (chunk already done: skipped)' : ''}`);
    },
    gatePlan: (r) => {
      const c = r as { count?: number; batchSize?: number };
      if (c.count) out(`  gates: ${c.count} chunks planned${c.batchSize ? `, ${c.batchSize} per child execution` : ''}`);
      // The estimate GatePlan kept (cutline estimate's model), for the operator to hold the run against.
      void readGateEstimate(runId, evidence).then((e) => {
        if (e) for (const l of renderEstimate(e)) out(`  ${l}`);
      });
      Object.assign(gt, counter(), { total: c.count ?? 0, start: Date.now() });
    },
    gateChunk: (r) => {
      const c = r as { t: string; i: number; n: number; s: string; skipped: number; rows: number };
      gt.done += c.n;
      gt.rows += c.rows;
      // A line per batch, or per chunk every second at most (thousands of one-chunk iterations would flood the terminal).
      if (c.n === 1 && Date.now() - gt.shown < 1000 && gt.done < gt.total && c.s === 'MATCH') return;
      gt.shown = Date.now();
      const what = c.n === 1 ? `${c.t}#${c.i}` : `${c.n} chunks from ${c.t}#${c.i}`;
      out(`  ${chunkLine('gates', chunkProgress(gt.done, gt.total, gt.rows, gt.start, Date.now()))}; ${what} ${c.s}${c.skipped ? ` (${c.skipped} checkpointed: skipped)` : ''}`);
    },
  };
  const historyRoot = path.join(evidenceRoot, runId);
  const buckets: Record<string, LocalBucket> = { 'local-EvidenceBucketName': { root: evidenceRoot, store: evidence }, 'local-WorkBucketName': { root: workRoot, store: work } };
  const mapRuns = new MapRunFiles(historyRoot);
  const engine = new Engine(
    {
      invoke: ({ functionArn: arn, payload }) => {
        const key = FUNCTIONS.get(arn);
        if (!key) return Promise.reject(Object.assign(new Error(`Function not found: ${arn}`), { name: 'Lambda.ResourceNotFoundException' }));
        return track(
          withFunctionTimeout(key, (ends) => runStage(key, { ...ctx, remainingMs: () => ends - Date.now() }, payload), opts.functionTimeouts?.[key]).then((r) => {
            after[key]?.(r);
            return r;
          }),
        );
      },
      mintToken: ({ heartbeatSeconds }) => {
        const { token, wait } = tokens.mint(heartbeatSeconds ? { heartbeatMs: heartbeatSeconds * 1000 } : {});
        return { token, wait, expire: () => tokens.expire(token) };
      },
      getObject: async (bucket, key) => {
        const o = bucketObject(buckets, bucket, key);
        const body = await o.store.get(o.key);
        if (!body) throw new Error('NoSuchKey');
        return Buffer.from(body).toString('utf8');
      },
      // The Distributed Map's JSONL items, line by line from the file: a 10^6-chunk plan is never held whole.
      getObjectLines: (bucket, key) => {
        const o = bucketObject(buckets, bucket, key);
        return o.store.lines(o.key);
      },
      putObject: async (bucket, key, body) => {
        const o = bucketObject(buckets, bucket, key);
        await o.store.put(o.key, body, 'application/json');
      },
      history: (ref) => new JsonlHistoryFile(historyFileOf(historyRoot, ref.mapRun)),
      onEvent: (ref, e) => {
        if (ref.mapRun) return mapRuns.child(ref.mapRun.arn, e, ref.mapRun.items);
        if (e.type === 'MapStateStarted') mapRuns.mapStarted((e.mapStateStartedEventDetails as { length: number }).length);
        if (e.type === 'MapRunStarted') mapRuns.started((e.mapRunStartedEventDetails as { mapRunArn: string }).mapRunArn);
        consoleLine(e);
      },
      // Retries come after 50 ms and the jumpbox poll loops wait 200 ms locally, whatever the definition says.
      retryDelayMs: () => 50,
      waitMs: (state, seconds) => (COMMAND_WAITS.has(state) ? 200 : seconds * 1000),
    },
    { historyEventLimit: opts.historyEventLimit ?? HISTORY_EVENT_LIMIT, childConcurrency: LOCAL_CHILD_CONCURRENCY },
  );

  // Console: one line per parent state, its time, and each failure.
  const entered = new Map<string, number>();
  const consoleLine = (e: HistoryEvent) => {
    const t = Date.parse(e.timestamp);
    const d = (e.stateEnteredEventDetails ?? e.stateExitedEventDetails) as { name: string } | undefined;
    const failure = (e.taskFailedEventDetails ?? e.taskTimedOutEventDetails) as { error: string; cause: string } | undefined;
    if (d && (d.name === STATES.backfillChunk || d.name === STATES.gateChunk)) return;
    if (e.type.endsWith('StateEntered') && d) {
      entered.set(d.name, t);
      out(`> ${d.name}`);
    } else if (e.type.endsWith('StateExited') && d) {
      const t0 = entered.get(d.name);
      out(`  ${d.name} done${t0 !== undefined ? ` in ${((t - t0) / 1000).toFixed(2)}s` : ''}`);
    } else if (failure) out(`  failed: ${failure.error}: ${failure.cause.slice(0, 400)}`);
  };

  let outcome: ExecutionOutcome;
  try {
    outcome = await engine.start(definition, safe as Json, {
      arn: `arn:aws:states:local:000000000000:execution:cutline-local:${executionName}`,
      name: executionName,
      stateMachineArn: 'arn:aws:states:local:000000000000:stateMachine:cutline-local',
    }).result;
  } finally {
    // Handlers still running (an aborted iteration's Lambda runs to its end in AWS too) finish before the runner does.
    await Promise.allSettled([...inFlight]);
    await mapRuns.close();
    await page.stop();
    channel.dispose();
    await closeDatabases();
  }
  if (outcome.error && isTerminal(outcome.error)) out(`execution failed: ${outcome.error}: ${outcome.cause} (Step Functions lets no Catch take this error)`);
  const status: LocalRunResult['status'] = outcome.status === 'SUCCEEDED' ? 'SUCCEEDED' : 'FAILED';
  const output = outcome.output;

  // A resume ValidateSpec refused wrote only under its own execution name.
  const wroteAs = executionName !== runId && (await evidence.get(stepKey(executionName, 'summary'))) !== undefined ? executionName : runId;
  const summary = (await readEvidenceJson<{ details: { outcome: 'GO' | 'NO_GO'; classification: string; reason: string } }>(evidence, stepKey(wroteAs, 'summary')))?.details;
  const result: LocalRunResult = {
    runId: wroteAs,
    status,
    outcome: summary?.outcome ?? 'NO_GO',
    classification: summary?.classification ?? 'INTERNAL_ERROR',
    reason: summary?.reason ?? 'the run ended without a summary',
    evidenceDir: path.join(evidenceRoot, wroteAs),
    output,
    historyEvents: outcome.events,
    clients: opts.keepOpen ? opened : {},
  };
  out('');
  out(`${result.outcome === 'GO' ? 'GO' : `NO_GO / ${result.classification}`}: ${result.reason}`);
  out(`evidence: ${path.relative(process.cwd(), result.evidenceDir) || result.evidenceDir}/ (summary.md, report.html, NN_<step>.json, manifest.json)`);
  out(`history: ${outcome.events.toLocaleString('en-US')} events (Step Functions' quota: ${HISTORY_EVENT_LIMIT.toLocaleString('en-US')} per execution)`);
  const root = path.relative(process.cwd(), path.dirname(result.evidenceDir)) || '.';
  out(`check it: npm run cutline -- evidence verify ${wroteAs}${root === 'evidence' ? '' : ` --evidence-dir ${root}`}`);
  return result;
}

export function defaultApprover(): string {
  return `${os.userInfo().username}@${os.hostname()}`;
}
