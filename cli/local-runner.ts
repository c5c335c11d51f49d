/**
 * The local runner: executes statemachines/cutover.asl.json with
 * aws-local-stepfunctions, every Task state overridden by name with the same
 * handler code the Lambda runs, wired to local adapters (PGlite / postgres /
 * mysql, evidence folder, local shell, parameters file, approval page).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { access, copyFile, mkdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExecutionError, StateMachine } from 'aws-local-stepfunctions';
import {
  LocalApprovalChannel,
  type LocalApprovalMode,
  LocalApprovalPage,
  LocalTaskTokens,
  MemoryApprovalStore,
  TaskFailure,
} from '../lambdas/adapters/local/approval-local';
import { LocalShellRunner } from '../lambdas/adapters/local/command-shell';
import { FsEvidenceStore } from '../lambdas/adapters/local/evidence-fs';
import { FileParameterStore } from '../lambdas/adapters/local/parameters-file';
import { fetchHttp, silentLogger, systemClock } from '../lambdas/adapters/local/runtime';
import { DirScriptSource } from '../lambdas/adapters/local/scripts-dir';
import { defaultSigningKeyPath, FileSigner } from '../lambdas/adapters/local/signer-file';
import { LocalSqlFactory } from '../lambdas/adapters/local/sql-factory';
import { redactUrl } from '../lambdas/adapters/local/sql-common';
import { canonicalJson, readEvidenceJson } from '../lambdas/core/evidence';
import { splitStatements } from '../lambdas/core/sql-lexer';
import { OTHER_SUBSTITUTIONS, STATES, TASKS, type TaskKey } from '../lambdas/core/states';
import { chunkLine, chunkProgress } from '../lambdas/core/progress';
import type { HandlerContext } from '../lambdas/handlers/define';
import { HANDLERS } from '../lambdas/handlers/index';
import type { Deps, ProgressEvent, Signer, SqlClient } from '../lambdas/ports';
import { readAttempts } from '../lambdas/core/attempts';
import { withReadRetries } from '../lambdas/core/retry';
import { specAsRun, specChangeProblem, specKey } from '../lambdas/core/pipeline';
import type { RunSpec } from '../lambdas/core/spec';
import { AwsHistoryCount, compactEvent, HISTORY_EVENT_LIMIT } from './history-limit';
import { MapIterations } from './map-iterations';
import { takeRunnerLock } from './runner-lock';
import { SpecFileError } from './spec-file';

export const ASL_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../statemachines/cutover.asl.json');

/** The ASL as Step Functions gets it, every ${XxxFunctionArn} replaced by a Lambda ARN. */
export async function substitutedDefinition(): Promise<{ States: Record<string, Record<string, unknown>> }> {
  let text = await readFile(ASL_FILE, 'utf8');
  for (const t of Object.values(TASKS)) text = text.replaceAll(`\${${t.substitution}}`, `arn:aws:lambda:us-east-1:000000000000:function:cutline-${t.handler}`);
  for (const sub of OTHER_SUBSTITUTIONS) text = text.replaceAll(`\${${sub}}`, `local-${sub}`);
  const left = /\$\{([A-Za-z]+)\}/.exec(text);
  if (left) throw new Error(`ASL substitution \${${left[1]}} has no local value`);
  return JSON.parse(text);
}

/** A failure Step Functions raises itself and no Catch takes (States.Runtime, States.DataLimitExceeded): it ends the execution. */
export class UncatchableError extends Error {
  constructor(
    override readonly name: 'States.Runtime' | 'States.DataLimitExceeded',
    message: string,
  ) {
    super(message);
  }
}

/** Step Functions' limit on a state's input or output (and a task's result), in UTF-8 bytes. */
export const STATE_PAYLOAD_LIMIT = 262_144;

/**
 * A state's payload as Step Functions would hold it, in bytes. Locally the Distributed Map runs inline: its items
 * (which AWS reads from S3 with ItemReader) and its results (which ResultWriter puts in S3) are in the local state
 * only, so they are not counted.
 */
