/**
 * cutline CLI commands. Exit codes:
 *   0  success: spec valid / run ended GO / execution started / run running or
 *      succeeded (status, watch) / evidence matches its manifest
 *   1  the run ended NO_GO (classification printed), the run failed (status,
 *      watch), evidence does not match its manifest (verify)
 *   2  bad input: invalid spec, unreadable file, bad argument, unknown run
 *   3  unexpected error
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { KMSClient } from '@aws-sdk/client-kms';
import { kmsPublicKeyPem } from '../lambdas/adapters/aws/signer-kms';
import { defaultSigningKeyPath, FileSigner, publicKeyPathOf } from '../lambdas/adapters/local/signer-file';
import { checkRootSignature, sealedLabel } from '../lambdas/core/signature';
import { pathToFileURL } from 'node:url';
import { addendumKey, type Manifest, readAddenda, readEvidenceJson, sha256Hex, verifyEvidence } from '../lambdas/core/evidence';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, DescribeMapRunCommand, ExecutionAlreadyExists, GetExecutionHistoryCommand, type HistoryEvent, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { fromAwsHistory, type MapRunProgress, type Progress, type ProgressEvent, progressOf, recordedManifestRoot, renderProgress } from '../lambdas/core/progress';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { S3ApprovalStore, S3EvidenceStore } from '../lambdas/adapters/aws/s3';
import { SfnTaskTokens } from '../lambdas/adapters/aws/sfn';
import { decideApproval } from '../lambdas/core/approval';
import { RESUMABLE } from '../lambdas/core/decision';
import { resumeExecutionName, resumeProblem, sealedOutcome } from '../lambdas/core/attempts';
import { errorMessage } from '../lambdas/core/errors';
import { Command, InvalidArgumentError } from 'commander';
import { z } from 'zod';
import { type DatabaseRef, parseSpec, platformProblems, RunSpec } from '../lambdas/core/spec';
import { DirScriptSource } from '../lambdas/adapters/local/scripts-dir';
import { formatFinding, lintMigrations } from '../lambdas/core/lint';
import { loadMigrations } from '../lambdas/core/migrations';
import { applyUrlOverrides, defaultApprover, openLocalDatabases, runLocal } from './local-runner';
import { dryRun, renderDryRun } from '../lambdas/core/dry-run';
import { planUuid, readUuidGraph } from '../lambdas/core/uuid-plan';
import { fetchHttp, silentLogger, systemClock } from '../lambdas/adapters/local/runtime';
import { LocalShellRunner } from '../lambdas/adapters/local/command-shell';
import { FsEvidenceStore } from '../lambdas/adapters/local/evidence-fs';
import { FileParameterStore } from '../lambdas/adapters/local/parameters-file';
import { manualRollback, manualRollbacks } from '../lambdas/core/pipeline';
import { describeAction } from '../lambdas/core/actions';
import type { Deps, EvidenceStore } from '../lambdas/ports';
import { readSpecFile, SpecFileError } from './spec-file';
import { readRunnerLock, RunnerBusyError, runnerAlive } from './runner-lock';
import { HISTORY_FILE, mapRunLabel, readLocalRun } from './local-history';
import path from 'node:path';

export const EXIT = { OK: 0, NO_GO: 1, BAD_INPUT: 2, ERROR: 3 } as const;

let awsClients: AwsClients | undefined;
function defaultAws(): AwsClients {
  awsClients ??= { s3: new S3Client({}), sts: new STSClient({}), sfn: new SFNClient({}), lambda: new LambdaClient({}) };
  return awsClients;
}

/** One Step Functions client per CLI process, built on first use. */
let defaultSfn: SFNClient | undefined;
function sfnClient(io: Io): SFNClient {
  if (io.sfn) return io.sfn;
  defaultSfn ??= new SFNClient({});
  return defaultSfn;
}

/** AWS clients for approve / reject, injectable for tests. */
export interface AwsClients {
  readonly s3: S3Client;
  readonly sts: STSClient;
  readonly sfn: SFNClient;
  readonly lambda: LambdaClient;
  readonly kms?: KMSClient;
}

export interface Io {
  out(line: string): void;
  err(line: string): void;
  env: NodeJS.ProcessEnv;
  sfn?: SFNClient;
  aws?: AwsClients;
  /** watch: how to wait between polls (tests pass a fake). */
  sleep?: (ms: number) => Promise<void>;
}

