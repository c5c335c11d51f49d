/**
 * cutline's local Step Functions engine: it executes the deployed definition as it is (no rewrites) with the
 * semantics and limits of AWS Step Functions for the part of the language asl.ts admits, and writes each execution's
 * history in GetExecutionHistory's shape as it goes.
 *
 * - Task: Lambda function ARNs and `lambda:invoke[.waitForTaskToken]`; TimeoutSeconds(Path) and HeartbeatSeconds(Path)
 *   read from the state input; Retry (interval, backoff, max delay, jitter) and Catch, where States.ALL never takes a
 *   terminal error (States.Runtime, States.DataLimitExceeded).
 * - Map INLINE: at most 40 iterations at a time (MaxConcurrency 0 = 40, as AWS runs them); the first iteration that
 *   fails for good fails the Map, starts no waiting iteration and stops the running ones.
 * - Map DISTRIBUTED: a Map Run whose items come from ItemReader (S3 getObject, JSON or JSON Lines) or ItemsPath, optionally batched,
 *   each run as its own child execution with its own history; ToleratedFailurePercentage/Count; ResultWriter writes
 *   manifest.json and SUCCEEDED_0/FAILED_0/PENDING_0 files and the state gets only their location.
 * - Limits: a state input or output, a task's parameters or result, an item over 262,144 bytes fails the execution with
 *   States.DataLimitExceeded; the history reaching 25,000 events fails it with States.Runtime.
 */
import { type Definition, LAMBDA_ARN, type StateDef, unsupported } from './asl';
import { errorMatches, lambdaError, StatesError } from './errors';
import {
  Aborted,
  type EngineHooks,
  type EngineOptions,
  type ExecutionOutcome,
  type ExecutionRef,
  STATE_PAYLOAD_LIMIT,
  type Scope,
  type Step,
  sleep,
  str,
  type Thread,
  untilAborted,
  nonNegativeInt,
  positiveInt,
} from './execution';
import { detailsKey, HISTORY_EVENT_LIMIT, type HistoryEvent, type HistorySink } from './history';
import { type MapHost, runMap } from './map';
import { applyResultPath, type ContextObject, hasPath, type Json, payload, readPath } from './json-path';

