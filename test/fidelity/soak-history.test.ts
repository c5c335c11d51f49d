/**
 * Fidelity: a long soak fits Step Functions' limits as the state machine is written. The Soak map of the deployed
 * definition runs here verbatim on the engine (Wait states shortened to nothing, SoakPoll a stand-in with its
 * contract): a 7-day soak polled every 60 seconds is 10,081 polls; each child execution's history and the parent's
 * are counted event by event, against the 25,000-event quota, and every state stays under the 256 KiB payload limit
 * (the engine refuses a larger one).
 */
import { describe, expect, it } from 'vitest';
import type { Definition } from '../../cli/engine/asl';
import { Engine, type EngineHooks, type ExecutionRef } from '../../cli/engine/engine';
import { HISTORY_EVENT_LIMIT, type HistoryEvent, type HistorySink } from '../../cli/engine/history';
import type { Json } from '../../cli/engine/json-path';
import { substitutedDefinition } from '../../cli/runner/definition';
import { POLLS_PER_SEGMENT, soakPolls, soakSegments } from '../../lambdas/core/phases';
import type { SoakPollInput, SoakPollResult } from '../../lambdas/core/phases';
import { RunSpec } from '../../lambdas/core/spec';
import { STATES } from '../../lambdas/core/states';

const SEVEN_DAYS = { seconds: 7 * 24 * 3600, pollSeconds: 60, monitors: [] };

/** A history that counts its events (keeping 10,000 of them with a 60 KB spec each would take gigabytes). */
class CountingHistory implements HistorySink {
  count = 0;
  write(_e: HistoryEvent): void {
    this.count++;
  }
  async close(): Promise<void> {}
}

async function soakOnly(): Promise<Definition> {
  const def = await substitutedDefinition();
  const { Catch: _catch, Next: _next, ...soak } = def.States[STATES.soak]!;
  return { StartAt: STATES.soak, States: { [STATES.soak]: { ...soak, End: true } } } as unknown as Definition;
}

describe('a 7-day soak polled every minute', () => {
  it('is 10,081 polls in 6 child executions, each under the 25,000-event quota; the parent adds a few events; counted, not assumed', async () => {
    expect(soakPolls(SEVEN_DAYS)).toBe(10_081);
    const segments = soakSegments(SEVEN_DAYS);
    expect(segments.map((s) => s.polls)).toEqual([2000, 2000, 2000, 2000, 2000, 81]);
    // A spec of 60 KB: each child carries it, and the Map's result (every child's output) must still stay under 256 KiB.
    const spec = RunSpec.parse({
      version: 1,
      runId: 'soak-7d',
      owner: 'o',
      tCutover: '2026-12-01T00:00:00Z',
      description: 'x'.repeat(60_000),
      source: { engine: 'postgres', url: 'pglite://memory' },
      phases: [{ name: 'canary', actions: [{ type: 'parameter', name: '/app/traffic', value: 'canary' }], soak: SEVEN_DAYS }],
    });
    const histories = new Map<string, CountingHistory>();
    const waits: number[] = [];
    let polls = 0;
    const hooks: EngineHooks = {
      // SoakPoll's contract (lambdas/core/phases.ts): count this segment's polls, say whether to wait for another.
      invoke: async ({ payload, state }) => {
        expect(state).toBe(STATES.soakPoll);
        const input = payload as unknown as SoakPollInput;
        polls++;
        const n = (input.poll?.n ?? 0) + 1;
        return { n, more: n < input.segment.polls, waitSeconds: input.segment.pollSeconds, streaks: {} } satisfies SoakPollResult;
      },
      mintToken: () => {
        throw new Error('no callbacks here');
      },
      getObject: async () => '',
      putObject: async () => {},
      history: (ref) => {
        const h = new CountingHistory();
        histories.set(ref.mapRun ? `child-${ref.mapRun.index}` : 'parent', h);
        return h;
      },
      waitMs: (_state, seconds) => {
        waits.push(seconds);
        return 0;
      },
      retryDelayMs: () => 0,
    };
    const ref: ExecutionRef = { arn: 'arn:aws:states:us-east-1:000000000000:execution:t:soak-7d', name: 'soak-7d', stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:t' };
    const input = { spec, results: { phase: { index: 0, segments: segments as unknown as Json } } } as unknown as Json;
    const out = await new Engine(hooks).start(await soakOnly(), input, ref).result;
    expect(out.status, `${out.error}: ${out.cause}`).toBe('SUCCEEDED');
    expect(polls).toBe(10_081);
    // Every wait is the poll interval: 10,080 of them, so the soak lasts 7 days of Wait states and no function sleeps.
    expect(waits.length).toBe(10_080);
    expect(new Set(waits)).toEqual(new Set([60]));
    const children = [...histories.entries()].filter(([k]) => k.startsWith('child-')).map(([, h]) => h.count);
    expect(children).toHaveLength(6);
    const most = Math.max(...children);
    expect(most).toBeLessThan(HISTORY_EVENT_LIMIT);
    // Per poll: SoakPoll's five events, SoakMore's two, SoakWait's two.
    expect(most).toBeGreaterThan(POLLS_PER_SEGMENT * 9);
    expect(most).toBeLessThan(POLLS_PER_SEGMENT * 9 + 20);
    const parent = histories.get('parent')!.count;
    expect(parent).toBeLessThan(20);
    console.log(`7-day soak at 60 s: ${polls} polls, ${children.length} child executions of at most ${most} events, the parent ${parent} events`);
  }, 120_000);
});
