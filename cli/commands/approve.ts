/** `approve` / `reject`: answer a run's go/no-go in AWS as the caller's AWS identity. */
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import type { Command } from 'commander';
import { S3ApprovalStore, S3EvidenceStore } from '../../lambdas/adapters/aws/s3';
import { SfnTaskTokens } from '../../lambdas/adapters/aws/sfn';
import { systemClock } from '../../lambdas/adapters/local/runtime';
import { decideApproval } from '../../lambdas/core/approval';
import { aws, EXIT, type Io, type SetExit, UsageError } from '../io';

export function approveCommands(program: Command, io: Io, setExit: SetExit): void {
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
        const store = new S3ApprovalStore(aws(io, 's3'), approvals);
        const pending = await store.latestFor(runId);
        if (!pending) {
          io.err(`no pending approval for run ${runId} in s3://${approvals}/private/approvals/; expected a run waiting at GoNoGo`);
          return setExit(EXIT.BAD_INPUT);
        }
        const who = (await aws(io, 'sts').send(new GetCallerIdentityCommand({}))).Arn ?? 'unknown';
        const out = await decideApproval(
          { approvalId: pending.approvalId, decision, approver: who, comment: o.comment, via: 'cli', identifiedBy: 'aws identity' },
          { approvalStore: store, tokens: new SfnTaskTokens(aws(io, 'sfn')), evidence: new S3EvidenceStore(aws(io, 's3'), bucket), clock: systemClock },
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
}
