/** `rollback`: a finished run's rollback actions by hand, locally or through the deployed Rollback function. */
import { specKey, stepKey } from '../../lambdas/core/evidence-layout';
import path from 'node:path';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import type { Command } from 'commander';
import { S3EvidenceStore } from '../../lambdas/adapters/aws/s3';
import { localRollbackDeps } from '../../lambdas/adapters/local/deps';
import { FsEvidenceStore } from '../../lambdas/adapters/local/evidence-fs';
import { defaultSigningKeyPath, FileSigner } from '../../lambdas/adapters/local/signer-file';
import { describeAction } from '../../lambdas/core/actions';
import { readEvidenceJson } from '../../lambdas/core/evidence';

import { manualRollback } from '../../lambdas/core/end-stages';

import { RunSpec } from '../../lambdas/core/spec';
import type { EvidenceStore } from '../../lambdas/ports';
import { aws, EXIT, type Io, localUrl, runIdArg, type SetExit, UsageError } from '../io';
import { applyUrlOverrides, openLocalDatabases } from '../runner/databases';
import { defaultApprover } from '../runner/run';
import { SpecFileError } from '../spec-file';

export function rollbackCommand(program: Command, io: Io, setExit: SetExit): void {
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
      runIdArg(runId);
      // The same guard rails for a local run and for one in AWS (--function): the spec and the cutover record come from its evidence.
      const bucket = o.function ? (o.bucket ?? io.env.CUTLINE_EVIDENCE_BUCKET) : undefined;
      if (o.function && !bucket) throw new UsageError('`cutline rollback --function` needs --bucket or CUTLINE_EVIDENCE_BUCKET (the stack output EvidenceBucketName)');
      const evStore: EvidenceStore = bucket ? new S3EvidenceStore(aws(io, 's3'), bucket) : new FsEvidenceStore(path.resolve(o.evidenceDir));
      const raw = await readEvidenceJson<unknown>(evStore, specKey(runId));
      if (!raw) throw new SpecFileError(`no spec for run ${runId} at ${bucket ? `s3://${bucket}/runs/${runId}/spec.json` : path.resolve(o.evidenceDir, runId, 'spec.json')}; expected the evidence of a run that passed ValidateSpec`);
      const spec = RunSpec.parse(bucket ? raw : applyUrlOverrides(raw, o.sourceUrl, o.targetUrl));
      const cutover = await readEvidenceJson<{ result: string }>(evStore, stepKey(runId, 'cutover'));
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
      const { factory } = await openLocalDatabases(spec, {}, o.json ? () => {} : io.out);
      try {
        const deps = localRollbackDeps({
          sql: (ref) => factory.get(ref),
          evidenceDir: o.evidenceDir,
          parametersFile: path.resolve(o.workDir, runId, 'parameters.json'),
          backupsDir: path.resolve(o.workDir, runId, 'backups'),
          backupTarget: (ref) => (ref.url ? factory.backupTarget(ref.url) : undefined),
          signer: new FileSigner(defaultSigningKeyPath({ ...process.env, ...io.env }), o.evidenceDir),
        });
        const out = await manualRollback(spec, defaultApprover(), deps);
        if (o.json) io.out(JSON.stringify(out, null, 2));
        else for (const a of out.actions) io.out(`${a.ok ? 'ok  ' : 'FAIL'} ${a.index + 1}. ${a.description}: ${a.detail}`);
        setExit(out.ok ? EXIT.OK : EXIT.NO_GO);
      } finally {
        await factory.closeAll();
      }
    });
}

/** `cutline rollback <runId> --function`: the deployed Rollback function, with the spec the run recorded, as the caller. */
async function awsRollback(io: Io, runId: string, fn: string, bucket: string, spec: unknown, json: boolean): Promise<number> {
  const who = (await aws(io, 'sts').send(new GetCallerIdentityCommand({}))).Arn ?? 'unknown';
  const payload = { spec, results: {}, execution: { name: runId, id: `manual:${who}` }, manual: { by: who } };
  const r = await aws(io, 'lambda').send(new InvokeCommand({ FunctionName: fn, Payload: Buffer.from(JSON.stringify(payload)) }));
  const out = r.Payload ? JSON.parse(Buffer.from(r.Payload).toString('utf8')) : {};
  if (r.FunctionError) {
    io.err(`rollback failed: ${out.errorType ?? r.FunctionError}: ${out.errorMessage ?? ''}`);
    return EXIT.NO_GO;
  }
  io.out(json ? JSON.stringify({ runId, by: who, ...out }) : `rollback of ${runId} by ${who}: ${out.ok ? 'every action succeeded' : 'some actions FAILED'} (${out.actions} action(s), recorded in s3://${bucket}/runs/${runId}/)`);
  return out.ok ? EXIT.OK : EXIT.NO_GO;
}

