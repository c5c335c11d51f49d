/**
 * Fidelity: cutline's engine executes the deployed definition as Step Functions does. aws-local-stepfunctions (the
 * engine before) read TimeoutSecondsPath from the effective input, ignored HeartbeatSecondsPath, ran a Distributed Map
 * only after the runner rewrote it to inline, kept every state's input in its event log and let a States.ALL catch a
 * terminal error; the runner patched each of those by editing the definition or around the engine. Each rule here
 * runs a small definition on the engine with stand-in functions.
 */
import { describe, expect, it, vi } from 'vitest';
import { type Definition, unsupported } from '../../cli/engine/asl';
import { Engine, type EngineHooks, type ExecutionRef, STATE_PAYLOAD_LIMIT } from '../../cli/engine/engine';
import { type HistoryEvent, MemoryHistory } from '../../cli/engine/history';
import type { Json } from '../../cli/engine/json-path';
import { substitutedDefinition } from '../../cli/runner/definition';

const FN = 'arn:aws:lambda:us-east-1:000000000000:function:f';
const SM = 'arn:aws:states:us-east-1:000000000000:stateMachine:t';

function harness(fn: (payload: Json, state: string) => unknown, over: Partial<EngineHooks> = {}) {
  const histories = new Map<string, MemoryHistory>();
  const objects = new Map<string, string>();
  const tokens: { token: string; resolve: (v: unknown) => void; expired: boolean }[] = [];
  const hooks: EngineHooks = {
    invoke: async ({ payload, state }) => fn(payload, state),
    mintToken: () => {
      let resolve: (v: unknown) => void = () => undefined;
      const wait = new Promise<unknown>((r) => {
        resolve = r;
      });
      const t = { token: `tok-${tokens.length}`, resolve, expired: false };
      tokens.push(t);
      return {
        token: t.token,
        wait,
        expire: () => {
          t.expired = true;
        },
      };
    },
    getObject: async (b, k) => {
      const v = objects.get(`${b}/${k}`);
      if (v === undefined) throw new Error(`NoSuchKey ${b}/${k}`);
      return v;
    },
    putObject: async (b, k, body) => void objects.set(`${b}/${k}`, body),
    history: (ref) => {
      const h = new MemoryHistory();
      histories.set(ref.mapRun ? `child-${ref.mapRun.index}` : 'parent', h);
      return h;
    },
    retryDelayMs: () => 0,
    ...over,
  };
  const ref: ExecutionRef = { arn: `${SM.replace(':stateMachine:', ':execution:')}:run-1`, name: 'run-1', stateMachineArn: SM };
  return { hooks, histories, objects, tokens, ref, run: (def: Definition, input: Json, opts = {}) => new Engine(hooks, opts).start(def, input, ref).result };
}

