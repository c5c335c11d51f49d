/**
 * Fidelity: in AWS an execution name is single-use and a run's evidence is named by its runId, so a run that ended
 * NO_GO could not go on: `cutline redrive` re-entered the terminal Fail state and ended again. A resume is now a new
 * execution named after its run (resumeExecutionName), started with the run's own input (`cutline resume`), which
 * ValidateSpec lets work on the run only when a resume can clear how it ended; the run lease belongs to the run, so
 * the new execution takes over the databases. Locally `--resume` takes the same path through the deployed
 * definition.
 */
import path from 'node:path';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../cli/commands';
import { EXIT } from '../../cli/io';
import { runLocal } from '../../cli/runner/run';
import { isResumeOf, resumeExecutionName } from '../../lambdas/core/attempts';
import type { SqlClient } from '../../lambdas/ports';
import { exists, miniSpec, readJson, tempDir, verifyManifest } from '../support/local-run';

const approve = { kind: 'auto', decision: 'approve', approver: 'a', comment: '' } as const;

describe('resume: a new execution of the same run', () => {
  it('a run that ended NO_GO (VERIFY_FAILED) resumes to GO under a resume name, reusing its chunks; a GO run is refused and its evidence is untouched', async () => {
    const evidenceDir = await tempDir();
    const workDir = await tempDir('cutline-work-');
    const spec = await miniSpec({ runId: 'resume-aws' });
    // The first execution: Verify's function times out after the backfill (VERIFY_FAILED).
    const first = await runLocal({ spec, evidenceDir, workDir, approval: approve, functionTimeouts: { verify: 0.001 }, keepOpen: true, out: () => {} });
    const clients: Record<string, SqlClient> = first.clients;
    try {
      expect([first.outcome, first.classification]).toEqual(['NO_GO', 'VERIFY_FAILED']);
      const chunks = (await readJson(path.join(evidenceDir, 'resume-aws', '04_backfill_plan', 'plan.json'))).phases.flat().length;
      // The resume: a new execution (names are single-use in AWS), the same run.
      const lines: string[] = [];
      const second = await runLocal({ spec, evidenceDir, workDir, approval: approve, clients, keepOpen: true, resume: true, out: (l) => lines.push(l) });
      expect([second.outcome, second.classification]).toEqual(['GO', 'GO']);
      expect(lines.filter((l) => l.includes('(chunk already done: skipped)'))).toHaveLength(chunks);
      const attempt = await readJson(path.join(evidenceDir, 'resume-aws', '00_attempts', '002.json'));
      expect(attempt.execution).toBe(`arn:aws:states:local:000000000000:execution:cutline-local:${resumeExecutionName('resume-aws', 2)}`);
      expect(attempt.previous).toMatchObject({ attempt: 1, ended: 'finished' });
      expect((await verifyManifest(path.join(evidenceDir, 'resume-aws'))).ok).toBe(true);
      // A GO run cannot be resumed: ValidateSpec refuses, and the refusal is written under the execution's own name.
      const third = await runLocal({ spec, evidenceDir, workDir, approval: approve, clients, keepOpen: true, resume: true, out: () => {} });
      expect([third.outcome, third.classification]).toEqual(['NO_GO', 'SPEC_INVALID']);
      expect(third.reason).toMatch(/run resume-aws ended GO, which a resume cannot clear/);
      expect(await exists(path.join(evidenceDir, resumeExecutionName('resume-aws', 3), '01_validate.json'))).toBe(true);
      expect((await readJson(path.join(evidenceDir, 'resume-aws', '99_summary.json'))).details.outcome).toBe('GO');
      expect(await exists(path.join(evidenceDir, 'resume-aws', '00_attempts', '003.json'))).toBe(false);
      expect((await verifyManifest(path.join(evidenceDir, 'resume-aws'))).ok).toBe(true);
    } finally {
      await Promise.all(Object.values(clients).map((c) => c.close()));
    }
  }, 240_000);

  it('resume names fit Step Functions (80 characters) and name exactly one run', () => {
    const long = 'x'.repeat(80);
    expect(resumeExecutionName(long, 999).length).toBeLessThanOrEqual(80);
    expect(isResumeOf(resumeExecutionName('prod-1', 2), 'prod-1')).toBe(true);
    expect(isResumeOf(resumeExecutionName('prod-1', 2), 'prod-2')).toBe(false);
    expect(isResumeOf('prod-1-r2-00000000', 'prod-1')).toBe(false);
  });
});

describe('cutline resume (AWS)', () => {
  const sfn = mockClient(SFNClient);
  afterEach(() => sfn.reset());
  const SM = 'arn:aws:states:eu-west-1:123456789012:stateMachine:cutline';
  const exec = (name: string) => `arn:aws:states:eu-west-1:123456789012:execution:cutline:${name}`;
  const cli = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l), env: {}, sfn: new SFNClient({ region: 'eu-west-1' }) } };
  };
  const notFound = Object.assign(new Error('no such execution'), { name: 'ExecutionDoesNotExist' });

  it("starts the next resume execution with the run's own input", async () => {
    sfn.on(DescribeExecutionCommand).rejects(notFound);
    sfn.on(DescribeExecutionCommand, { executionArn: exec('prod-1') }).resolves({ status: 'FAILED', input: '{"runId":"prod-1"}' });
    sfn.on(DescribeExecutionCommand, { executionArn: exec(resumeExecutionName('prod-1', 2)) }).resolves({ status: 'FAILED', input: '{"runId":"prod-1"}' });
    sfn.on(StartExecutionCommand).resolves({ executionArn: exec(resumeExecutionName('prod-1', 3)) });
    const t = cli();
    expect(await main(['resume', 'prod-1', '--state-machine-arn', SM], t.io as never)).toBe(EXIT.OK);
    expect(sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input)).toEqual([{ stateMachineArn: SM, name: resumeExecutionName('prod-1', 3), input: '{"runId":"prod-1"}' }]);
    expect(t.out[0]).toBe(`resumed prod-1 as execution ${resumeExecutionName('prod-1', 3)}: follow it with \`cutline watch prod-1\``);
  });

  it('a run still running, or never started, is exit 2 and starts nothing', async () => {
    sfn.on(DescribeExecutionCommand).rejects(notFound);
    sfn.on(DescribeExecutionCommand, { executionArn: exec('prod-1') }).resolves({ status: 'RUNNING', input: '{}' });
    const t = cli();
    expect(await main(['resume', 'prod-1', '--state-machine-arn', SM], t.io as never)).toBe(EXIT.BAD_INPUT);
    expect(t.err[0]).toBe('cannot resume prod-1: its execution prod-1 is still RUNNING; expected it to have ended (follow it with `cutline watch prod-1`, or stop it first)');
    const n = cli();
    expect(await main(['resume', 'prod-9', '--state-machine-arn', SM], n.io as never)).toBe(EXIT.BAD_INPUT);
    expect(n.err[0]).toContain('no execution arn:aws:states:eu-west-1:123456789012:execution:cutline:prod-9; expected a run started with `cutline start`');
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });
});