/** A bad argument found inside a command (commander prints its own parse errors). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const LOCAL_URL = /^(pglite|postgres|postgresql|mysql|mariadb):\/\//;
function localUrl(v: string): string {
  if (!LOCAL_URL.test(v)) throw new InvalidArgumentError(`got ${JSON.stringify(v)}; expected pglite://memory, postgres://... or mysql://...`);
  return v;
}
function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`got ${JSON.stringify(v)}; expected a port 0-65535`);
  return n;
}

export function jsonSchema(): unknown {
  return z.toJSONSchema(RunSpec, { io: 'input', unrepresentable: 'any' });
}

export function buildCli(io: Io, setExit: (code: number) => void): Command {
  const program = new Command('cutline')
    .description('Gated database cutovers: preflight, schema, backfill, verify, gates, go/no-go, cutover, smoke, evidence.')
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .exitOverride()
    .addHelpText(
      'after',
      `
Examples:
  $ cutline validate examples/agent-uuid/spec.json
  $ cutline run examples/agent-uuid/spec.json --local --auto-approve
  $ cutline run spec.json --local --source-url postgres://postgres@127.0.0.1:5432/app
  $ cutline lint examples/agent-uuid/migrations
  $ cutline plan examples/agent-uuid/spec.json
  $ cutline plan uuid --source-url postgres://postgres@127.0.0.1:5432/app --out uuid-plan
  $ cutline start spec.json --state-machine-arn arn:aws:states:eu-west-1:123456789012:stateMachine:cutline
  $ cutline approve prod-2026-11-21 --comment "counts and hashes match" --bucket cutline-evidence --approvals-bucket cutline-approvals
  $ cutline watch prod-2026-11-21 --state-machine-arn arn:aws:states:eu-west-1:123456789012:stateMachine:cutline
  $ cutline status demo-agent-uuid-20261121T020000 --json
  $ cutline resume prod-2026-11-21 --state-machine-arn arn:aws:states:eu-west-1:123456789012:stateMachine:cutline
  $ cutline evidence verify demo-agent-uuid-20261121T020000
  $ cutline evidence verify prod-2026-11-21 --bucket cutline-evidence

Exit codes: 0 valid / GO / started / running or succeeded / evidence intact,
1 NO_GO / run failed / evidence tampered, 2 bad input, 3 unexpected error.
Every command takes --json. Colors only on a terminal (NO_COLOR honored).`,
    );

  program
    .command('validate')
    .description('check a run spec; lists every problem with its JSON path')
    .argument('<spec>', 'run spec JSON file')
    .option('--platform <platform>', 'also check what only works locally or in AWS: local | aws')
    .option('--json', 'machine-readable output')
    .action(async (file: string, o: { platform?: string; json?: boolean }) => {
      if (o.platform && o.platform !== 'local' && o.platform !== 'aws') throw new UsageError(`--platform got ${JSON.stringify(o.platform)}; expected local or aws`);
      const raw = await readSpecFile(file, placeholderEnv(io.env));
      const r = parseSpec(raw);
      const problems = r.ok ? (o.platform ? platformProblems(r.spec, o.platform as 'local' | 'aws') : []) : r.problems;
      if (o.json) io.out(JSON.stringify({ valid: problems.length === 0, problems }, null, 2));
      else if (problems.length === 0) io.out(`${file}: valid run spec v1 (runId ${r.ok ? r.spec.runId : '?'})`);
      else {
        io.err(`${file}: ${problems.length} problem(s):`);
        for (const p of problems) io.err(`  ${p.path}: ${p.message}`);
      }
      setExit(problems.length ? EXIT.BAD_INPUT : EXIT.OK);
    });

  program
    .command('run')
    .description('run a cutover; --local executes the state machine on this machine')
    .argument('<spec>', 'run spec JSON file')
    .option('--local', "run locally on cutline's engine (the only mode of `run`; use `start` for AWS)")
    .option('--source-url <url>', 'source database (pglite://memory, postgres://..., mysql://...)', localUrl)
    .option('--target-url <url>', 'target database (defaults to the source: in place)', localUrl)
    .option('--evidence-dir <dir>', 'where evidence folders go', 'evidence')
    .option('--work-dir <dir>', 'where local runs keep their parameters (<dir>/<runId>/parameters.json)', '.cutline')
    .option('--auto-approve', 'answer the go/no-go with approve (unattended runs)')
    .option('--auto-reject', 'answer the go/no-go with reject (rehearse a NO_GO)')
    .option('--approver <name>', 'identity recorded with --auto-approve / --auto-reject and the terminal prompt (default: your login@host)', defaultApprover())
    .option('--seed', 'apply spec.local.seed also to a non-embedded database')
    .option('--no-data-api', "reach the databases directly, not as the Lambdas reach Aurora (by default: the production Data API adapter against a loopback Data API with the service's limits: 45 s per call, 1 MiB per response, 64 KB per row, pooled connections)")
    .option('--port <port>', 'port of the local approval page (0 = any free port)', port, 0)
    .option('--resume', 'go on with a run that ended NO_GO before its go/no-go (environment, migration, backfill, verify, gate): same runId, chunks and baselines kept (a killed run resumes without it)')
    .option('--json', 'print the result as JSON')
    // biome-ignore lint/suspicious/noExplicitAny: commander option bag
    .action(async (file: string, o: Record<string, any>) => {
      if (!o.local) throw new UsageError('`cutline run` needs --local (use `cutline start` to run in AWS Step Functions)');
      if (o.autoApprove && o.autoReject) throw new UsageError('--auto-approve and --auto-reject cannot be combined');
      const spec = await readSpecFile(file, io.env);
      const runId = (spec as { runId?: unknown } | null)?.runId;
      if (typeof runId === 'string') {
        const store = new FsEvidenceStore(path.resolve(o.evidenceDir));
        // Finished = Summary got to its last write (the manifest); killed inside Summary, a run resumes.
        const ended = await sealedOutcome(runId, { evidence: store }).catch(() => undefined);
        if (ended && !o.resume)
          throw new SpecFileError(
            `run ${runId} already finished ${ended.outcome}${ended.outcome === 'GO' ? '' : ` / ${ended.classification}`} (${path.relative(process.cwd(), path.resolve(o.evidenceDir, runId, 'manifest.json'))} exists); expected a new runId, as execution names are single-use${RESUMABLE.includes(ended.classification) ? ', or --resume to go on with this one' : ''}`,
          );
        const problem = o.resume ? await resumeProblem(runId, { evidence: store }) : undefined;
        if (problem) throw new SpecFileError(problem);
      }
      const approval =
        o.autoApprove || o.autoReject
          ? { kind: 'auto' as const, decision: o.autoApprove ? ('approve' as const) : ('reject' as const), approver: o.approver, comment: `--auto-${o.autoApprove ? 'approve' : 'reject'}` }
          : process.stdin.isTTY
            ? { kind: 'interactive' as const, approver: o.approver }
            : { kind: 'page-only' as const };
      const r = await runLocal({
        spec,
        sourceUrl: o.sourceUrl,
        targetUrl: o.targetUrl,
        evidenceDir: o.evidenceDir,
        workDir: o.workDir,
        approval,
        port: o.port,
        seed: o.seed,
        ...(o.dataApi === false ? { dataApi: false } : {}),
        resume: !!o.resume,
        out: o.json ? () => {} : io.out,
      });
      if (o.json) io.out(JSON.stringify({ runId: r.runId, outcome: r.outcome, classification: r.classification, reason: r.reason, evidence: r.evidenceDir }, null, 2));
      setExit(r.outcome === 'GO' ? EXIT.OK : EXIT.NO_GO);
    });

  program
    .command('start')
    .description('start the run in AWS Step Functions (execution name = runId: starting twice is idempotent)')
    .argument('<spec>', 'run spec JSON file')
    .option('--state-machine-arn <arn>', 'the deployed state machine (stack output StateMachineArn); default $CUTLINE_STATE_MACHINE_ARN')
    .option('--json', 'machine-readable output')
    .action(async (file: string, o: { stateMachineArn?: string; json?: boolean }) => {
      const raw = await readSpecFile(file, io.env);
      const r = parseSpec(raw);
      const problems = r.ok ? platformProblems(r.spec, 'aws') : r.problems;
      if (!r.ok || problems.length) {
        io.err(`${file}: ${problems.length} problem(s); nothing was started:`);
        for (const p of problems) io.err(`  ${p.path}: ${p.message}`);
        return setExit(EXIT.BAD_INPUT);
      }
      let executionArn = executionArnOf(io, r.spec.runId, o.stateMachineArn, 'start');
      const stateMachineArn = (o.stateMachineArn ?? io.env.CUTLINE_STATE_MACHINE_ARN)!;
      const sfn = sfnClient(io);
      const input = JSON.stringify(raw);
      let already = false;
      try {
        executionArn = (await sfn.send(new StartExecutionCommand({ stateMachineArn, name: r.spec.runId, input }))).executionArn ?? executionArn;
      } catch (e) {
        if (!(e instanceof ExecutionAlreadyExists) && (e as Error).name !== 'ExecutionAlreadyExists') throw e;
        // Same name, same input: Step Functions treats the start as idempotent only while it runs; report the existing one.
        const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
        if (d.input !== input) {
          io.err(`run ${r.spec.runId} already exists with a different spec; expected a new runId for a new run`);
          return setExit(EXIT.BAD_INPUT);
        }
        already = true;
      }
      if (o.json) io.out(JSON.stringify({ runId: r.spec.runId, executionArn, alreadyStarted: already }));
      else io.out(`${already ? 'already started' : 'started'} ${r.spec.runId}: ${executionArn}`);
      setExit(EXIT.OK);
    });

  program
    .command('plan')
    .description('`plan <spec>`: dry run of a whole spec (SQL, locks, lint, rows each backfill chunk would touch; changes nothing). `plan uuid`: write the integer -> UUID key recipe for a database')
    .argument('<spec|uuid>', 'run spec JSON file, or "uuid"')
    .option('--source-url <url>', 'source database', localUrl)
    .option('--target-url <url>', 'target database', localUrl)
    .option('--seed', 'apply spec.local.seed also to a non-embedded database first')
    .option('--out <dir>', 'plan uuid: folder for migrations/, contract/, rollback/ and spec.fragment.json')
    .option('--tables <list>', 'plan uuid: only these parent tables (comma-separated)')
    .option('--batch-size <n>', 'plan uuid: rows per backfill chunk', (v) => port(v), 5000)
    .option('--json', 'machine-readable output')
    .action(async (file: string, o: { sourceUrl?: string; targetUrl?: string; seed?: boolean; json?: boolean; out?: string; tables?: string; batchSize: number }) => {
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
        const d = await dryRun(r.spec, {
          sql: (ref: DatabaseRef) => factory.get(ref),
          scripts: new DirScriptSource(),
          clock: systemClock,
          logger: silentLogger,
        } as unknown as Deps);
        if (o.json) io.out(JSON.stringify(d, null, 2));
        else for (const l of renderDryRun(d)) io.out(l);
        const blocked = (d.schema?.lint.some((f) => f.blocking) ?? false) || (d.schema?.problems.length ?? 0) > 0 || d.backfill.some((c) => c.error);
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
    .command('rollback')
    .description("run a finished run's rollback actions by hand (selector back, rollback SQL, jumpbox commands): locally, or in AWS with --function; asks to type the runId, recorded in its evidence as a signed addendum")
    .argument('<runId>', 'the run')
    .option('--evidence-dir <dir>', 'where evidence folders are', 'evidence')
    .option('--work-dir <dir>', 'where local runs keep their parameters', '.cutline')
    .option('--source-url <url>', 'source database, if not the one the run used', localUrl)
    .option('--target-url <url>', 'target database, if not the one the run used', localUrl)
    .option('--function <name>', 'AWS: the Rollback function (stack output RollbackFunctionName); needs --bucket')
    .option('--bucket <name>', 'AWS: the evidence bucket; default $CUTLINE_EVIDENCE_BUCKET')
    .option('--dry-run', 'print the rollback actions and change nothing')
    .option('--force', 'also roll back a run that never cut over')
    .option('--yes', 'do not ask to type the runId (needed when not on a terminal)')
    .option('--json', 'machine-readable output')
    .action(async (runId: string, o: { evidenceDir: string; workDir: string; sourceUrl?: string; targetUrl?: string; json?: boolean; function?: string; bucket?: string; dryRun?: boolean; force?: boolean; yes?: boolean }) => {
      if (!/^[A-Za-z0-9_-]{1,80}$/.test(runId)) throw new UsageError(`runId got ${JSON.stringify(runId)}; expected 1-80 of A-Z a-z 0-9 _ -`);
      // The same guard rails for a local run and for one in AWS (--function): the spec and the cutover record come from its evidence.
      const bucket = o.function ? (o.bucket ?? io.env.CUTLINE_EVIDENCE_BUCKET) : undefined;
      if (o.function && !bucket) throw new UsageError('`cutline rollback --function` needs --bucket or CUTLINE_EVIDENCE_BUCKET (the stack output EvidenceBucketName)');
      const evStore: EvidenceStore = bucket ? new S3EvidenceStore((io.aws ?? defaultAws()).s3, bucket) : new FsEvidenceStore(path.resolve(o.evidenceDir));
      const raw = await readEvidenceJson<unknown>(evStore, `${runId}/spec.json`);
      if (!raw) throw new SpecFileError(`no spec for run ${runId} at ${bucket ? `s3://${bucket}/runs/${runId}/spec.json` : path.resolve(o.evidenceDir, runId, 'spec.json')}; expected the evidence of a run that passed ValidateSpec`);
      const spec = RunSpec.parse(bucket ? raw : applyUrlOverrides(raw, o.sourceUrl, o.targetUrl));
      const cutover = await readEvidenceJson<{ result: string }>(evStore, `${runId}/10_cutover.json`);
      if (!cutover && !o.force && !o.dryRun) throw new UsageError(`run ${runId} never cut over (no 10_cutover.json): nothing to roll back; expected --force to run its rollback actions anyway`);
      const actions = spec.rollback.actions.map((a, i) => `${i + 1}. ${describeAction(a)}`);
      if (o.dryRun) {
        if (o.json) io.out(JSON.stringify({ runId, dryRun: true, cutOver: !!cutover, actions }, null, 2));
        else for (const l of [`rollback of ${runId} would run (nothing was changed):`, ...actions.map((a) => `  ${a}`)]) io.out(l);
        return setExit(EXIT.OK);
      }
      if (!o.yes) {
        if (!process.stdin.isTTY) throw new UsageError('`cutline rollback` asks to type the runId on a terminal; expected --yes when not on a terminal');
        const rl = (await import('node:readline/promises')).createInterface({ input: process.stdin, output: process.stdout });
        try {
          for (const l of [`rollback of ${runId} will run:`, ...actions.map((a) => `  ${a}`)]) io.out(l);
          const typed = (await rl.question(`Type the runId (${runId}) to roll back: `)).trim();
          if (typed !== runId) throw new UsageError(`got ${JSON.stringify(typed)}; expected ${runId}: nothing was rolled back`);
        } finally {
          rl.close();
        }
      }
      if (o.function) return setExit(await awsRollback(io, runId, o.function, bucket!, raw, !!o.json));
      if ([spec.source.url, spec.target?.url].some((u) => u?.startsWith('pglite://memory'))) io.err('warning: the run used an in-memory database; its data is gone, only parameters and commands can be rolled back');
      const { factory } = await openLocalDatabases(spec as unknown as Record<string, unknown>, {}, o.json ? () => {} : io.out);
      try {
        const evidence = new FsEvidenceStore(path.resolve(o.evidenceDir));
        const deps = {
          sql: (ref: DatabaseRef) => factory.get(ref),
          evidence,
          commands: new LocalShellRunner(),
          parameters: new FileParameterStore(path.resolve(o.workDir, runId, 'parameters.json')),
          http: fetchHttp,
          clock: systemClock,
          logger: silentLogger,
          // The rollback record joins the manifest as an addendum signed with the same local key.
          signer: new FileSigner(defaultSigningKeyPath({ ...process.env, ...io.env }), o.evidenceDir),
        } as unknown as Deps;
        const out = await manualRollback(spec, defaultApprover(), deps);
        if (o.json) io.out(JSON.stringify(out, null, 2));
        else for (const a of out.actions) io.out(`${a.ok ? 'ok  ' : 'FAIL'} ${a.index + 1}. ${a.description}: ${a.detail}`);
        setExit(out.ok ? EXIT.OK : EXIT.NO_GO);
      } finally {
        await factory.closeAll();
      }
    });

  const where = (c: Command) =>
    c
      .option('--state-machine-arn <arn>', 'a run in AWS (stack output StateMachineArn); default $CUTLINE_STATE_MACHINE_ARN, else the local evidence folder')
      .option('--evidence-dir <dir>', 'local evidence folder', 'evidence')
      .option('--json', 'machine-readable output');
  where(program.command('status').description('where a run is: stage, chunks done/total, rows/s, ETA (exit 0 running or succeeded, 1 ended otherwise)').argument('<runId>')).action(
    async (runId: string, o: WhereOpts) => {
      const p = await runProgress(io, runId, o);
      io.out(o.json ? JSON.stringify({ runId, ...p }, null, 2) : renderProgress(runId, p).join('\n'));
      setExit(statusExit(p));
    },
  );
  where(program.command('watch').description('follow a run live until it ends (one line per change; --json: one JSON object per poll)').argument('<runId>'))
    .option('--interval <seconds>', 'seconds between polls', seconds, 5)
    .action(async (runId: string, o: WhereOpts & { interval: number }) => {
      const sleep = io.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
      let last = '';
      const seen: HistoryEvent[] = [];
      for (;;) {
        const p = await runProgress(io, runId, o, seen);
        const text = o.json ? JSON.stringify({ runId, ...p }) : renderProgress(runId, p).join('\n');
        if (text !== last) io.out(text);
        last = text;
        if (p.status !== 'RUNNING') return setExit(statusExit(p));
        await sleep(o.interval * 1000);
      }
    });
  program
    .command('resume')
    .description("resume a run in AWS that was interrupted or ended NO_GO before its go/no-go: a new execution (execution names are single-use) with the run's own input, reusing every checkpoint, baseline and chunk")
    .argument('<runId>')
    .option('--state-machine-arn <arn>', 'the deployed state machine; default $CUTLINE_STATE_MACHINE_ARN')
    .option('--json', 'machine-readable output')
    .action(async (runId: string, o: { stateMachineArn?: string; json?: boolean }) => {
      const first = executionArnOf(io, runId, o.stateMachineArn, 'resume');
      const sfn = sfnClient(io);
      const executions = await runExecutions(sfn, first);
      if (!executions.length) {
        io.err(`cannot resume ${runId}: no execution ${first}; expected a run started with \`cutline start\``);
        return setExit(EXIT.BAD_INPUT);
      }
      const running = executions.find((e) => e.status === 'RUNNING');
      if (running) {
        io.err(`cannot resume ${runId}: its execution ${running.name} is still RUNNING; expected it to have ended (follow it with \`cutline watch ${runId}\`, or stop it first)`);
        return setExit(EXIT.BAD_INPUT);
      }
      // The run's own input (the spec as started), under the next resume name; ValidateSpec refuses a run a resume cannot clear.
      const name = resumeExecutionName(runId, executions.length + 1);
      const stateMachineArn = first.slice(0, first.lastIndexOf(':')).replace(':execution:', ':stateMachine:');
      const r = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: executions[0]!.input }));
      io.out(o.json ? JSON.stringify({ runId, execution: name, executionArn: r.executionArn, attempt: executions.length + 1 }) : `resumed ${runId} as execution ${name}: follow it with \`cutline watch ${runId}\``);
      setExit(EXIT.OK);
    });

  const evidence = program.command('evidence').description('read and verify run evidence (a local folder, or S3 with --bucket)');
  const store = (o: { bucket?: string; evidenceDir: string }): EvidenceStore =>
    o.bucket ? new S3EvidenceStore((io.aws ?? defaultAws()).s3, o.bucket) : new FsEvidenceStore(path.resolve(o.evidenceDir));
  const evidenceOpts = (c: Command) =>
    c.option('--bucket <name>', 'the evidence bucket (S3); default: the local folder').option('--evidence-dir <dir>', 'local evidence folder', 'evidence').option('--json', 'machine-readable output');
  evidenceOpts(evidence.command('ls').description("list a run's evidence files with their SHA-256").argument('<runId>')).action(async (runId: string, o: { bucket?: string; evidenceDir: string; json?: boolean }) => {
    const files = await store(o).list(`${runId}/`);
    if (!files.length) throw new UsageError(`no evidence for run ${runId} in ${store(o).location}`);
    if (o.json) io.out(JSON.stringify(files.map((f) => ({ file: f.key.slice(runId.length + 1), sha256: f.sha256, size: f.size })), null, 2));
    else for (const f of files) io.out(`${f.sha256.slice(0, 16)}  ${String(f.size).padStart(9)}  ${f.key.slice(runId.length + 1)}`);
    setExit(EXIT.OK);
  });
  evidenceOpts(evidence.command('get').description('print one evidence file').argument('<runId>').argument('<file>', 'e.g. 07_gates.json, summary.md')).action(
    async (runId: string, file: string, o: { bucket?: string; evidenceDir: string; json?: boolean }) => {
      const body = await store(o).get(`${runId}/${file}`);
      if (!body) throw new UsageError(`no file ${file} in the evidence of run ${runId} (${store(o).location}); try \`cutline evidence ls ${runId}\``);
      const text = Buffer.from(body).toString('utf8');
      io.out(o.json ? JSON.stringify({ runId, file, sha256: sha256Hex(body), size: body.length, body: text }) : text.trimEnd());
      setExit(EXIT.OK);
    },
  );
  evidenceOpts(
    evidence
      .command('verify')
      .description('recompute the manifest: name every changed, missing or added file, and check its root against the execution history (exit 1 if anything differs)')
      .argument('<runId>')
      .option('--public-key <file>', 'PEM public key the roots must be signed with (default: a local folder uses ~/.config/cutline/signing-key.pub.pem or $CUTLINE_SIGNING_KEY next to it)')
      .option('--signing-key-arn <arn>', 'AWS: the KMS signing key (stack output SigningKeyArn); its public key is fetched; default $CUTLINE_SIGNING_KEY_ARN')
      .option('--state-machine-arn <arn>', 'also check the root against the AWS execution history; default $CUTLINE_STATE_MACHINE_ARN (a local folder uses its execution-history.jsonl)')
      .option('--no-anchor', 'accept roots that are unsigned or cannot be checked (drops the guarantee that the manifest itself was not rebuilt over forged files)'),
  ).action(async (runId: string, o: { bucket?: string; evidenceDir: string; stateMachineArn?: string; publicKey?: string; signingKeyArn?: string; json?: boolean; anchor: boolean }) => {
    const s = store(o);
    const manifest = await readEvidenceJson<Manifest>(s, `${runId}/manifest.json`);
    if (!manifest) throw new UsageError(`no manifest.json for run ${runId} in ${s.location}; expected a run that reached Summary`);
    const now = new Map((await s.list(`${runId}/`)).map((f) => [f.key.slice(runId.length + 1), f.sha256]));
    const addenda = await readAddenda(s, runId);
    const problems = verifyEvidence(manifest, addenda, now);
    // The anchor: AWS history when asked for (its errors are errors), else a local folder's execution-history.jsonl when there is one.
    const aws = !!(o.stateMachineArn ?? io.env.CUTLINE_STATE_MACHINE_ARN);
    const history = aws ? await runHistory(io, runId, o) : o.bucket ? undefined : await runHistory(io, runId, o).catch((e) => (e instanceof UsageError ? undefined : Promise.reject(e)));
    const anchor = history ? recordedManifestRoot(history.events) : undefined;
    if (aws && !anchor && o.anchor)
      problems.push({ file: 'manifest.json', problem: 'anchor', detail: 'the execution history has no Summary result to check the root against; pass --no-anchor to accept that' });
    // The signature: without it (or without a key to check it), a manifest rebuilt over forged files verifies; a failure unless --no-anchor.
    const key = await verifyingKey(io, o);
    const sealed = [
      { file: 'manifest.json', name: 'manifest' as const, sig: manifest.signature, root: manifest.root },
      ...addenda.map((a) => ({ file: addendumKey(runId, a.sequence).slice(runId.length + 1), name: `addendum ${a.sequence}` as const, sig: a.signature, root: a.root })),
    ];
    for (const x of sealed) {
      if (x.sig && key) {
        const c = checkRootSignature(x.sig, key.pem, runId, x.name, x.root);
        if (!c.ok) problems.push({ file: x.file, problem: 'signature', detail: c.detail });
      } else if (o.anchor)
        problems.push({
          file: x.file,
          problem: 'signature',
          detail: x.sig
            ? `${sealedLabel(x.name)} is signed by ${x.sig.keyId}, but there is no public key to check it with (pass --public-key FILE or --signing-key-arn ARN); pass --no-anchor to accept an unchecked root`
            : `${sealedLabel(x.name)} is not signed: rebuilt over forged files, it would go unnoticed; pass --no-anchor to accept that`,
        });
    }
    // Only regular files are evidence: a symlink or any other kind of entry in a run's folder is tampering.
    if (!o.bucket) for (const odd of await irregularEntries(path.resolve(o.evidenceDir, runId))) problems.push({ file: odd, problem: 'added', detail: `${odd} is not a regular file (a link or device): tampering` });
    if (anchor && anchor !== manifest.root)
      problems.push({ file: 'manifest.json', problem: 'anchor', detail: `the manifest root ${manifest.root.slice(0, 12)}… differs from ${anchor.slice(0, 12)}…, the root the run recorded in its execution history: the manifest was replaced` });
    const later = addenda.map((a) => ({ sequence: a.sequence, reason: a.reason, written_utc: a.written_utc, files: a.files.map((f) => f.file) }));
    const signedBy = key && manifest.signature ? { keyId: manifest.signature.keyId, checkedWith: key.source } : undefined;
    if (o.json) io.out(JSON.stringify({ runId, files: manifest.files.length, root: manifest.root, signedBy, anchoredInHistory: !!anchor, addenda: later, ok: problems.length === 0, problems }, null, 2));
    else if (!problems.length) {
      io.out(
        `${runId}: ${manifest.files.length} files match the manifest (chain root ${manifest.root.slice(0, 16)}…${signedBy ? `, signed by ${signedBy.keyId}, checked with ${signedBy.checkedWith}` : ''}${anchor ? ', the root the execution history recorded' : ''})`,
      );
      if (!o.anchor && !signedBy) io.out('  --no-anchor: the root was not checked against a signature, so a manifest rebuilt over forged files would also pass');
      for (const a of later) io.out(`  addendum ${a.sequence} (${a.written_utc}, ${a.reason}): ${a.files.join(', ')} — chained after the manifest`);
    } else for (const p of problems) io.err(`${p.problem.toUpperCase()}: ${p.detail}`);
    setExit(problems.length ? EXIT.NO_GO : EXIT.OK);
  });
  evidenceOpts(evidence.command('open').description("print where to read a run's report (report.html, or the S3 console)").argument('<runId>')).action(
    async (runId: string, o: { bucket?: string; evidenceDir: string; json?: boolean }) => {
      const s = store(o);
      const url = o.bucket ? s.browseUrl(`${runId}/`) : pathToFileURL(path.resolve(o.evidenceDir, runId, 'report.html')).toString();
      io.out(o.json ? JSON.stringify({ runId, url }) : url);
      setExit(EXIT.OK);
    },
  );

  for (const decision of ['approve', 'reject'] as const) {
    program
      .command(decision)
      .description(`${decision} the go/no-go of a run in AWS as your AWS identity (a local run answers on its page or the terminal)`)
      .argument('<runId>', 'the run (execution name)')
      .requiredOption('--comment <text>', 'why (recorded in the evidence)')
      .option('--bucket <name>', 'evidence bucket (stack output EvidenceBucketName); default $CUTLINE_EVIDENCE_BUCKET')
      .option('--approvals-bucket <name>', 'pending approvals (stack output ApprovalsBucketName; your role must be in the deploy config approval.cliPrincipals); default $CUTLINE_APPROVALS_BUCKET')
      .option('--json', 'machine-readable output')
      .action(async (runId: string, o: { comment: string; bucket?: string; approvalsBucket?: string; json?: boolean }) => {
        const bucket = o.bucket ?? io.env.CUTLINE_EVIDENCE_BUCKET;
        if (!bucket) throw new UsageError(`\`cutline ${decision}\` needs --bucket or CUTLINE_EVIDENCE_BUCKET (the stack output EvidenceBucketName)`);
        const approvals = o.approvalsBucket ?? io.env.CUTLINE_APPROVALS_BUCKET;
        if (!approvals) throw new UsageError(`\`cutline ${decision}\` needs --approvals-bucket or CUTLINE_APPROVALS_BUCKET (the stack output ApprovalsBucketName)`);
        const aws = io.aws ?? defaultAws();
        const store = new S3ApprovalStore(aws.s3, approvals);
        const pending = await store.latestFor(runId);
        if (!pending) {
          io.err(`no pending approval for run ${runId} in s3://${approvals}/private/approvals/; expected a run waiting at GoNoGo`);
          return setExit(EXIT.BAD_INPUT);
        }
        const who = (await aws.sts.send(new GetCallerIdentityCommand({}))).Arn ?? 'unknown';
        const out = await decideApproval(
          { approvalId: pending.approvalId, decision, approver: who, comment: o.comment, via: 'cli', identifiedBy: 'aws identity' },
          { approvalStore: store, tokens: new SfnTaskTokens(aws.sfn), evidence: new S3EvidenceStore(aws.s3, bucket), clock: systemClock },
        );
        if (!out.ok) {
          io.err(`${decision} refused: ${out.reason}`);
          return setExit(EXIT.BAD_INPUT);
        }
        const text = out.final ? `${decision === 'approve' ? 'approved' : 'rejected'} run ${runId} as ${who}` : `approval of ${who} recorded: ${out.approvals} of ${out.required}`;
        io.out(o.json ? JSON.stringify({ runId, decision, approver: who, final: out.final, approvals: out.approvals, required: out.required }) : text);
        setExit(EXIT.OK);
      });
  }

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

  const SM = 'arn:aws:states:eu-west-1:123456789012:stateMachine:cutline';
  const examples: Record<string, string[]> = {
    validate: ['cutline validate spec.json', 'cutline validate spec.json --platform aws --json'],
    run: ['cutline run spec.json --local', 'cutline run spec.json --local --auto-approve --evidence-dir evidence'],
    start: [`cutline start spec.json --state-machine-arn ${SM}`],
    plan: ['cutline plan spec.json', 'cutline plan uuid --source-url postgres://postgres@127.0.0.1:5432/app --out uuid-plan'],
    lint: ['cutline lint migrations/'],
    status: ['cutline status demo-agent-uuid-20261121T020000', `cutline status prod-2026-11-21 --state-machine-arn ${SM} --json`],
    watch: [`cutline watch prod-2026-11-21 --state-machine-arn ${SM} --interval 10`],
    resume: [`cutline resume prod-2026-11-21 --state-machine-arn ${SM}`],
    approve: ['cutline approve prod-2026-11-21 --comment "counts and hashes match" --bucket cutline-evidence --approvals-bucket cutline-approvals'],
    reject: ['cutline reject prod-2026-11-21 --comment "orders differ: see 07_gates/diff.txt" --bucket cutline-evidence --approvals-bucket cutline-approvals'],
    rollback: ['cutline rollback demo-agent-uuid-20261121T020000', 'cutline rollback prod-2026-11-21 --function <RollbackFunctionName> --bucket cutline-evidence'],
    ls: ['cutline evidence ls demo-agent-uuid-20261121T020000', 'cutline evidence ls prod-2026-11-21 --bucket cutline-evidence --json'],
    get: ['cutline evidence get prod-2026-11-21 07_gates/diff.txt --bucket cutline-evidence'],
    verify: ['cutline evidence verify demo-agent-uuid-20261121T020000', 'cutline evidence verify prod-2026-11-21 --bucket cutline-evidence --json'],
    open: ['cutline evidence open demo-agent-uuid-20261121T020000'],
  };
  const walk = (c: Command) => {
    const ex = examples[c.name()];
    if (ex && c !== program) c.addHelpText('after', `\nExamples:\n${ex.map((e) => `  $ ${e}`).join('\n')}`);
    c.commands.forEach(walk);
  };
  walk(program);
  return program;
}

/** The public key roots must be signed with: a file, a KMS key, or (local folder) the local signing key's public half. */
async function verifyingKey(io: Io, o: { bucket?: string; publicKey?: string; signingKeyArn?: string }): Promise<{ pem: string; source: string } | undefined> {
  if (o.publicKey) {
    try {
      return { pem: await readFile(o.publicKey, 'utf8'), source: o.publicKey };
    } catch (e) {
      throw new UsageError(`--public-key ${o.publicKey} cannot be read (${errorMessage(e)}); expected a PEM public key file`);
    }
  }
  const arn = o.signingKeyArn ?? io.env.CUTLINE_SIGNING_KEY_ARN;
  if (arn) return { pem: await kmsPublicKeyPem(io.aws?.kms ?? new KMSClient({}), arn), source: `the public key of ${arn}` };
  if (o.bucket) return undefined;
  const local = publicKeyPathOf(defaultSigningKeyPath({ ...process.env, ...io.env }));
  const pem = await readFile(local, 'utf8').catch(() => undefined);
  return pem ? { pem, source: local } : undefined;
}

