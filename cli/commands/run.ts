/** `validate`, `run --local` and `start`: check a spec, run it on this machine, or start it in AWS. */
import path from 'node:path';
import { DescribeExecutionCommand, ExecutionAlreadyExists, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { Command } from 'commander';
import { FsEvidenceStore } from '../../lambdas/adapters/local/evidence-fs';
import { autoDecisionProblem } from '../../lambdas/core/approval';
import { resumeProblem, sealedOutcome } from '../../lambdas/core/attempts';
import { RESUMABLE } from '../../lambdas/core/decision';
import { renderEstimate } from '../../lambdas/core/estimate';
import { parseSpec, platformProblems } from '../../lambdas/core/spec';
import { aws, EXIT, type Io, localUrl, placeholderEnv, port, type SetExit, UsageError } from '../io';
import { defaultApprover, runLocal } from '../runner/run';
import { readSpecFile, SpecFileError } from '../spec-file';
import { estimateRun } from './estimate';
import { executionArnOf } from './status';

export function runCommands(program: Command, io: Io, setExit: SetExit): void {
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
      const flag = o.autoApprove ? '--auto-approve' : o.autoReject ? '--auto-reject' : undefined;
      const parsed = parseSpec(spec);
      const refused = flag && parsed.ok ? autoDecisionProblem(parsed.spec.approval, o.approver, flag) : undefined;
      if (refused) throw new UsageError(refused);
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
      // What the method gates will cost and take, before starting; an estimate that cannot be made never stops a start.
      if (!o.json && r.spec.target && r.spec.gates.tables.length) {
        const e = await estimateRun(r.spec, raw as Record<string, unknown>, io).catch((err: Error) => err);
        if (e instanceof Error) io.out(`estimate: not available (${e.message.split('\n')[0]}); \`cutline estimate ${file}\` says more`);
        else if (e) for (const l of renderEstimate(e)) io.out(l);
      }
      const stateMachineArn = (o.stateMachineArn ?? io.env.CUTLINE_STATE_MACHINE_ARN)!;
      const sfn = aws(io, 'sfn');
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
}
