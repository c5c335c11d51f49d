/** `cutline status|watch <runId>` against mocked Step Functions (aws-sdk-client-mock); `resume`: test/fidelity/resume-execution.test.ts. */
import { DescribeExecutionCommand, DescribeMapRunCommand, GetExecutionHistoryCommand, type HistoryEvent, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { buildCli, main } from '../../cli/commands';
import { EXIT } from '../../cli/io';

const sfnm = mockClient(SFNClient);
const SM = 'arn:aws:states:eu-west-1:123456789012:stateMachine:cutline';
const EXEC = 'arn:aws:states:eu-west-1:123456789012:execution:cutline:prod-1';
const T0 = Date.parse('2026-11-21T02:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000);

let id = 0;
const entered = (name: string, s: number): HistoryEvent => ({ id: ++id, type: 'TaskStateEntered', timestamp: at(s), stateEnteredEventDetails: { name } });
const exited = (name: string, s: number, output: unknown = {}): HistoryEvent => ({ id: ++id, type: 'TaskStateExited', timestamp: at(s), stateExitedEventDetails: { name, output: JSON.stringify(output) } });

/** A run 4 chunks into a 10-chunk backfill, 1,000 rows per chunk, one chunk a second. */
function backfilling(): HistoryEvent[] {
  id = 0;
  const ev: HistoryEvent[] = [{ id: ++id, type: 'ExecutionStarted', timestamp: at(0) }];
  ev.push(entered('ValidateSpec', 0), exited('ValidateSpec', 1), entered('Preflight', 1), exited('Preflight', 3), entered('Schema', 3), exited('Schema', 10));
  const phases = [{ phase: 1, count: 1, distributed: false, chunks: [{ task: 'a', index: 0 }] }, { phase: 2, count: 9, distributed: false, chunks: Array.from({ length: 9 }, (_, i) => ({ task: 'b', index: i })) }];
  ev.push(entered('BackfillPlan', 10), exited('BackfillPlan', 11, { results: { backfillPlan: { count: 10, phases } } }), entered('BackfillPhases', 11), exited('BackfillPhases', 11), entered('BackfillPhasesLeft', 11), exited('BackfillPhasesLeft', 11), entered('BackfillPhase', 11), exited('BackfillPhase', 11), { id: ++id, type: 'MapStateEntered', timestamp: at(11), stateEnteredEventDetails: { name: 'BackfillChunks' } });
  for (let i = 0; i < 4; i++) ev.push(entered('BackfillChunk', 12 + i), exited('BackfillChunk', 13 + i, { t: 'b', i, rows: 1000, skipped: false }));
  return ev;
}

/** GetExecutionHistory as the service answers it: reverseOrder, pages (of 5 here) chained by nextToken. */
function serveHistory(events: () => HistoryEvent[]) {
  sfnm.on(GetExecutionHistoryCommand).callsFake((i: { reverseOrder?: boolean; nextToken?: string }) => {
    const all = i.reverseOrder ? [...events()].reverse() : events();
    const from = Number(i.nextToken ?? 0);
    return { events: all.slice(from, from + 5), ...(from + 5 < all.length ? { nextToken: String(from + 5) } : {}) };
  });
}

function cli(env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const sleeps: number[] = [];
  const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l), env, sfn: new SFNClient({ region: 'eu-west-1' }), sleep: async (ms: number) => void sleeps.push(ms) };
  return { out, err, sleeps, io };
}

beforeEach(() => {
  sfnm.reset();
  // Only the executions a test describes exist (status looks for resumes of the run by name).
  sfnm.on(DescribeExecutionCommand).rejects(Object.assign(new Error('no such execution'), { name: 'ExecutionDoesNotExist' }));
});