/** `cutline rollback <runId> --function`: the deployed Rollback function, with the spec the run recorded, as the caller. */
async function awsRollback(io: Io, runId: string, fn: string, bucket: string, spec: unknown, json: boolean): Promise<number> {
  const aws = io.aws ?? defaultAws();
  const who = (await aws.sts.send(new GetCallerIdentityCommand({}))).Arn ?? 'unknown';
  const payload = { spec, results: {}, execution: { name: runId, id: `manual:${who}` }, manual: { by: who } };
  const r = await aws.lambda.send(new InvokeCommand({ FunctionName: fn, Payload: Buffer.from(JSON.stringify(payload)) }));
  const out = r.Payload ? JSON.parse(Buffer.from(r.Payload).toString('utf8')) : {};
  if (r.FunctionError) {
    io.err(`rollback failed: ${out.errorType ?? r.FunctionError}: ${out.errorMessage ?? ''}`);
    return EXIT.NO_GO;
  }
  io.out(json ? JSON.stringify({ runId, by: who, ...out }) : `rollback of ${runId} by ${who}: ${out.ok ? 'every action succeeded' : 'some actions FAILED'} (${out.actions} action(s), recorded in s3://${bucket}/runs/${runId}/)`);
  return out.ok ? EXIT.OK : EXIT.NO_GO;
}