export function awsPayloadBytes(value: unknown): number {
  // biome-ignore lint/suspicious/noExplicitAny: any state shape
  const v = value as any;
  const plan = v?.results?.gatePlan;
  if (plan?.distributed && (plan.chunks || v.results.gateChunk)) {
    const { chunks: _items, ...rest } = plan;
    const { gateChunk: _results, ...results } = v.results;
    return Buffer.byteLength(JSON.stringify({ ...v, results: { ...results, gatePlan: rest, ...(v.results.gateChunk ? { gateChunk: { ResultWriterDetails: { Bucket: 'b', Key: 'k' } } } : {}) } }));
  }
  return Buffer.byteLength(JSON.stringify(value ?? null));
}

/** `$.a.b.c` against a value, as Step Functions resolves a reference path (the only form our *Path fields use). */
function referencePath(value: unknown, p: string): unknown {
  if (!/^\$(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(p)) throw new Error(`reference path ${p} is not of the form $.a.b; the local engine layer supports only that form`);
  let v: unknown = value;
  for (const k of p.split('.').slice(1)) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

type GoNoGoPaths = { TimeoutSecondsPath?: string; HeartbeatSecondsPath?: string };
let deployedGoNoGo: GoNoGoPaths | undefined;
/** GoNoGo's paths as deployed, read on first use (not at start-up of every CLI command). */
const goNoGoPaths = (): GoNoGoPaths =>
  (deployedGoNoGo ??= (JSON.parse(readFileSync(ASL_FILE, 'utf8')) as { States: Record<string, GoNoGoPaths> }).States[STATES.goNoGo]!);

/**
 * The GoNoGo timeout and heartbeat, read from its state input through the deployed definition's paths, with Step
 * Functions' rules: each must be a positive integer, and the heartbeat smaller than the timeout; otherwise the state
 * fails with States.Runtime.
 */
export function goNoGoTimers(stateInput: unknown): { timeoutSeconds: number; heartbeatSeconds?: number } {
  const read = (field: 'TimeoutSecondsPath' | 'HeartbeatSecondsPath') => {
    const p = goNoGoPaths()[field];
    if (!p) return undefined;
    const v = referencePath(stateInput, p);
    if (v === undefined) throw new UncatchableError('States.Runtime', `${field} (${p}) does not point to a value in the GoNoGo input`);
    if (!Number.isInteger(v) || (v as number) < 1) throw new UncatchableError('States.Runtime', `${field} (${p}) is ${JSON.stringify(v)}; expected a positive integer`);
    return v as number;
  };
  const timeoutSeconds = read('TimeoutSecondsPath') ?? 99_999_999;
  const heartbeatSeconds = read('HeartbeatSecondsPath');
  if (heartbeatSeconds !== undefined && heartbeatSeconds >= timeoutSeconds)
    throw new UncatchableError('States.Runtime', `HeartbeatSecondsPath (${goNoGoPaths().HeartbeatSecondsPath}) is ${heartbeatSeconds}; expected less than the timeout (${timeoutSeconds})`);
  return { timeoutSeconds, ...(heartbeatSeconds !== undefined ? { heartbeatSeconds } : {}) };
}

/** The definition for aws-local-stepfunctions (Task resources are overridden by state name). */
export async function loadLocalDefinition(deployed?: Awaited<ReturnType<typeof substitutedDefinition>>): Promise<Record<string, unknown>> {
  const def = structuredClone(deployed ?? (await substitutedDefinition()));
  // Step Functions reads TimeoutSecondsPath from the state input; aws-local-stepfunctions reads
  // it from the effective input (after Parameters). Point it into the Payload for the local engine.
  const goNoGo = def.States[STATES.goNoGo]!;
  if (typeof goNoGo.TimeoutSecondsPath === 'string') goNoGo.TimeoutSecondsPath = goNoGo.TimeoutSecondsPath.replace(/^\$/, '$.Payload.state');
  // HeartbeatSecondsPath stays: the engine ignores it, and the GoNoGo override implements it (goNoGoTimers).
  // No Distributed Map locally: the same iterations run inline, over the items GatePlan returns.
  const dist = def.States[STATES.gateChunksDistributed]!;
  delete dist.ItemReader;
  delete dist.ResultWriter;
  delete dist.ToleratedFailurePercentagePath;
  dist.ItemsPath = '$.results.gatePlan.chunks';
  (dist.ItemProcessor as { ProcessorConfig: unknown }).ProcessorConfig = { Mode: 'INLINE' };
  return def;
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
  readonly onOpen?: (url: string, client: SqlClient) => void;
  /** Called with the approval page URL once it listens (tests drive the page). */
  readonly onApprovalPage?: (baseUrl: string) => void;
  /** Shorter function timeouts in seconds (tests); never longer than the deployed ones in TASKS. */
  readonly functionTimeouts?: Partial<Record<TaskKey, number>>;
  /** A lower history quota (tests); never above Step Functions' 25,000 events. */
  readonly historyEventLimit?: number;
}

/** A function's timeout: the deployed one (TASKS), or a shorter one asked for; past it, Sandbox.Timedout. */
export async function withFunctionTimeout<T>(key: TaskKey, work: Promise<T>, shorterSeconds?: number): Promise<T> {
  const seconds = Math.min(TASKS[key].timeoutSeconds, shorterSeconds ?? Number.POSITIVE_INFINITY);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TaskFailure('Sandbox.Timedout', `Task timed out after ${seconds.toFixed(2)} seconds`)), seconds * 1000);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
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

/** The spec with --source-url / --target-url applied (engine follows the URL scheme). */
// biome-ignore lint/suspicious/noExplicitAny: the raw spec is untyped until the handlers parse it
export function applyUrlOverrides(spec: unknown, sourceUrl?: string, targetUrl?: string): Record<string, any> {
  // biome-ignore lint/suspicious/noExplicitAny: as above
  const raw = structuredClone(spec) as Record<string, any>;
  if (raw && typeof raw === 'object') {
    if (sourceUrl) raw.source = { ...(raw.source ?? {}), url: sourceUrl, dataApi: undefined };
    if (targetUrl) raw.target = { ...(raw.target ?? raw.source ?? {}), url: targetUrl, dataApi: undefined };
    for (const side of ['source', 'target']) {
      const ref = raw[side];
      if (ref && typeof ref === 'object') {
        if (ref.dataApi === undefined) delete ref.dataApi;
        if (sourceUrl || targetUrl) {
          const u = String(ref.url ?? '');
          ref.engine = /^(mysql|mariadb):/.test(u) ? 'mysql' : /^(pglite|postgres|postgresql):/.test(u) ? 'postgres' : ref.engine;
        }
      }
    }
  }
  return raw;
}

/**
 * Open every database URL the spec names (the Deps port is synchronous), and
 * seed a fresh embedded source (or any source with `seed`). An unreachable
 * database is only a warning here: Preflight reports it.
 */
export async function openLocalDatabases(
  // biome-ignore lint/suspicious/noExplicitAny: the raw spec is untyped until the handlers parse it
  raw: Record<string, any>,
  opts: { clients?: Record<string, SqlClient>; seed?: boolean; onOpen?: (url: string, client: SqlClient) => void },
  out: (line: string) => void,
): Promise<{ factory: LocalSqlFactory; opened: Record<string, SqlClient> }> {
  const factory = new LocalSqlFactory();
  const opened: Record<string, SqlClient> = {};
  for (const [url, c] of Object.entries(opts.clients ?? {})) factory.register(url, c);
  const urls = [raw?.source?.url, raw?.target?.url].filter((u): u is string => typeof u === 'string');
  const seedFiles: string[] = Array.isArray(raw?.local?.seed) ? raw.local.seed : [];
  for (const url of new Set(urls)) {
    try {
      const fresh = !opts.clients?.[url];
      const client = await factory.open(url);
      const embedded = factory.pglite(url);
      if (fresh && url === raw.source?.url && seedFiles.length && (embedded || opts.seed)) {
        for (const f of seedFiles) {
          const sql = await readFile(f, 'utf8');
          if (embedded) await embedded.exec(sql);
          else {
            // One connection for the whole seed: session settings and temp tables carry over.
            const statements = splitStatements(sql, client.dialect);
            await client.transaction(async (tx) => {
              for (const s of statements) await tx.query(s.sql);
            });
          }
          out(`seeded ${client.label} from ${path.relative(process.cwd(), f)}`);
        }
      }
      opened[url] = client;
      opts.onOpen?.(url, client);
    } catch (e) {
      out(`warning: cannot open ${redactUrl(url)}: ${(e as Error).message.split(url).join(redactUrl(url))}`);
    }
  }
  return { factory, opened };
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
  // The history of an earlier, interrupted attempt is kept beside this one's.
  const previous = await evidence.get(`${runId}/execution-history.json`);
  if (previous) {
    const n = (await readAttempts(runId, { evidence })).at(-1)?.attempt ?? 1;
    await evidence.putIfAbsent(`${runId}/execution-history/attempt-${String(n).padStart(3, '0')}.json`, previous, 'application/json');
  }
  const { factory, opened } = await openLocalDatabases(raw, opts, out);
  for (const side of ['source', 'target']) {
    const url = raw?.[side]?.url;
    if (typeof url === 'string' && opened[url]) factory.register(redactUrl(url), opened[url]);
  }

  // Parameters: a working copy per run, so the runtime-selector flip never edits the example file;
  // made on the first attempt only: a resume keeps what the run's cutover already flipped.
  const paramsFile = path.join(workDir, 'parameters.json');
  const firstAttempt = !(await evidence.get(specKey(runId)));
  if (typeof raw?.local?.parameters === 'string' && (firstAttempt || !(await access(paramsFile).then(() => true, () => false)))) await copyFile(raw.local.parameters, paramsFile);

  const approvalStore = new MemoryApprovalStore();
  const tokens = new LocalTaskTokens();
  const secret = randomBytes(32).toString('hex');
  const pageDeps = { approvalStore, tokens, evidence, clock: systemClock, secret, logger: silentLogger };
  const page = new LocalApprovalPage(pageDeps);
  const baseUrl = await page.start(opts.port ?? 0);
  opts.onApprovalPage?.(baseUrl);
  const channel = new LocalApprovalChannel(opts.approval, pageDeps, out);

  let chunkTotal = 0;
  let chunkDone = 0;
  let chunkRows = 0;
  let chunkStart = 0;
  const progress = (p: ProgressEvent) => out(`  ${p.stage}: ${p.done}/${p.total}${p.message ? ` ${p.message}` : ''}`);

  const deps: Deps = {
    // Reads are retried after a dropped connection in every stage (as the Lambda's Data API client is).
    sql: (ref) => withReadRetries(factory.get(ref), systemClock),
    evidence,
    // Commands keep their state in the run's work folder: a resume polls a command the killed attempt sent.
    commands: new LocalShellRunner('/bin/bash', path.join(workDir, 'commands')),
    parameters: new FileParameterStore(paramsFile),
    approvals: (channels) =>
      channels.map((c) => {
        if (c.type !== 'local') out(`  note: ${c.type} channel is AWS-only; a local run answers on the local page`);
        return channel;
      }).slice(0, 1),
    approvalStore,
    tokens,
    approvalSecret: async () => secret,
    signer: opts.signer,
    scripts: new DirScriptSource(),
    http: fetchHttp,
    clock: systemClock,
    logger: silentLogger,
    progress,
  };
  const ctx: HandlerContext = { deps, platform: 'local', approvalBaseUrl: baseUrl };

  // A failure no Catch may take (States.Runtime) ends the execution, as in AWS: the engine
  // would let the definition's Catch take it, so the engine layer aborts the execution and records the failure.
  let fatal: UncatchableError | undefined;
  let abortRun: (() => void) | undefined;
  const uncatchable = (e: unknown) => {
    if (e instanceof UncatchableError) {
      fatal ??= e;
      abortRun?.();
    }
    return e;
  };
  // Each handler runs under its function's timeout (TASKS, the table the CDK construct reads): past it the task
  // fails with Sandbox.Timedout, as a Lambda function that timed out does. A Task inside a Map whose Map already
  // failed does not run (Step Functions starts no waiting iteration of a failed Map); work in flight is awaited
  // before the run ends, so nothing writes after Summary.
  const deployed = await substitutedDefinition();
  const definition = await loadLocalDefinition(deployed);
  const iterations = new MapIterations(definition as never);
  const events = new AwsHistoryCount(deployed as never, Math.min(HISTORY_EVENT_LIMIT, opts.historyEventLimit ?? HISTORY_EVENT_LIMIT));
  const inFlight = new Set<Promise<unknown>>();
  const invoke = (key: TaskKey, input: unknown, state: string = STATES[key]) => {
    // A state over the limit fails before its task runs (the event check below may see it a moment later).
    const size = awsPayloadBytes(input);
    if (size > STATE_PAYLOAD_LIMIT) return Promise.reject(uncatchable(new UncatchableError('States.DataLimitExceeded', `the input of state ${state} is ${size} bytes; Step Functions allows ${STATE_PAYLOAD_LIMIT}`)));
    const failedMap = iterations.failedMap(state);
    if (failedMap) return Promise.reject(new TaskFailure('States.Runtime', `not started: Map ${failedMap} already failed (a waiting iteration of a failed Map never starts)`));
    const work = withFunctionTimeout(key, HANDLERS[key].run(ctx, input), opts.functionTimeouts?.[key]).catch((e: unknown) => {
      iterations.taskFailed(state, JSON.stringify(input), (e as Error)?.name ?? 'Error');
      throw e;
    });
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work)).catch(() => undefined);
    return work;
  };
  // biome-ignore lint/suspicious/noExplicitAny: the raw spec and ASL JSON are untyped until the handlers parse them
  const overrides: Record<string, (input: any) => Promise<any>> = {};
  for (const key of Object.keys(TASKS) as TaskKey[]) overrides[STATES[key]] = async (input) => JSON.parse(JSON.stringify((await invoke(key, input)) ?? null));
  overrides[STATES.backfillPlan] = async (input) => {
    const r = (await invoke('backfillPlan', input)) as { phases: unknown[][] };
    chunkTotal = r.phases.reduce((n, p) => n + p.length, 0);
    chunkDone = 0;
    chunkRows = 0;
    chunkStart = Date.now();
    return r;
  };
  overrides[STATES.backfillChunk] = async (input) => {
    const r = (await invoke('backfillChunk', input)) as { rows: number; skipped: boolean };
    chunkDone++;
    chunkRows += r.rows;
    out(`  ${chunkLine('backfill', chunkProgress(chunkDone, chunkTotal, chunkRows, chunkStart, Date.now()))}${r.skipped ? ' (chunk already done: skipped)' : ''}`);
    return r;
  };
  // GatePlan: locally the items always travel inline (the Distributed Map is rewritten to inline).
  overrides[STATES.gatePlan] = async (input) => {
    const r = (await invoke('gatePlan', input)) as { distributed: boolean; chunks?: unknown[]; count: number };
    if (r.distributed && !r.chunks) {
      r.chunks = (await readEvidenceJson<unknown[]>(evidence, `${input.spec.runId}/07_gates/items.json`)) ?? [];
    }
    if (r.count) out(`  gates: ${r.count} chunks planned`);
    return JSON.parse(JSON.stringify(r));
  };
  let gateDone = 0;
  const gateChunk = async (input: unknown, state: string) => {
    const r = (await invoke('gateChunk', input, state)) as { t: string; i: number; s: string; skipped: boolean };
    gateDone++;
    out(`  gate chunk ${gateDone}: ${r.t}#${r.i} ${r.s}${r.skipped ? ' (checkpoint: skipped)' : ''}`);
    return r;
  };
  overrides[STATES.gateChunk] = (input) => gateChunk(input, STATES.gateChunk);
  overrides[STATES.gateChunkDistributed] = (input) => gateChunk(input, STATES.gateChunkDistributed);
  // GoNoGo: mint a local task token, run the same handler (stores it, delivers the link), then wait for the answer.
  overrides[STATES.goNoGo] = async (input) => {
    let timers: ReturnType<typeof goNoGoTimers>;
    try {
      timers = goNoGoTimers(input.Payload.state);
    } catch (e) {
      throw uncatchable(e);
    }
    const { token, wait } = tokens.mint(timers.heartbeatSeconds ? { heartbeatMs: timers.heartbeatSeconds * 1000 } : {});
    await invoke('goNoGo', { taskToken: token, state: input.Payload.state });
    return await wait;
  };

  // biome-ignore lint/suspicious/noExplicitAny: the raw spec and ASL JSON are untyped until the handlers parse them
  const machine: StateMachine = new StateMachine(definition as any, { validationOptions: { checkArn: true, checkPaths: true } });
  const execId = `arn:aws:states:local:000000000000:execution:cutline-local:${runId}`;
  // biome-ignore lint/suspicious/noExplicitAny: the raw spec and ASL JSON are untyped until the handlers parse them
  const execution = machine.run(safe as any, {
    overrides: {
      taskResourceLocalHandlers: overrides,
      retryIntervalOverrides: Object.fromEntries(Object.values(STATES).map((s) => [s, 50])),
      // The jumpbox poll loop: locally every 200 ms instead of pollSeconds.
      waitTimeOverrides: { [STATES.commandWait]: 200 },
    },
    // biome-ignore lint/suspicious/noExplicitAny: the raw spec and ASL JSON are untyped until the handlers parse them
    context: { Execution: { Id: execId, Name: runId, Input: safe, StartTime: new Date().toISOString() }, Task: { Token: 'minted-by-the-local-GoNoGo-override' } } as any,
  });
  abortRun = () => execution.abort();

  // Execution history: live stage progress, kept in the evidence folder.
  const history: unknown[] = [];
  const entered = new Map<string, number>();
  // Written at most every 500 ms (and after the last event) so `cutline status|watch <runId>` can follow a running local run.
  let flushing: Promise<unknown> = Promise.resolve();
  let flushTimer: NodeJS.Timeout | undefined;
  const logDone = (async () => {
    for await (const ev of execution.eventLogs) {
      history.push(compactEvent(ev));
      // The history within Step Functions' 25,000 events (counted as AWS writes them), or the execution fails.
      if (events.add(ev as { type: string }) && !fatal)
        uncatchable(new UncatchableError('States.Runtime', `the execution history reached ${events.limit} events (counted as Step Functions writes them); Step Functions fails an execution there`));
      // Every state's input and output within Step Functions' payload limit, or the execution fails (no Catch takes it).
      const se = ev as { type: string; state?: { name: string; input?: unknown; output?: unknown } };
      if (se.state && (se.type === 'StateEntered' || se.type === 'StateExited')) {
        const which = se.type === 'StateEntered' ? 'input' : 'output';
        const size = awsPayloadBytes(se.state[which]);
        if (size > STATE_PAYLOAD_LIMIT) uncatchable(new UncatchableError('States.DataLimitExceeded', `the ${which} of state ${se.state.name} is ${size} bytes; Step Functions allows ${STATE_PAYLOAD_LIMIT}`));
      }
      // The first event is written at once (a run killed early still leaves its history), then at most every 500 ms.
      flushTimer ??= setTimeout(() => {
        flushTimer = undefined;
        const body = canonicalJson(history);
        flushing = flushing.then(() => evidence.put(`${runId}/execution-history.json`, body, 'application/json')).catch(() => undefined);
      }, history.length === 1 ? 0 : 500);
      const e = ev as { type: string; timestamp: number; state?: { name: string }; Error?: string; Cause?: unknown };
      if (!e.state || e.state.name === STATES.backfillChunk) continue;
      if (e.type === 'StateEntered') {
        entered.set(e.state.name, e.timestamp);
        out(`> ${e.state.name}`);
      } else if (e.type === 'StateExited') {
        const t0 = entered.get(e.state.name);
        out(`  ${e.state.name} done${t0 ? ` in ${((e.timestamp - t0) / 1000).toFixed(2)}s` : ''}`);
      } else if (e.type === 'StateFailed' || e.type === 'StateCaught') {
        if (e.Error) out(`  ${e.state.name} failed: ${e.Error}: ${String(e.Cause ?? '').slice(0, 400)}`);
      }
    }
  })();

  let output: unknown;
  let status: LocalRunResult['status'] = 'SUCCEEDED';
  try {
    output = await execution.result;
  } catch (e) {
    if (!(e instanceof ExecutionError) && !fatal) {
      await page.stop();
      channel.dispose();
      if (!opts.keepOpen) await factory.closeAll();
      throw e;
    }
    status = 'FAILED';
  } finally {
    await logDone.catch(() => undefined);
    // Handlers still running (an aborted iteration's Lambda runs to its end in AWS too) finish before the runner does.
    await Promise.allSettled([...inFlight]);
  }
  if (fatal) {
    history.push({ type: 'ExecutionFailed', timestamp: Date.now(), Error: fatal.name, Cause: fatal.message });
    out(`execution failed: ${fatal.name}: ${fatal.message} (Step Functions lets no Catch take this error)`);
  }
  clearTimeout(flushTimer);
  await flushing;
  await evidence.put(`${runId}/execution-history.json`, canonicalJson(history), 'application/json');
  await page.stop();
  channel.dispose();
  if (!opts.keepOpen) await factory.closeAll();

  const summary = (await readEvidenceJson<{ details: { outcome: 'GO' | 'NO_GO'; classification: string; reason: string } }>(evidence, `${runId}/99_summary.json`))?.details;
  const result: LocalRunResult = {
    runId,
    status,
    outcome: summary?.outcome ?? 'NO_GO',
    classification: summary?.classification ?? 'INTERNAL_ERROR',
    reason: summary?.reason ?? 'the run ended without a summary',
    evidenceDir: path.join(evidenceRoot, runId),
    output,
    historyEvents: events.count,
    clients: opts.keepOpen ? opened : {},
  };
  out('');
  out(`${result.outcome === 'GO' ? 'GO' : `NO_GO / ${result.classification}`}: ${result.reason}`);
  out(`evidence: ${path.relative(process.cwd(), result.evidenceDir) || result.evidenceDir}/ (summary.md, report.html, NN_<step>.json, manifest.json)`);
  out(`history: ${events.count.toLocaleString('en-US')} events as Step Functions would write them (its quota: ${HISTORY_EVENT_LIMIT.toLocaleString('en-US')})`);
  const root = path.relative(process.cwd(), path.dirname(result.evidenceDir)) || '.';
  out(`check it: npm run cutline -- evidence verify ${runId}${root === 'evidence' ? '' : ` --evidence-dir ${root}`}`);
  return result;
}

export function defaultApprover(): string {
  return `${os.userInfo().username}@${os.hostname()}`;
}