describe('cutline status (AWS)', () => {
  it('reads every history page: stage, chunks done/total, rows/s and ETA', async () => {
    const ev = backfilling();
    sfnm.on(DescribeExecutionCommand, { executionArn: EXEC }).resolves({ status: 'RUNNING' });
    serveHistory(() => ev);
    const t = cli();
    expect(await main(['status', 'prod-1', '--state-machine-arn', SM, '--json'], t.io)).toBe(EXIT.OK);
    const p = JSON.parse(t.out.join('\n'));
    expect(p).toMatchObject({ runId: 'prod-1', status: 'RUNNING', stage: 'BackfillPhases', startedUtc: '2026-11-21T02:00:00.000Z' });
    // 4 chunks in 4 s (12 -> 16): 1,000 rows/s, 6 chunks left at 1 chunk/s.
    expect(p.backfill).toEqual({ done: 4, total: 10, rows: 4000, rowsPerSecond: 1000, etaSeconds: 6 });
    expect(p.stages.slice(0, 3)).toEqual([
      { name: 'ValidateSpec', ms: 1000 },
      { name: 'Preflight', ms: 2000 },
      { name: 'Schema', ms: 7000 },
    ]);
    expect(sfnm.commandCalls(GetExecutionHistoryCommand)).toHaveLength(Math.ceil(ev.length / 5));
    expect(sfnm.commandCalls(GetExecutionHistoryCommand)[0]!.args[0].input).toMatchObject({ executionArn: EXEC, reverseOrder: true });
  });

  it('prints one readable block without --json', async () => {
    sfnm.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
    const ev = backfilling();
    serveHistory(() => ev);
    const t = cli({ CUTLINE_STATE_MACHINE_ARN: SM });
    expect(await main(['status', 'prod-1'], t.io)).toBe(EXIT.OK);
    expect(t.out.join('\n').split('\n')).toEqual([
      'prod-1: RUNNING · in BackfillPhases · started 2026-11-21T02:00:00.000Z',
      '  backfill: 4/10 chunks (40%), 4,000 rows, 1,000 rows/s, ETA 6s',
      '  done: ValidateSpec 1.0s, Preflight 2.0s, Schema 7.0s, BackfillPlan 1.0s',
    ]);
  });

  const MAP_RUN = `${SM.replace(':stateMachine:', ':mapRun:')}/GateChunksDistributed:0f6c1b8e-4d55-4f0e-9a53-2b1d3c4e5f60`;
  it('distributed gates: counts come from DescribeMapRun (the chunks run in child executions)', async () => {
    const ev = backfilling();
    ev.push(entered('GatePlan', 20), exited('GatePlan', 21, { results: { gatePlan: { count: 120, distributed: true } } }));
    ev.push({ id: ++id, type: 'MapStateEntered', timestamp: at(21), stateEnteredEventDetails: { name: 'GateChunksDistributed' } });
    ev.push({ id: ++id, type: 'MapRunStarted', timestamp: at(21), mapRunStartedEventDetails: { mapRunArn: MAP_RUN } });
    sfnm.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
    serveHistory(() => ev);
    sfnm.on(DescribeMapRunCommand, { mapRunArn: MAP_RUN }).resolves({ itemCounts: { succeeded: 28, failed: 2, total: 120, pending: 80, running: 10, timedOut: 0, aborted: 0, resultsWritten: 30 } });
    const t = cli();
    expect(await main(['status', 'prod-1', '--state-machine-arn', SM, '--json'], t.io)).toBe(EXIT.OK);
    const p = JSON.parse(t.out.join('\n'));
    expect(p.stage).toBe('GateChunksDistributed');
    expect(p.gates).toMatchObject({ done: 30, total: 120 });
  });

  it('a failed run is exit 1 with its error; an unknown run and a bad ARN are exit 2', async () => {
    const ev = backfilling();
    ev.push({ id: ++id, type: 'ExecutionFailed', timestamp: at(30), executionFailedEventDetails: { error: 'GATE_FAILED', cause: 'orders: 2 differing keys' } });
    sfnm.on(DescribeExecutionCommand, { executionArn: EXEC }).resolves({ status: 'FAILED' });
    serveHistory(() => ev);
    const t = cli();
    expect(await main(['status', 'prod-1', '--state-machine-arn', SM], t.io)).toBe(EXIT.NO_GO);
    expect(t.out.join('\n')).toContain('error: GATE_FAILED: orders: 2 differing keys');
    sfnm.on(DescribeExecutionCommand, { executionArn: `${SM.replace(':stateMachine:', ':execution:')}:nope` }).rejects(Object.assign(new Error('does not exist'), { name: 'ExecutionDoesNotExist' }));
    const u = cli();
    expect(await main(['status', 'nope', '--state-machine-arn', SM], u.io)).toBe(EXIT.BAD_INPUT);
    expect(u.err[0]).toContain('no run nope in AWS');
    const b = cli();
    expect(await main(['status', 'prod-1', '--state-machine-arn', 'cutline'], b.io)).toBe(EXIT.BAD_INPUT);
    expect(b.err[0]).toContain('--state-machine-arn: got "cutline"; expected arn:aws:states:<region>:<account>:stateMachine:<name>');
  });
});

describe('cutline watch (AWS)', () => {
  it('polls until the run ends, printing only changes, reading only new events; the exit code is the ending', async () => {
    const ev = backfilling();
    const more = [...ev, { ...exited('BackfillChunk', 17, { rows: 1000 }), id: ev.length + 1 }];
    const polls = [
      { status: 'RUNNING', events: ev },
      { status: 'RUNNING', events: ev },
      { status: 'RUNNING', events: more },
      { status: 'SUCCEEDED', events: [...more, { id: more.length + 1, type: 'ExecutionSucceeded' as const, timestamp: at(40) }] },
    ];
    let poll = -1;
    sfnm.on(DescribeExecutionCommand, { executionArn: EXEC }).callsFake(() => ({ status: polls[++poll]!.status }));
    serveHistory(() => polls[poll]!.events);
    const t = cli();
    expect(await main(['watch', 'prod-1', '--state-machine-arn', SM, '--interval', '2', '--json'], t.io)).toBe(EXIT.OK);
    const lines = t.out.map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.status, l.backfill.done])).toEqual([
      ['RUNNING', 4],
      ['RUNNING', 5],
      ['SUCCEEDED', 5],
    ]);
    expect(t.sleeps).toEqual([2000, 2000, 2000]);
    // The first poll pages through the whole history; each later poll reads one page back to the last event it had.
    expect(sfnm.commandCalls(GetExecutionHistoryCommand)).toHaveLength(Math.ceil(ev.length / 5) + 3);
  });

  it('a bad --interval is exit 2 naming the value', async () => {
    const t = cli();
    expect(await main(['watch', 'prod-1', '--state-machine-arn', SM, '--interval', 'soon'], t.io)).toBe(EXIT.BAD_INPUT);
    expect(t.err.join('\n')).toContain('got "soon"; expected seconds between 0.1 and 3600');
  });
});

describe('every command', () => {
  it('takes --json and has a description', () => {
    const leaves = (c: Command): Command[] => (c.commands.length ? c.commands.flatMap(leaves) : [c]);
    const all = leaves(buildCli({ out: () => {}, err: () => {}, env: {} }, () => {}));
    expect(all.map((c) => c.name())).toEqual(expect.arrayContaining(['validate', 'run', 'start', 'plan', 'status', 'watch', 'resume', 'approve', 'reject', 'rollback', 'ls', 'get', 'verify', 'open']));
    for (const c of all) {
      expect(c.options.map((o) => o.long), c.name()).toContain('--json');
      expect(c.description(), c.name()).not.toBe('');
    }
  });
});