/** Entries of a folder (recursively) that are neither regular files nor folders: symlinks, fifos, devices. */
async function irregularEntries(dir: string, base = dir): Promise<string[]> {
  const { readdir } = await import('node:fs/promises');
  const out: string[] = [];
  let entries: import('node:fs').Dirent[] = [];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await irregularEntries(p, base)));
    else if (!e.isFile()) out.push(path.relative(base, p));
  }
  return out;
}

interface WhereOpts {
  stateMachineArn?: string;
  evidenceDir: string;
  json?: boolean;
}

function seconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0.1 || n > 3600) throw new InvalidArgumentError(`got ${JSON.stringify(v)}; expected seconds between 0.1 and 3600`);
  return n;
}

function executionArnOf(io: Io, runId: string, arn: string | undefined, command: string): string {
  const sm = arn ?? io.env.CUTLINE_STATE_MACHINE_ARN;
  if (!sm) throw new UsageError(`\`cutline ${command}\` needs --state-machine-arn or CUTLINE_STATE_MACHINE_ARN (the stack output StateMachineArn)`);
  if (!/^arn:aws[\w-]*:states:[\w-]+:\d{12}:stateMachine:[\w-]+$/.test(sm)) throw new UsageError(`--state-machine-arn: got ${JSON.stringify(sm)}; expected arn:aws:states:<region>:<account>:stateMachine:<name>`);
  return `${sm.replace(':stateMachine:', ':execution:')}:${runId}`;
}

