/** `status`, `watch` and `resume`: where a run is (AWS execution history or the local folder), and a new execution for a run that ended. */
import path from 'node:path';
import { DescribeExecutionCommand, DescribeMapRunCommand, GetExecutionHistoryCommand, type HistoryEvent, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { Command } from 'commander';
import { S3EvidenceStore } from '../../lambdas/adapters/aws/s3';
import { FsEvidenceStore } from '../../lambdas/adapters/local/evidence-fs';
import { resumeExecutionName } from '../../lambdas/core/attempts';

import { manualRollbacks } from '../../lambdas/core/end-stages';

import { aws, EXIT, type Io, seconds, type SetExit, UsageError } from '../io';
import { HISTORY_FILE, mapRunLabel, readLocalRun } from '../local-history';
import { fromAwsHistory, type MapRunProgress, type Progress, type ProgressEvent, progressOf, renderProgress } from '../progress';
import { readRunnerLock, runnerAlive } from '../runner-lock';

export function statusCommands(program: Command, io: Io, setExit: SetExit): void {
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
      const sfn = aws(io, 'sfn');
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
}

export interface WhereOpts {
  stateMachineArn?: string;
  evidenceDir: string;
  json?: boolean;
}

export function executionArnOf(io: Io, runId: string, arn: string | undefined, command: string): string {
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

export async function runHistory(io: Io, runId: string, o: WhereOpts, seen: HistoryEvent[] = []): Promise<{ events: ProgressEvent[]; status?: string; mapRuns: MapRunProgress[] }> {
  if (!o.stateMachineArn && !io.env.CUTLINE_STATE_MACHINE_ARN) {
    const dir = path.resolve(o.evidenceDir, runId);
    const local = await readLocalRun(dir);
    if (!local) throw new UsageError(`no local run ${runId}: ${path.join(dir, HISTORY_FILE)} does not exist; expected a run started with \`cutline run --local\` (or pass --state-machine-arn for AWS)`);
    const mapRuns = local.mapRuns.map((r) => ({ label: mapRunLabel(r.mapRunArn), done: r.itemCounts.succeeded + r.itemCounts.failed + r.itemCounts.aborted, total: r.itemCounts.total }));
    return { events: fromAwsHistory(local.events), mapRuns };
  }
  const first = executionArnOf(io, runId, o.stateMachineArn, 'status');
  const sfn = aws(io, 'sfn');
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
  const evidence = local ? new FsEvidenceStore(path.resolve(o.evidenceDir)) : bucket ? new S3EvidenceStore(aws(io, 's3'), bucket) : undefined;
  const status = h.status ?? p.status;
  const rolledBack = evidence && status !== 'RUNNING' ? await manualRollbacks(runId, evidence) : [];
  return { ...p, status, ...(rolledBack.length ? { rolledBack } : {}) };
}