const types = (events: readonly HistoryEvent[]) => events.map((e) => e.type);
const RETRY = [{ ErrorEquals: ['Flaky'], IntervalSeconds: 1, MaxAttempts: 2 }];
const CATCH_ALL = [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Caught' }];
const caught = { Caught: { Type: 'Pass' as const, End: true } };

describe("cutline's engine", () => {
  it('runs the deployed definition as it is: every field it holds is one the engine executes', async () => {
    expect(unsupported(await substitutedDefinition())).toEqual([]);
    const odd = { StartAt: 'A', States: { A: { Type: 'Parallel', Branches: [], End: true }, B: { Type: 'Task', Resource: FN, Credentials: {}, End: true } } } as unknown as Definition;
    expect(unsupported(odd)).toEqual(['States.A: state type Parallel is not executed by the local engine', 'States.B: field Credentials of a Task state is not executed by the local engine']);
    const h = harness(async () => ({}));
    expect(() => new Engine(h.hooks).start(odd, {}, h.ref)).toThrow(/state type Parallel is not executed by the local engine/);
  });

  it("writes GetExecutionHistory's events: ids, previousEventId, *EventDetails with input and output as strings", async () => {
    const h = harness(async (p) => ({ doubled: (p as { n: number }).n * 2 }));
    const def: Definition = { StartAt: 'T', States: { T: { Type: 'Task', Resource: FN, ResultPath: '$.r', End: true } } };
    const out = await h.run(def, { n: 21 });
    expect(out).toMatchObject({ status: 'SUCCEEDED', output: { n: 21, r: { doubled: 42 } }, events: 7 });
    const events = h.histories.get('parent')!.events;
    expect(types(events)).toEqual(['ExecutionStarted', 'TaskStateEntered', 'TaskScheduled', 'TaskStarted', 'TaskSucceeded', 'TaskStateExited', 'ExecutionSucceeded']);
    expect(events.map((e) => [e.id, e.previousEventId])).toEqual([[1, 0], [2, 1], [3, 2], [4, 3], [5, 4], [6, 5], [7, 6]]);
    expect(events[1]).toMatchObject({ stateEnteredEventDetails: { name: 'T', input: '{"n":21}' } });
    expect(events[2]).toMatchObject({ taskScheduledEventDetails: { resourceType: 'lambda', resource: 'invoke', parameters: `{"FunctionName":"${FN}","Payload":{"n":21}}` } });
    expect(events[6]).toMatchObject({ executionSucceededEventDetails: { output: '{"n":21,"r":{"doubled":42}}' } });
  });

  it('reads TimeoutSecondsPath and HeartbeatSecondsPath from the state input, and times a callback out with States.Timeout', async () => {
    vi.useFakeTimers();
    try {
      const h = harness(async () => ({}));
      const def: Definition = {
        StartAt: 'Wait',
        States: {
          Wait: {
            Type: 'Task',
            Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
            Parameters: { FunctionName: FN, Payload: { 'token.$': '$$.Task.Token' } },
            TimeoutSecondsPath: '$.approval.timeoutSeconds',
            HeartbeatSecondsPath: '$.approval.heartbeatSeconds',
            Catch: CATCH_ALL,
            Next: 'Caught',
          },
          ...caught,
        },
      };
      const done = h.run(def, { approval: { timeoutSeconds: 2, heartbeatSeconds: 1 } });
      await vi.advanceTimersByTimeAsync(2001);
      expect(await done).toMatchObject({ status: 'SUCCEEDED', output: { error: { Error: 'States.Timeout' } } });
      expect(h.tokens[0]!.expired).toBe(true);
      const events = h.histories.get('parent')!.events;
      expect(events.find((e) => e.type === 'TaskScheduled')).toMatchObject({ taskScheduledEventDetails: { resource: 'invoke.waitForTaskToken', timeoutInSeconds: 2, heartbeatInSeconds: 1 } });
      expect(types(events)).toContain('TaskSubmitted');
      expect(types(events)).toContain('TaskTimedOut');
    } finally {
      vi.useRealTimers();
    }
  });

  it('a heartbeat not below the timeout fails the execution with States.Runtime, which no States.ALL catch takes', async () => {
    const h = harness(async () => ({}));
    const def: Definition = {
      StartAt: 'Wait',
      States: { Wait: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken', Parameters: { FunctionName: FN, Payload: {} }, TimeoutSecondsPath: '$.t', HeartbeatSecondsPath: '$.h', Catch: CATCH_ALL, Next: 'Caught' }, ...caught },
    };
    expect(await h.run(def, { t: 60, h: 60 })).toMatchObject({ status: 'FAILED', error: 'States.Runtime', cause: expect.stringContaining('heartbeat of state') });
    expect(await h.run(def, { t: 60 })).toMatchObject({ status: 'FAILED', error: 'States.Runtime', cause: expect.stringContaining("'$.h'") });
  });

  it('a result over 262,144 bytes fails the execution with States.DataLimitExceeded, past every Retry and Catch', async () => {
    const h = harness(async () => ({ blob: 'x'.repeat(STATE_PAYLOAD_LIMIT) }));
    const def: Definition = { StartAt: 'Big', States: { Big: { Type: 'Task', Resource: FN, Retry: [{ ErrorEquals: ['States.ALL'] }], Catch: CATCH_ALL, Next: 'Caught' }, ...caught } };
    expect(await h.run(def, {})).toMatchObject({ status: 'FAILED', error: 'States.DataLimitExceeded', cause: expect.stringContaining("the result of state 'Big'") });
  });

  it("a Map's result over 262,144 bytes fails too, even when ResultPath discards it (children that each return their whole input)", async () => {
    const h = harness(async () => ({ ok: true }));
    const child = { StartAt: 'Poll', States: { Poll: { Type: 'Task' as const, Resource: FN, ResultPath: '$.poll', End: true } } };
    const def: Definition = {
      StartAt: 'Soak',
      States: { Soak: { Type: 'Map', ItemsPath: '$.items', ItemSelector: { 'pad.$': '$.pad', 'i.$': '$$.Map.Item.Value' }, ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }, ...child }, ResultPath: null, End: true } },
    };
    const input = { pad: 'x'.repeat(100_000), items: [1, 2, 3] };
    expect(await h.run(def, input)).toMatchObject({ status: 'FAILED', error: 'States.DataLimitExceeded', cause: expect.stringContaining("the result of Map 'Soak'") });
  });

  it('Retry follows IntervalSeconds, BackoffRate and MaxAttempts; Catch puts {Error, Cause} at its ResultPath, Cause as Lambda reports it', async () => {
    const delays: number[] = [];
    let calls = 0;
    const h = harness(
      async () => {
        calls++;
        throw Object.assign(new Error('try again'), { name: 'Flaky' });
      },
      {
        retryDelayMs: (_s, ms) => {
          delays.push(ms);
          return 0;
        },
      },
    );
    const def: Definition = { StartAt: 'T', States: { T: { Type: 'Task', Resource: FN, Retry: [{ ...RETRY[0]!, MaxAttempts: 3, BackoffRate: 2 }], Catch: CATCH_ALL, Next: 'Caught' }, ...caught } };
    const out = await h.run(def, {});
    expect([calls, delays]).toEqual([4, [1000, 2000, 4000]]);
    const error = (out.output as { error: { Error: string; Cause: string } }).error;
    expect(error.Error).toBe('Flaky');
    expect(JSON.parse(error.Cause)).toMatchObject({ errorType: 'Flaky', errorMessage: 'try again' });
  });

  it('an inline Map runs at most 40 iterations at once, and its first failure starts no waiting iteration', async () => {
    let running = 0;
    let peak = 0;
    const seen: number[] = [];
    const h = harness(async (p) => {
      const i = (p as { i: number }).i;
      seen.push(i);
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setImmediate(r));
      running--;
      if (i === 45) throw Object.assign(new Error('bad row'), { name: 'BackfillFailed' });
      return { i };
    });
    const def: Definition = {
      StartAt: 'M',
      States: { M: { Type: 'Map', ItemsPath: '$.items', MaxConcurrency: 0, ItemSelector: { 'i.$': '$$.Map.Item.Value' }, ItemProcessor: { StartAt: 'T', States: { T: { Type: 'Task', Resource: FN, End: true } } }, Catch: CATCH_ALL, Next: 'Caught' }, ...caught },
    };
    const out = await h.run(def, { items: Array.from({ length: 200 }, (_, i) => i) });
    expect(out.output).toMatchObject({ error: { Error: 'BackfillFailed' } });
    expect(peak).toBe(40);
    expect(Math.max(...seen)).toBeLessThan(46 + 40);
    const events = types(h.histories.get('parent')!.events);
    expect(events).toContain('MapIterationFailed');
    expect(events).toContain('MapStateFailed');
  });

  it('a Distributed Map reads its items with ItemReader, runs each as a child execution with its own history, and ResultWriter keeps results out of the state', async () => {
    const h = harness(async (p) => ({ chunk: (p as { chunk: number }).chunk, ok: true }));
    h.objects.set('bucket/run/items.json', JSON.stringify([1, 2, 3]));
    const def: Definition = {
      StartAt: 'M',
      States: {
        M: {
          Type: 'Map',
          ItemReader: { Resource: 'arn:aws:states:::s3:getObject', ReaderConfig: { InputType: 'JSON' }, Parameters: { Bucket: 'bucket', 'Key.$': '$.itemsKey' } },
          ItemSelector: { 'chunk.$': '$$.Map.Item.Value', 'run.$': '$.run' },
          ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }, StartAt: 'T', States: { T: { Type: 'Task', Resource: FN, End: true } } },
          ResultWriter: { Resource: 'arn:aws:states:::s3:putObject', Parameters: { Bucket: 'bucket', 'Prefix.$': '$.resultsPrefix' } },
          ResultPath: '$.results',
          End: true,
        },
      },
    };
    const out = await h.run(def, { run: 'r1', itemsKey: 'run/items.json', resultsPrefix: 'run/map-results' });
    expect(out.status).toBe('SUCCEEDED');
    const results = (out.output as { results: { MapRunArn: string; ResultWriterDetails: { Bucket: string; Key: string } } }).results;
    expect(results.MapRunArn).toMatch(/^arn:aws:states:us-east-1:000000000000:mapRun:t\/M:[0-9a-f-]{36}$/);
    const manifest = JSON.parse(h.objects.get(`bucket/${results.ResultWriterDetails.Key}`)!);
    const succeeded = JSON.parse(h.objects.get(`bucket/${manifest.ResultFiles.SUCCEEDED[0].Key}`)!);
    expect(succeeded.map((c: { Output: string }) => JSON.parse(c.Output))).toEqual([1, 2, 3].map((chunk) => ({ chunk, ok: true })));
    const parent = types(h.histories.get('parent')!.events);
    expect(parent).toEqual(['ExecutionStarted', 'MapStateEntered', 'MapStateStarted', 'MapRunStarted', 'MapRunSucceeded', 'MapStateSucceeded', 'MapStateExited', 'ExecutionSucceeded']);
    for (const i of [0, 1, 2]) expect(types(h.histories.get(`child-${i}`)!.events)).toEqual(['ExecutionStarted', 'TaskStateEntered', 'TaskScheduled', 'TaskStarted', 'TaskSucceeded', 'TaskStateExited', 'ExecutionSucceeded']);
  });

  it('ItemReader with InputType JSONL: a line an item (blank lines skipped), batched by ItemBatcher; a line that is not JSON fails the Map naming it', async () => {
    const seen: Json[] = [];
    const h = harness(async (p) => {
      seen.push(p);
      return { n: (p as { Items: unknown[] }).Items.length };
    });
    h.objects.set('bucket/run/items.jsonl', '{"i":0}\n{"i":1}\n\n{"i":2}\n{"i":3}\n{"i":4}\n');
    h.objects.set('bucket/run/bad.jsonl', '{"i":0}\n{"i":\n');
    const def: Definition = {
      StartAt: 'M',
      States: {
        M: {
          Type: 'Map',
          ItemReader: { Resource: 'arn:aws:states:::s3:getObject', ReaderConfig: { InputType: 'JSONL' }, Parameters: { Bucket: 'bucket', 'Key.$': '$.itemsKey' } },
          ItemBatcher: { MaxItemsPerBatch: 2, BatchInput: { 'run.$': '$.run' } },
          ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }, StartAt: 'T', States: { T: { Type: 'Task', Resource: FN, End: true } } },
          ResultWriter: { Resource: 'arn:aws:states:::s3:putObject', Parameters: { Bucket: 'bucket', Prefix: 'run/map-results' } },
          ResultPath: '$.results',
          End: true,
        },
      },
    };
    expect((await h.run(def, { run: 'r1', itemsKey: 'run/items.jsonl' })).status).toBe('SUCCEEDED');
    expect(seen.map((p) => (p as { Items: { i: number }[] }).Items.map((x) => x.i)).sort()).toEqual([[0, 1], [2, 3], [4]]);
    expect(seen.every((p) => (p as { BatchInput: { run: string } }).BatchInput.run === 'r1')).toBe(true);
    const bad = await h.run(def, { run: 'r1', itemsKey: 'run/bad.jsonl' });
    expect([bad.status, bad.error, bad.cause]).toEqual(['FAILED', 'States.ItemReaderFailed', 's3://bucket/run/bad.jsonl: line 2 is not JSON']);
  });

  it('ItemReader JSONL streamed (getObjectLines): each line read as its batch starts, never the whole file at once; same items, same failures', async () => {
    const lines = Array.from({ length: 50 }, (_, i) => JSON.stringify({ i }));
    let opens = 0;
    let readOnSecondPass = 0;
    let mostAhead = 0;
    const started: number[] = [];
    const h = harness(
      async (p) => {
        const items = (p as { Items: { i: number }[] }).Items;
        started.push(items[0]!.i);
        // Lines the second pass has read beyond this batch: at most the other batch in flight (MaxConcurrency 2).
        mostAhead = Math.max(mostAhead, readOnSecondPass - (items[0]!.i + items.length));
        return { n: items.length };
      },
      {
        getObjectLines: (_b, k) => {
          const pass = ++opens;
          return (async function* () {
            const text = k.endsWith('bad.jsonl') ? '{"i":0}\n{"i":\n' : `${lines.join('\n')}\n`;
            for (const l of text.split('\n')) {
              if (pass === 2) readOnSecondPass++;
              yield l;
            }
          })();
        },
      },
    );
    const def: Definition = {
      StartAt: 'M',
      States: {
        M: {
          Type: 'Map',
          ItemReader: { Resource: 'arn:aws:states:::s3:getObject', ReaderConfig: { InputType: 'JSONL' }, Parameters: { Bucket: 'bucket', 'Key.$': '$.itemsKey' } },
          ItemBatcher: { MaxItemsPerBatch: 5 },
          MaxConcurrency: 2,
          ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }, StartAt: 'T', States: { T: { Type: 'Task', Resource: FN, End: true } } },
          ResultWriter: { Resource: 'arn:aws:states:::s3:putObject', Parameters: { Bucket: 'bucket', Prefix: 'run/map-results' } },
          ResultPath: '$.results',
          End: true,
        },
      },
    };
    expect((await h.run(def, { itemsKey: 'run/items.jsonl' })).status).toBe('SUCCEEDED');
    expect(started.sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, b) => b * 5));
    // One pass to count, then line by line as batches start: never more than one batch read ahead.
    expect(opens).toBe(2);
    expect(mostAhead).toBeLessThanOrEqual(5);
    const bad = await h.run(def, { itemsKey: 'run/bad.jsonl' });
    expect([bad.status, bad.error, bad.cause]).toEqual(['FAILED', 'States.ItemReaderFailed', 's3://bucket/run/bad.jsonl: line 2 is not JSON']);
  });

  it('loops over an array at the top level with States.ArrayLength, States.ArrayGetItem, States.MathAdd and NumericEqualsPath', async () => {
    const seen: Json[] = [];
    const h = harness(async (p) => void seen.push(p));
    const def: Definition = {
      StartAt: 'Init',
      States: {
        Init: { Type: 'Pass', Parameters: { index: 0, 'count.$': 'States.ArrayLength($.phases)' }, ResultPath: '$.loop', Next: 'More' },
        More: { Type: 'Choice', Choices: [{ Variable: '$.loop.index', NumericEqualsPath: '$.loop.count', Next: 'Done' }], Default: 'Pick' },
        Pick: { Type: 'Pass', Parameters: { 'index.$': '$.loop.index', 'count.$': '$.loop.count', 'phase.$': 'States.ArrayGetItem($.phases, $.loop.index)' }, ResultPath: '$.loop', Next: 'Run' },
        Run: { Type: 'Task', Resource: FN, Parameters: { 'phase.$': '$.loop.phase', 'label.$': "States.ArrayGetItem(States.ArrayGetItem($.labels, 0), States.MathAdd($.loop.index, -1))" }, ResultPath: null, Catch: CATCH_ALL, Next: 'Step' },
        Step: { Type: 'Pass', Parameters: { 'index.$': 'States.MathAdd($.loop.index, 1)', 'count.$': '$.loop.count' }, ResultPath: '$.loop', Next: 'More' },
        Done: { Type: 'Succeed' },
        ...caught,
      },
    };
    expect(unsupported(def)).toEqual([]);
    // The first look at label index -1 fails the intrinsic (catchable, as States.IntrinsicFailure is in AWS).
    const out = await h.run(def, { phases: ['a', 'b', 'c'], labels: [['x', 'y', 'z']] });
    expect(out).toMatchObject({ status: 'SUCCEEDED', output: { error: { Error: 'States.IntrinsicFailure' } } });
    expect(seen).toEqual([]);
    const loop = { ...def, States: { ...def.States, Run: { ...def.States.Run!, Parameters: { 'phase.$': '$.loop.phase', 'n.$': 'States.MathAdd($.loop.index, 1)' } } } } as Definition;
    const done = await h.run(loop, { phases: ['a', 'b', 'c'] });
    expect(done).toMatchObject({ status: 'SUCCEEDED', output: { phases: ['a', 'b', 'c'], loop: { index: 3, count: 3 } } });
    expect(seen).toEqual([{ phase: 'a', n: 1 }, { phase: 'b', n: 2 }, { phase: 'c', n: 3 }]);
    // An intrinsic the engine does not execute is refused by name before a run starts.
    expect(unsupported({ StartAt: 'P', States: { P: { Type: 'Pass', Parameters: { 'u.$': 'States.UUID()' }, End: true } } })).toEqual([
      'States.P.Parameters.u.$: "States.UUID()" is neither a reference path ($.a.b or $$.A.b) nor an intrinsic the local engine executes (States.ArrayGetItem, States.ArrayLength, States.MathAdd): States.UUID is not executed',
    ]);
  });

  it('a Distributed Map fails past its tolerated failure percentage with States.ExceedToleratedFailureThreshold', async () => {
    const h = harness(async (p) => {
      if ((p as { n: number }).n % 2) throw Object.assign(new Error('odd'), { name: 'GateFailed' });
      return {};
    });
    const def: Definition = {
      StartAt: 'M',
      States: {
        M: {
          Type: 'Map',
          ItemsPath: '$.items',
          ToleratedFailurePercentagePath: '$.tolerated',
          ResultPath: null,
          ItemSelector: { 'n.$': '$$.Map.Item.Value' },
          ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }, StartAt: 'T', States: { T: { Type: 'Task', Resource: FN, End: true } } },
          Catch: CATCH_ALL,
          Next: 'Caught',
        },
        ...caught,
      },
    };
    const items = Array.from({ length: 10 }, (_, i) => i);
    expect(await h.run(def, { items, tolerated: 50 })).toMatchObject({ status: 'SUCCEEDED', output: { items } });
    expect(await h.run(def, { items, tolerated: 0 })).toMatchObject({ output: { error: { Error: 'States.ExceedToleratedFailureThreshold' } } });
  });

  it('the history stops at its quota: the execution fails with States.Runtime and ExecutionFailed is the last event within it', async () => {
    const h = harness(async () => ({}));
    const def: Definition = { StartAt: 'M', States: { M: { Type: 'Map', ItemsPath: '$.items', ItemProcessor: { StartAt: 'T', States: { T: { Type: 'Task', Resource: FN, End: true } } }, End: true } } };
    const out = await h.run(def, { items: Array.from({ length: 100 }, (_, i) => i) }, { historyEventLimit: 50 });
    expect(out).toMatchObject({ status: 'FAILED', error: 'States.Runtime', events: 50 });
    expect(h.histories.get('parent')!.events.at(-1)).toMatchObject({ id: 50, type: 'ExecutionFailed' });
  });
});