/**
 * A run's executions in AWS, oldest first: the one named by its runId, then each resume (`cutline resume`) that
 * exists, read by name until the first missing one (no listing).
 */
async function runExecutions(sfn: SFNClient, firstArn: string): Promise<{ name: string; arn: string; status: string; input: string }[]> {
  const runId = firstArn.slice(firstArn.lastIndexOf(':') + 1);
  const out: { name: string; arn: string; status: string; input: string }[] = [];
  for (let n = 1; n < 1000; n++) {
    const name = n === 1 ? runId : resumeExecutionName(runId, n);
    const arn = `${firstArn.slice(0, firstArn.lastIndexOf(':'))}:${name}`;
    try {
      const d = await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
      out.push({ name, arn, status: d.status ?? 'UNKNOWN', input: d.input ?? '{}' });
    } catch (e) {
      if ((e as Error).name === 'ExecutionDoesNotExist') return out;
      throw e;
    }
  }
  return out;
}

const statusExit = (p: Progress) => (p.status === 'RUNNING' || p.status === 'SUCCEEDED' ? EXIT.OK : EXIT.NO_GO);

/** A run's execution history: AWS (DescribeExecution + GetExecutionHistory, DescribeMapRun for distributed gates) or the local folder. */
/** Which execution the events `watch` has seen belong to. */
const seenOf = new WeakMap<HistoryEvent[], string>();

