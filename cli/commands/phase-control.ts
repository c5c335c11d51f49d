/** `abort` / `promote`: an operator's word on the phase a run is soaking, recorded with their identity. */
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import type { Command } from 'commander';
import { S3EvidenceStore } from '../../lambdas/adapters/aws/s3';
import { FsEvidenceStore } from '../../lambdas/adapters/local/evidence-fs';
import { systemClock } from '../../lambdas/adapters/local/runtime';
import { controlPhase } from '../../lambdas/core/phases';
import { aws, EXIT, type Io, type SetExit, UsageError } from '../io';
import { defaultApprover } from '../runner/run';

const WHAT = {
  abort: 'stop the soak of the phase a run is in and roll back every applied phase',
  promote: 'end the soak of the phase a run is in early and go on to the next phase',
} as const;

export function phaseControlCommands(program: Command, io: Io, setExit: SetExit): void {
  for (const action of ['abort', 'promote'] as const) {
    program
      .command(action)
      .description(`${WHAT[action]} (noticed at the soak's next poll; recorded with your identity)`)
      .argument('<runId>', 'the run (execution name)')
      .requiredOption('--comment <text>', 'why (recorded in the evidence)')
      .option('--evidence-dir <dir>', 'a local run: where its evidence folders are')
      .option('--bucket <name>', 'a run in AWS: evidence bucket (stack output EvidenceBucketName); default $CUTLINE_EVIDENCE_BUCKET')
      .option('--json', 'machine-readable output')
      .action(async (runId: string, o: { comment: string; evidenceDir?: string; bucket?: string; json?: boolean }) => {
        const bucket = o.bucket ?? (o.evidenceDir ? undefined : io.env.CUTLINE_EVIDENCE_BUCKET);
        if (!!bucket === !!o.evidenceDir) throw new UsageError(`\`cutline ${action}\` needs exactly one of --evidence-dir (a local run) or --bucket / CUTLINE_EVIDENCE_BUCKET (a run in AWS)`);
        const evidence = bucket ? new S3EvidenceStore(aws(io, 's3'), bucket) : new FsEvidenceStore(o.evidenceDir!);
        const by = bucket ? ((await aws(io, 'sts').send(new GetCallerIdentityCommand({}))).Arn ?? 'unknown') : defaultApprover();
        const out = await controlPhase(runId, { action, by, via: bucket ? 'cli (aws identity)' : 'cli (local login)', comment: o.comment }, { evidence, clock: systemClock });
        if (!out.ok) {
          io.err(`${action} refused: ${out.reason}`);
          return setExit(EXIT.BAD_INPUT);
        }
        io.out(o.json ? JSON.stringify({ runId, action, phase: out.phase, by }) : `${action} of phase ${out.phase} of run ${runId} recorded as ${by}; the soak takes it at its next poll`);
        setExit(EXIT.OK);
      });
  }
}