export { DISTRIBUTED_MAP_CONCURRENCY, type EngineHooks, type EngineOptions, type ExecutionOutcome, type ExecutionRef, INLINE_MAP_CONCURRENCY, STATE_PAYLOAD_LIMIT } from './execution';
/** The timeout of a Task with neither TimeoutSeconds nor TimeoutSecondsPath (AWS: 99999999 s). */
const DEFAULT_TASK_TIMEOUT = 99_999_999;
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Engine {
  constructor(
    private readonly hooks: EngineHooks,
    private readonly options: EngineOptions = {},
  ) {}

  get historyLimit(): number {
    return Math.min(HISTORY_EVENT_LIMIT, this.options.historyEventLimit ?? HISTORY_EVENT_LIMIT);
  }

  /**
   * Start an execution; `abort()` stops it as StopExecution does. A definition using what the engine does not execute
   * is refused before anything runs (as CreateStateMachine refuses an invalid one).
   */
  start(definition: Definition, input: Json, ref: ExecutionRef): { result: Promise<ExecutionOutcome>; abort: () => void } {
    if (!ref.mapRun) {
      const problems = unsupported(definition);
      if (problems.length) throw new Error(`the definition uses what the local engine does not execute:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    }
    const run = new Run(this, this.hooks, definition, ref);
    return { result: run.run(input), abort: () => run.stop() };
  }

  /** @internal */
  get opts(): EngineOptions {
    return this.options;
  }
}

/** One execution: its history, its abort signal and the states it runs. */
class Run implements MapHost {
  private readonly controller = new AbortController();
  private events = 0;
  private fatal: StatesError | undefined;
  private readonly sink: HistorySink;
  private readonly startTime: string;
  private input: Json = null;

  constructor(
    readonly engine: Engine,
    readonly hooks: EngineHooks,
    private readonly definition: Definition,
    readonly ref: ExecutionRef,
  ) {
    this.sink = hooks.history(ref);
    this.startTime = new Date(this.now()).toISOString();
  }

  now(): number {
    return this.hooks.now?.() ?? Date.now();
  }

  stop(): void {
    this.controller.abort();
  }

  /** Append an event to the history; the event that reaches the quota fails the execution (States.Runtime). */
  emit(thread: Thread, type: string, details?: Record<string, unknown>, final = false): number {
    // Past the quota only the execution's last event is written (ExecutionFailed), as in AWS.
    if (this.fatal && !final) return thread.prev;
    const id = ++this.events;
    const event: HistoryEvent = { id, previousEventId: thread.prev, timestamp: new Date(this.now()).toISOString(), type, ...(details ? { [detailsKey(type)]: details } : {}) };
    thread.prev = id;
    this.sink.write(event);
    this.hooks.onEvent?.(this.ref, event);
    if (!final && !this.fatal && id >= this.engine.historyLimit - 1) {
      this.fatal = new StatesError('States.Runtime', `the execution history reached ${id + 1} events; Step Functions allows ${this.engine.historyLimit} in one execution`);
      this.controller.abort();
    }
    return id;
  }

  /** The value as JSON text, once it is known to be within Step Functions' payload limit. */
  sized(value: unknown, what: string, text = str(value)): string {
    const n = Buffer.byteLength(text);
    if (n > STATE_PAYLOAD_LIMIT) throw new StatesError('States.DataLimitExceeded', `${what} has a size of ${n} bytes, exceeding the maximum of ${STATE_PAYLOAD_LIMIT} bytes`);
    return text;
  }

  context(name: string, scope: Scope, token?: string): ContextObject {
    const smArn = this.ref.stateMachineArn;
    return {
      Execution: { Id: this.ref.arn, Name: this.ref.name, Input: this.input, StartTime: this.startTime },
      StateMachine: { Id: smArn, Name: smArn.split(':').at(-1)! },
      State: { Name: name, EnteredTime: new Date(this.now()).toISOString(), RetryCount: 0 },
      ...(token ? { Task: { Token: token } } : {}),
      ...(scope.item ? { Map: { Item: scope.item } } : {}),
    };
  }

  async run(input: Json): Promise<ExecutionOutcome> {
    this.input = input;
    const thread: Thread = { prev: 0 };
    const inputText = str(input);
    this.emit(thread, 'ExecutionStarted', { input: inputText, inputDetails: { truncated: false }, roleArn: 'arn:aws:iam::000000000000:role/cutline-local' });
    let outcome: Omit<ExecutionOutcome, 'events'>;
    try {
      this.sized(input, 'the execution input', inputText);
      const output = await this.states(this.definition, input, { thread, signal: this.controller.signal });
      const outputText = this.sized(output, 'the execution output');
      if (this.fatal) throw this.fatal;
      this.emit(thread, 'ExecutionSucceeded', { output: outputText, outputDetails: { truncated: false } }, true);
      outcome = { status: 'SUCCEEDED', output };
    } catch (e) {
      const err = this.fatal ?? (e instanceof Aborted ? undefined : e instanceof StatesError ? e : lambdaError(e));
      if (err) {
        this.emit(thread, 'ExecutionFailed', { error: err.name, cause: err.causeText }, true);
        outcome = { status: 'FAILED', error: err.name, cause: err.causeText };
      } else {
        this.emit(thread, 'ExecutionAborted', {}, true);
        outcome = { status: 'ABORTED' };
      }
    }
    await this.sink.close();
    return { ...outcome, events: this.events };
  }

  async states(def: Definition, input: Json, scope: Scope): Promise<Json> {
    let name = def.StartAt;
    let data = input;
    for (;;) {
      if (scope.signal.aborted) throw new Aborted();
      const step = await this.state(name, def.States[name]!, data, scope);
      if (step.next === undefined) return step.output;
      name = step.next;
      data = step.output;
    }
  }

  private async state(name: string, s: StateDef, input: Json, scope: Scope): Promise<Step> {
    const { thread } = scope;
    const inputText = str(input);
    this.emit(thread, `${s.Type}StateEntered`, { name, input: inputText, inputDetails: { truncated: false } });
    this.sized(input, `the input of state '${name}'`, inputText);
    const exit = (output: Json, next: string | undefined): Step => {
      const text = this.sized(output, `the output of state '${name}'`);
      this.emit(thread, `${s.Type}StateExited`, { name, output: text, outputDetails: { truncated: false } });
      return { next, output };
    };
    const after = (result: Json) => this.outputPath(s, applyResultPath(s.ResultPath, input, result), name);
    const next = s.End ? undefined : s.Next;
    switch (s.Type) {
      case 'Pass': {
        const eff = this.inputPath(s, input, name);
        return exit(after(s.Parameters !== undefined ? payload(s.Parameters, eff, this.context(name, scope)) : (s.Result ?? eff)), next);
      }
      case 'Wait': {
        const eff = this.inputPath(s, input, name);
        const seconds = s.Seconds ?? nonNegativeInt(readPath(s.SecondsPath!, eff, undefined, 'SecondsPath'), `SecondsPath (${s.SecondsPath})`);
        await sleep(this.hooks.waitMs?.(name, seconds) ?? seconds * 1000, scope.signal);
        return exit(this.outputPath(s, input, name), next);
      }
      case 'Choice': {
        const eff = this.inputPath(s, input, name);
        const rule = (s.Choices ?? []).find((r) => this.matches(r, eff));
        const to = rule?.Next ?? s.Default;
        if (!to) throw new StatesError('States.NoChoiceMatched', `No Choice rule of state '${name}' matched and it has no Default`);
        return exit(this.outputPath(s, input, name), to);
      }
      case 'Succeed':
        return exit(this.outputPath(s, this.inputPath(s, input, name), name), undefined);
      case 'Fail': {
        const error = s.Error ?? (s.ErrorPath ? String(readPath(s.ErrorPath, input, undefined, 'ErrorPath')) : 'States.Fail');
        const cause = s.Cause ?? (s.CausePath ? String(readPath(s.CausePath, input, undefined, 'CausePath')) : '');
        throw new StatesError(error, cause);
      }
      case 'Task':
      case 'Map':
        return this.retrying(name, s, input, scope, (result) => exit(after(result), next));
    }
  }

  /** Run a Task or Map with its Retry and Catch. */
  private async retrying(name: string, s: StateDef, input: Json, scope: Scope, exit: (result: Json) => Step): Promise<Step> {
    const attempts = (s.Retry ?? []).map(() => 0);
    for (;;) {
      try {
        const result = s.Type === 'Task' ? await this.task(name, s, input, scope) : await runMap(this, name, s, input, scope);
        return exit(result);
      } catch (e) {
        if (e instanceof Aborted || scope.signal.aborted) throw e instanceof Aborted ? e : new Aborted();
        const err = e instanceof StatesError ? e : lambdaError(e);
        const i = (s.Retry ?? []).findIndex((r) => errorMatches(r.ErrorEquals, err, s.Type === 'Task'));
        const r = s.Retry?.[i];
        if (r && attempts[i]! < (r.MaxAttempts ?? 3)) {
          const base = (r.IntervalSeconds ?? 1) * (r.BackoffRate ?? 2) ** attempts[i]! * 1000;
          const capped = Math.min(base, (r.MaxDelaySeconds ?? Number.POSITIVE_INFINITY) * 1000);
          const ms = r.JitterStrategy === 'FULL' ? Math.random() * capped : capped;
          attempts[i]!++;
          await sleep(this.hooks.retryDelayMs?.(name, ms) ?? ms, scope.signal);
          continue;
        }
        const c = (s.Catch ?? []).find((x) => errorMatches(x.ErrorEquals, err, s.Type === 'Task'));
        if (!c) throw err;
        const output = applyResultPath(c.ResultPath, input, { Error: err.name, Cause: err.causeText });
        this.sized(output, `the output of state '${name}'`);
        return { next: c.Next, output };
      }
    }
  }

  inputPath(s: StateDef, input: Json, name: string): Json {
    if (s.InputPath === undefined || s.InputPath === '$') return input;
    if (s.InputPath === null) return {};
    return readPath(s.InputPath, input, undefined, `InputPath of ${name}`);
  }
  private outputPath(s: StateDef, output: Json, name: string): Json {
    if (s.OutputPath === undefined || s.OutputPath === '$') return output;
    if (s.OutputPath === null) return {};
    return readPath(s.OutputPath, output, undefined, `OutputPath of ${name}`);
  }

  private matches(r: NonNullable<StateDef['Choices']>[number], data: Json): boolean {
    if (r.And) return r.And.every((x) => this.matches(x, data));
    if (r.Or) return r.Or.some((x) => this.matches(x, data));
    if (r.Not) return !this.matches(r.Not, data);
    const variable = r.Variable!;
    if (r.IsPresent !== undefined) return hasPath(variable, data) === r.IsPresent;
    const v = readPath(variable, data, undefined, 'Variable');
    if (r.StringEquals !== undefined) return v === r.StringEquals;
    if (r.BooleanEquals !== undefined) return v === r.BooleanEquals;
    if (r.NumericEquals !== undefined) return v === r.NumericEquals;
    if (r.NumericEqualsPath !== undefined) {
      const w = readPath(r.NumericEqualsPath, data, undefined, 'NumericEqualsPath');
      return typeof v === 'number' && v === w;
    }
    return false;
  }

  private async task(name: string, s: StateDef, input: Json, scope: Scope): Promise<Json> {
    const { thread, signal } = scope;
    const eff = this.inputPath(s, input, name);
    const timeout = s.TimeoutSeconds ?? (s.TimeoutSecondsPath ? positiveInt(readPath(s.TimeoutSecondsPath, input, undefined, 'TimeoutSecondsPath'), `TimeoutSecondsPath (${s.TimeoutSecondsPath})`) : DEFAULT_TASK_TIMEOUT);
    const heartbeat = s.HeartbeatSeconds ?? (s.HeartbeatSecondsPath ? positiveInt(readPath(s.HeartbeatSecondsPath, input, undefined, 'HeartbeatSecondsPath'), `HeartbeatSecondsPath (${s.HeartbeatSecondsPath})`) : undefined);
    if (heartbeat !== undefined && heartbeat >= timeout)
      throw new StatesError('States.Runtime', `the heartbeat of state '${name}' (${heartbeat} s) is not less than its timeout (${timeout} s); Step Functions requires HeartbeatSeconds < TimeoutSeconds`);
    const resource = s.Resource!;
    const callback = resource.endsWith('.waitForTaskToken');
    const direct = LAMBDA_ARN.test(resource);
    const token = callback ? this.hooks.mintToken(heartbeat !== undefined ? { heartbeatSeconds: heartbeat } : {}) : undefined;
    const params = s.Parameters !== undefined ? payload(s.Parameters, eff, this.context(name, scope, token?.token)) : eff;
    const { FunctionName, Payload } = (direct ? { FunctionName: resource, Payload: params } : params) as { FunctionName?: Json; Payload?: Json };
    const kind = { resourceType: 'lambda', resource: callback ? 'invoke.waitForTaskToken' : 'invoke' };
    this.emit(thread, 'TaskScheduled', {
      ...kind,
      region: this.engine.opts.region ?? 'us-east-1',
      parameters: str(direct ? { FunctionName, Payload } : params),
      timeoutInSeconds: timeout,
      ...(heartbeat !== undefined ? { heartbeatInSeconds: heartbeat } : {}),
    });
    this.sized(params, `the parameters of state '${name}'`);
    if (typeof FunctionName !== 'string') throw new StatesError('States.Runtime', `state '${name}': Parameters.FunctionName must be a string`);
    this.emit(thread, 'TaskStarted', kind);
    let timer: NodeJS.Timeout | undefined;
    // Node's timers hold at most 2^31-1 ms (about 24.8 days); a longer timeout cannot fire within a local run.
    const timedOut = new Promise<never>((_, reject) => {
      if (timeout * 1000 <= MAX_TIMER_MS) timer = setTimeout(() => reject(new StatesError('States.Timeout', `state '${name}' did not finish within ${timeout} seconds (TimeoutSeconds)`)), timeout * 1000);
    });
    try {
      const invoked = this.hooks.invoke({ functionArn: FunctionName, payload: Payload ?? {}, state: name, execution: this.ref }).catch((e: unknown) => {
        throw lambdaError(e);
      });
      const returned = JSON.parse(str(await untilAborted(Promise.race([invoked, timedOut]), signal))) as Json;
      const wrapped: Json = direct ? returned : { ExecutedVersion: '$LATEST', Payload: returned, StatusCode: 200 };
      let result = wrapped;
      if (token) {
        this.emit(thread, 'TaskSubmitted', { ...kind, output: str(wrapped), outputDetails: { truncated: false } });
        const answered = token.wait.catch((e: unknown) => {
          throw callbackError(e);
        });
        result = JSON.parse(str(await untilAborted(Promise.race([answered, timedOut]), signal))) as Json;
      }
      let resultText = this.sized(result, `the result of state '${name}'`);
      if (s.ResultSelector !== undefined) {
        result = payload(s.ResultSelector, result, this.context(name, scope), 'ResultSelector');
        resultText = str(result);
      }
      this.emit(thread, 'TaskSucceeded', { ...kind, output: resultText, outputDetails: { truncated: false } });
      return result;
    } catch (e) {
      token?.expire();
      if (e instanceof Aborted) throw e;
      const err = e instanceof StatesError ? e : lambdaError(e);
      if (err.name === 'States.Timeout') this.emit(thread, 'TaskTimedOut', { ...kind, error: err.name, cause: err.causeText });
      else this.emit(thread, 'TaskFailed', { ...kind, error: err.name, cause: err.causeText });
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

}

/** An answer by SendTaskFailure: its error and cause as given. */
function callbackError(e: unknown): StatesError {
  const err = e as { name?: string; message?: string };
  return new StatesError(err.name ?? 'States.TaskFailed', err.message ?? '');
}