async function runHistory(io: Io, runId: string, o: WhereOpts, seen: HistoryEvent[] = []): Promise<{ events: ProgressEvent[]; status?: string; mapRuns: MapRunProgress[] }> {
  if (!o.stateMachineArn && !io.env.CUTLINE_STATE_MACHINE_ARN) {
    const dir = path.resolve(o.evidenceDir, runId);
    const local = await readLocalRun(dir);
    if (!local) throw new UsageError(`no local run ${runId}: ${path.join(dir, HISTORY_FILE)} does not exist; expected a run started with \`cutline run --local\` (or pass --state-machine-arn for AWS)`);
    const mapRuns = local.mapRuns.map((r) => ({ label: mapRunLabel(r.mapRunArn), done: r.itemCounts.succeeded + r.itemCounts.failed + r.itemCounts.aborted, total: r.itemCounts.total }));
    return { events: fromAwsHistory(local.events), mapRuns };
  }
  const first = executionArnOf(io, runId, o.stateMachineArn, 'status');
  const sfn = sfnClient(io);
  // The run's newest execution: the first one, or its latest resume.
  const latest = (await runExecutions(sfn, first)).at(-1);
  if (!latest) throw new UsageError(`no run ${runId} in AWS (${first}); expected a run started with \`cutline start\``);
  const executionArn = latest.arn;
  // `watch` across a resume: the new execution's events start again at id 1.
  if (seenOf.get(seen) !== executionArn) seen.length = 0;
  seenOf.set(seen, executionArn);
  const d = { status: latest.status };
  // Newest first, down to the last event already seen: `watch` reads only what is new on each poll (event ids only grow).
  const lastId = seen.at(-1)?.id ?? 0;
  const fresh: HistoryEvent[] = [];
  let nextToken: string | undefined;
  pages: do {
    const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, reverseOrder: true, nextToken }));
    for (const e of page.events ?? []) {
      if ((e.id ?? 0) <= lastId) break pages;
      fresh.push(e);
    }
    nextToken = page.nextToken;
  } while (nextToken);
  seen.push(...fresh.reverse());
  const events = seen;
  const mapRuns: MapRunProgress[] = [];
  for (const mapRunArn of new Set(events.map((e) => e.mapRunStartedEventDetails?.mapRunArn).filter((a): a is string => !!a))) {
    const c = (await sfn.send(new DescribeMapRunCommand({ mapRunArn }))).itemCounts;
    if (c) mapRuns.push({ label: mapRunLabel(mapRunArn), done: (c.succeeded ?? 0) + (c.failed ?? 0) + (c.timedOut ?? 0) + (c.aborted ?? 0), total: c.total ?? 0 });
  }
  return { events: fromAwsHistory(events), ...(d.status ? { status: d.status } : {}), mapRuns };
}

async function runProgress(io: Io, runId: string, o: WhereOpts, seen?: HistoryEvent[]): Promise<Progress> {
  const h = await runHistory(io, runId, o, seen);
  const p = progressOf(h.events, h.mapRuns);
  const local = !o.stateMachineArn && !io.env.CUTLINE_STATE_MACHINE_ARN;
  if (local && !h.status && p.status === 'RUNNING') {
    // A local history without an end: running only while its runner lives (lock file, pid, heartbeat).
    const runner = await readRunnerLock(o.evidenceDir, runId);
    if (!runner || !runnerAlive(runner)) {
      const last = runner ? `runner pid ${runner.pid} on ${runner.host} is gone, last heartbeat ${runner.heartbeat_utc}` : 'no runner holds it';
      return {
        ...p,
        status: 'INTERRUPTED',
        ...(p.backfill ? { backfill: { ...p.backfill, etaSeconds: null } } : {}),
        ...(p.gates ? { gates: { ...p.gates, etaSeconds: null } } : {}),
        error: { error: 'Interrupted', cause: `the run stopped in ${p.stage ?? 'its first stage'} (${last}); resume it with \`cutline run <spec> --local\` (same runId: finished chunks are kept)` },
      };
    }
  }
  // A rollback by hand after the run: its records are in the evidence, not in the history.
  const bucket = local ? undefined : io.env.CUTLINE_EVIDENCE_BUCKET;
  const evidence = local ? new FsEvidenceStore(path.resolve(o.evidenceDir)) : bucket ? new S3EvidenceStore((io.aws ?? defaultAws()).s3, bucket) : undefined;
  const status = h.status ?? p.status;
  const rolledBack = evidence && status !== 'RUNNING' ? await manualRollbacks(runId, evidence) : [];
  return { ...p, status, ...(rolledBack.length ? { rolledBack } : {}) };
}

async function planUuidCommand(io: Io, o: { sourceUrl?: string; out?: string; tables?: string; batchSize: number; json?: boolean }): Promise<number> {
  if (!o.sourceUrl) throw new UsageError('`plan uuid` needs --source-url (the database whose keys are planned)');
  if (!o.out) throw new UsageError('`plan uuid` needs --out <dir>');
  const { factory } = await openLocalDatabases({ source: { url: o.sourceUrl } }, {}, () => {});
  try {
    const client = factory.get({ engine: /^(mysql|mariadb):/.test(o.sourceUrl) ? 'mysql' : 'postgres', url: o.sourceUrl });
    const graph = await readUuidGraph(client, o.tables?.split(',').map((t) => t.trim()));
    const v7 = client.dialect === 'postgres' && (await client.query("SELECT to_regproc('uuidv7') IS NOT NULL AS ok")).rows[0]?.ok === true;
    const plan = planUuid(graph, { firstVersion: 1, uuidv7: v7, batchSize: o.batchSize });
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
    const summary = { parents: graph.tables.filter((t) => t.isParent).length, foreignKeys: graph.fks.length, groups: plan.groups, skipped: plan.skipped, uuidv7: v7, out: o.out };
    if (o.json) io.out(JSON.stringify(summary, null, 2));
    else {
      io.out(`uuid plan for ${client.label}: ${summary.parents} table(s) get uuid keys, ${summary.foreignKeys} foreign key(s) get uuid columns, ${plan.groups.length} swap group(s)`);
      for (const sk of plan.skipped) io.out(`  skipped ${sk.table}: ${sk.reason}`);
      io.out(`wrote ${o.out}/migrations, ${plan.contractFiles.length ? 'contract, rollback, ' : ''}spec.fragment.json (merge it into your spec)`);
    }
    return EXIT.OK;
  } finally {
    await factory.closeAll();
  }
}

/** `validate` runs without the run's environment: give ${env:X} placeholders a value so the structure can be checked. */
function placeholderEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return new Proxy({}, { get: (_t, k) => (typeof k === 'string' ? (env[k] ?? `http://${k.toLowerCase()}.env-placeholder.invalid`) : undefined) }) as NodeJS.ProcessEnv;
}

/** Run the CLI; returns the exit code. */
export async function main(argv: string[], io: Io): Promise<number> {
  let code: number = EXIT.OK;
  const program = buildCli(io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    const err = e as { code?: string; exitCode?: number; message?: string; name?: string };
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') return EXIT.OK;
    if (e instanceof UsageError || e instanceof SpecFileError || e instanceof RunnerBusyError || err.name === 'MigrationFailed') {
      io.err(`error: ${err.message}`);
      return EXIT.BAD_INPUT;
    }
    if (err.code?.startsWith('commander.')) return EXIT.BAD_INPUT;
    if (e instanceof InvalidArgumentError) {
      io.err(`error: ${err.message}`);
      return EXIT.BAD_INPUT;
    }
    io.err(`unexpected error: ${err.name}: ${err.message}`);
    return EXIT.ERROR;
  }
}
