/**
 * Map states of the local engine: inline (iterations in the execution's own history, at most 40 at once; the first
 * failure stops the Map) and distributed (a Map Run of child executions over ItemReader or ItemsPath items, optionally
 * batched, with tolerated failures and ResultWriter files), with Step Functions' limits.
 */
import { randomUUID } from 'node:crypto';
import type { Definition, StateDef } from './asl';
import { StatesError } from './errors';
import {
  Aborted,
  DISTRIBUTED_MAP_CONCURRENCY,
  type EngineHooks,
  type EngineOptions,
  type ExecutionOutcome,
  type ExecutionRef,
  INLINE_MAP_CONCURRENCY,
  nonNegativeInt,
  pool,
  positiveInt,
  type Scope,
  str,
  type Thread,
} from './execution';
import { type ContextObject, type Json, payload, readPath } from './json-path';

/** What a Map state needs of the execution it runs in. */
export interface MapHost {
  readonly ref: ExecutionRef;
  readonly hooks: Pick<EngineHooks, 'getObject' | 'getObjectLines' | 'putObject'>;
  /** Child executions of a Distributed Map start here. */
  readonly engine: { start(definition: Definition, input: Json, ref: ExecutionRef): { result: Promise<ExecutionOutcome>; abort: () => void }; readonly opts: EngineOptions };
  now(): number;
  emit(thread: Thread, type: string, details?: Record<string, unknown>): number;
  sized(value: unknown, what: string): string;
  context(name: string, scope: Scope): ContextObject;
  inputPath(s: StateDef, input: Json, name: string): Json;
  states(def: Definition, input: Json, scope: Scope): Promise<Json>;
}

export async function runMap(host: MapHost, name: string, s: StateDef, input: Json, scope: Scope): Promise<Json> {
  const { thread } = scope;
  const eff = host.inputPath(s, input, name);
  const ctx = host.context(name, scope);
  const distributed = s.ItemProcessor!.ProcessorConfig?.Mode === 'DISTRIBUTED';
  let items: ItemList;
  if (s.ItemReader) {
    const p = payload(s.ItemReader.Parameters, eff, ctx, 'ItemReader.Parameters') as { Bucket?: string; Key?: string };
    const where = `s3://${p.Bucket}/${p.Key}`;
    const failed = (e: Error) => {
      throw e instanceof StatesError ? e : new StatesError('States.ItemReaderFailed', `${where}: ${e.message}`);
    };
    const jsonl = (s.ItemReader.ReaderConfig?.InputType ?? 'JSON') === 'JSONL';
    const { getObjectLines } = host.hooks;
    if (jsonl && getObjectLines) items = await streamedLines(() => getObjectLines(String(p.Bucket), String(p.Key)), where).catch(failed);
    else {
      const text = await host.hooks.getObject(String(p.Bucket), String(p.Key)).catch(failed);
      // Without a line reader the text's lines are handed out the same way.
      items = jsonl ? await streamedLines(() => linesOf(text), where) : jsonArray(text, where);
    }
  } else {
    const array = readPath(s.ItemsPath ?? '$', eff, ctx, 'ItemsPath');
    if (!Array.isArray(array)) throw new StatesError('States.Runtime', `the ItemsPath of Map '${name}' does not point to an array`);
    items = listOf(array);
  }
  const max = s.MaxConcurrency ?? (s.MaxConcurrencyPath ? nonNegativeInt(readPath(s.MaxConcurrencyPath, eff, ctx, 'MaxConcurrencyPath'), `MaxConcurrencyPath (${s.MaxConcurrencyPath})`) : 0);
  host.emit(thread, 'MapStateStarted', { length: items.length });
  const select = (item: Json, index: number): Json => {
    const v = s.ItemSelector !== undefined ? payload(s.ItemSelector, eff, { ...ctx, Map: { Item: { Index: index, Value: item } } }, 'ItemSelector') : item;
    host.sized(v, `item ${index} of Map '${name}'`);
    return v;
  };
  let result: Json;
  if (!distributed) result = await inlineMap(host, name, s, await items.all(), select, Math.min(max || INLINE_MAP_CONCURRENCY, INLINE_MAP_CONCURRENCY), scope);
  else result = await distributedMap(host, name, s, eff, batches(s, eff, items), select, max, scope);
  // As in AWS, the Map's result is a payload of its own: over the limit it fails, whatever ResultPath does with it.
  host.sized(result, `the result of Map '${name}'`);
  if (s.ResultSelector !== undefined) result = payload(s.ResultSelector, result, ctx, 'ResultSelector');
  host.emit(thread, 'MapStateSucceeded');
  return result;
}

/** A Map's items, read one at a time (in index order): a JSON array, or JSON Lines streamed. */
interface ItemList {
  readonly length: number;
  at(index: number): Promise<Json>;
  all(): Promise<Json[]>;
}

const listOf = (array: Json[]): ItemList => ({ length: array.length, at: async (i) => array[i]!, all: async () => array });

function jsonArray(text: string, where: string): ItemList {
  let items: Json;
  try {
    items = JSON.parse(text) as Json;
  } catch {
    throw new StatesError('States.ItemReaderFailed', `${where} is not JSON`);
  }
  if (!Array.isArray(items)) throw new StatesError('States.ItemReaderFailed', `${where} does not hold a JSON array`);
  return listOf(items);
}

/** One JSON value a line, blank lines skipped; a line that is not JSON fails the Map, naming it. */
const parseLine = (line: string, n: number, where: string): Json => {
  try {
    return JSON.parse(line) as Json;
  } catch {
    throw new StatesError('States.ItemReaderFailed', `${where}: line ${n} is not JSON`);
  }
};

async function* linesOf(text: string): AsyncIterable<string> {
  yield* text.split('\n');
}

/**
 * InputType JSONL streamed: a first pass counts and checks the lines, a second hands them out as the Map asks, in index
 * order (each ask is queued behind the one before): memory holds the items being started, not the file.
 */
async function streamedLines(open: () => AsyncIterable<string>, where: string): Promise<ItemList> {
  let length = 0;
  for await (const line of open()) if (line.trim()) parseLine(line, ++length, where);
  let reader: AsyncIterator<string> | undefined;
  let next = 0;
  let queue: Promise<unknown> = Promise.resolve();
  const at = (i: number): Promise<Json> => {
    const read = queue.then(async () => {
      if (i !== next) throw new StatesError('States.ItemReaderFailed', `${where}: item ${i} asked for out of order (next is ${next})`);
      reader ??= open()[Symbol.asyncIterator]();
      for (;;) {
        const r = await reader.next();
        if (r.done) throw new StatesError('States.ItemReaderFailed', `${where}: ${length} items counted, the file now ends at ${next}`);
        if (!r.value.trim()) continue;
        next++;
        return parseLine(r.value, next, where);
      }
    });
    queue = read.catch(() => undefined);
    return read;
  };
  return { length, at, all: () => Promise.all(Array.from({ length }, (_, i) => at(i))) };
}

/** ItemBatcher: batch i holds items [i × size, (i + 1) × size), built when its child starts. */
function batches(s: StateDef, eff: Json, items: ItemList): ItemList {
  if (!s.ItemBatcher) return items;
  const b = s.ItemBatcher;
  const size = b.MaxItemsPerBatch ?? (b.MaxItemsPerBatchPath ? positiveInt(readPath(b.MaxItemsPerBatchPath, eff, undefined, 'MaxItemsPerBatchPath'), 'MaxItemsPerBatchPath') : items.length || 1);
  const batchInput = b.BatchInput !== undefined ? payload(b.BatchInput, eff, undefined, 'ItemBatcher.BatchInput') : undefined;
  const length = Math.ceil(items.length / size);
  // Every item of the batch asked for at once, in order: a streamed list hands them out in the order asked.
  const at = async (i: number): Promise<Json> => ({
    ...(batchInput !== undefined ? { BatchInput: batchInput } : {}),
    Items: await Promise.all(Array.from({ length: Math.min(size, items.length - i * size) }, (_, k) => items.at(i * size + k))),
  });
  return { length, at, all: () => Promise.all(Array.from({ length }, (_, i) => at(i))) };
}

/** Bytes of child records a local result file holds before the next one starts (AWS splits at 5 GB: stricter here). */
export const RESULT_FILE_BYTES = 4 * 1024 * 1024;

/** ResultWriter's files: SUCCEEDED_n / FAILED_n / PENDING_n.json of child records as they end, then manifest.json. */
function resultFiles(host: MapHost, p: { Bucket?: string; Prefix?: string }, runId: string, mapRunArn: string) {
  const prefix = `${String(p.Prefix ?? '').replace(/\/$/, '')}/${runId}`;
  const files: Record<string, { Key: string; Size: number }[]> = { FAILED: [], PENDING: [], SUCCEEDED: [] };
  const buffers: Record<string, { parts: string[]; bytes: number }> = { FAILED: { parts: [], bytes: 0 }, PENDING: { parts: [], bytes: 0 }, SUCCEEDED: { parts: [], bytes: 0 } };
  let writing: Promise<void> = Promise.resolve();
  const put = (key: string, body: string) =>
    host.hooks.putObject(String(p.Bucket), key, body).catch((e: Error) => {
      throw new StatesError('States.ResultWriterFailed', `s3://${p.Bucket}/${key}: ${e.message}`);
    });
  const flush = (status: string) => {
    const b = buffers[status]!;
    if (!b.parts.length) return writing;
    const body = `[${b.parts.join(',')}]`;
    const key = `${prefix}/${status}_${files[status]!.length}.json`;
    files[status]!.push({ Key: key, Size: Buffer.byteLength(body) });
    buffers[status] = { parts: [], bytes: 0 };
    // One write at a time, in order: a failed write fails the Map at its next record or at close.
    writing = writing.then(() => put(key, body));
    return writing;
  };
  return {
    async add(status: 'SUCCEEDED' | 'FAILED' | 'PENDING', ...records: unknown[]): Promise<void> {
      const b = buffers[status]!;
      for (const r of records) {
        const text = JSON.stringify(r);
        b.parts.push(text);
        b.bytes += text.length + 1;
      }
      if (b.bytes >= RESULT_FILE_BYTES) await flush(status);
    },
    async close(): Promise<Json> {
      for (const status of Object.keys(buffers)) await flush(status);
      await writing;
      const manifestKey = `${prefix}/manifest.json`;
      await put(manifestKey, JSON.stringify({ DestinationBucket: p.Bucket, MapRunArn: mapRunArn, ResultFiles: files }));
      return { MapRunArn: mapRunArn, ResultWriterDetails: { Bucket: String(p.Bucket), Key: manifestKey } };
    },
  };
}

/** An inline Map: iterations in this execution's history. */
async function inlineMap(host: MapHost, name: string, s: StateDef, items: Json[], select: (item: Json, i: number) => Json, limit: number, scope: Scope): Promise<Json> {
  const controller = new AbortController();
  const signal = AbortSignal.any([scope.signal, controller.signal]);
  const results: Json[] = new Array(items.length).fill(null);
  let failure: unknown;
  await pool(
    items.length,
    limit,
    async (index) => {
      const thread: Thread = { prev: scope.thread.prev };
      host.emit(thread, 'MapIterationStarted', { name, index });
      try {
        results[index] = await host.states(s.ItemProcessor!, select(items[index]!, index), { thread, signal, item: { Index: index, Value: items[index]! } });
        host.emit(thread, 'MapIterationSucceeded', { name, index });
      } catch (e) {
        if (e instanceof Aborted || signal.aborted) {
          host.emit(thread, 'MapIterationAborted', { name, index });
          return;
        }
        host.emit(thread, 'MapIterationFailed', { name, index });
        failure ??= e;
        controller.abort();
      }
    },
    () => signal.aborted,
  );
  if (scope.signal.aborted) throw new Aborted();
  if (failure !== undefined) {
    host.emit(scope.thread, 'MapStateFailed');
    throw failure;
  }
  return results;
}

/** A Distributed Map: a Map Run of child executions, each with its own history. */
async function distributedMap(host: MapHost, name: string, s: StateDef, eff: Json, items: ItemList, select: (item: Json, i: number) => Json, max: number, scope: Scope): Promise<Json> {
  const label = s.Label ?? name;
  const runId = randomUUID();
  const smArn = host.ref.stateMachineArn;
  const mapRunArn = `${smArn.replace(':stateMachine:', ':mapRun:')}/${label}:${runId}`;
  host.emit(scope.thread, 'MapRunStarted', { mapRunArn });
  const ctx = host.context(name, scope);
  const pct = s.ToleratedFailurePercentage ?? (s.ToleratedFailurePercentagePath ? (readPath(s.ToleratedFailurePercentagePath, eff, ctx, 'ToleratedFailurePercentagePath') as number) : 0);
  const count = s.ToleratedFailureCount ?? (s.ToleratedFailureCountPath ? nonNegativeInt(readPath(s.ToleratedFailureCountPath, eff, ctx, 'ToleratedFailureCountPath'), 'ToleratedFailureCountPath') : undefined);
  if (typeof pct !== 'number' || pct < 0 || pct > 100) throw new StatesError('States.Runtime', `ToleratedFailurePercentage of Map '${name}' is ${JSON.stringify(pct)}; expected a number from 0 to 100`);
  // With a ResultWriter, each child's record goes to a result file as it ends (a few MiB a file): memory stays flat
  // however many children run. Without one, the outputs are the Map's result (the state's 256 KiB bounds them).
  const writer = s.ResultWriter ? resultFiles(host, payload(s.ResultWriter.Parameters, eff, ctx, 'ResultWriter.Parameters') as { Bucket?: string; Prefix?: string }, runId, mapRunArn) : undefined;
  const outputs: Json[] | undefined = writer ? undefined : new Array(items.length).fill(null);
  const ended = new Uint8Array(items.length);
  const running = new Set<() => void>();
  let failed = 0;
  let exceeded = false;
  const engine = host.engine;
  // The parent stopped (aborted, or failed at its history quota): its running children stop with it.
  const stopChildren = () => {
    for (const abort of running) abort();
  };
  scope.signal.addEventListener('abort', stopChildren, { once: true });
  await pool(
    items.length,
    Math.min(max || DISTRIBUTED_MAP_CONCURRENCY, engine.opts.childConcurrency ?? DISTRIBUTED_MAP_CONCURRENCY),
    async (index) => {
      const childName = randomUUID();
      // A batch (ItemBatcher) counts its items, as DescribeMapRun's itemCounts do.
      const item = await items.at(index);
      const batch = s.ItemBatcher ? (item as { Items?: unknown[] }).Items?.length : undefined;
      const ref: ExecutionRef = {
        arn: `${smArn.replace(':stateMachine:', ':execution:')}/${label}:${childName}`,
        name: childName,
        stateMachineArn: `${smArn}/${label}`,
        mapRun: { arn: mapRunArn, label, index, items: batch ?? 1 },
      };
      let input: Json;
      try {
        input = select(item, index);
      } catch (e) {
        failed++;
        ended[index] = 1;
        await writer?.add('FAILED', { Name: childName, Status: 'FAILED', Error: (e as Error).name, Cause: (e as StatesError).causeText ?? (e as Error).message });
        exceeded ||= failed > (count ?? Number.POSITIVE_INFINITY) || (failed / items.length) * 100 > pct;
        return;
      }
      const started = new Date(host.now()).toISOString();
      const child = engine.start(s.ItemProcessor!, input, ref);
      running.add(child.abort);
      const out = await child.result;
      running.delete(child.abort);
      ended[index] = 1;
      if (outputs && out.status === 'SUCCEEDED') outputs[index] = out.output ?? null;
      await writer?.add(out.status === 'SUCCEEDED' ? 'SUCCEEDED' : 'FAILED', {
        ExecutionArn: ref.arn,
        Name: childName,
        Input: str(input),
        InputDetails: { Included: true },
        StartDate: started,
        StopDate: new Date(host.now()).toISOString(),
        StateMachineArn: ref.stateMachineArn,
        Status: out.status,
        ...(out.status === 'SUCCEEDED' ? { Output: str(out.output), OutputDetails: { Included: true } } : { Error: out.error, Cause: out.cause }),
      });
      if (out.status === 'FAILED') {
        failed++;
        if (failed > (count ?? Number.POSITIVE_INFINITY) || (failed / items.length) * 100 > pct) {
          exceeded = true;
          stopChildren();
        }
      }
    },
    () => exceeded || scope.signal.aborted,
  );
  scope.signal.removeEventListener('abort', stopChildren);
  if (scope.signal.aborted) throw new Aborted();
  let result: Json = outputs ?? null;
  if (writer) {
    const pending: Json[] = [];
    for (let i = 0; i < items.length; i++) if (!ended[i]) pending.push({ Index: i });
    if (pending.length) await writer.add('PENDING', ...pending);
    result = await writer.close();
  }
  if (exceeded) {
    const cause = `The specified tolerated failure threshold was exceeded: ${failed} of ${items.length} child executions failed (tolerated: ${pct}%${count !== undefined ? ` or ${count}` : ''})`;
    host.emit(scope.thread, 'MapRunFailed', { error: 'States.ExceedToleratedFailureThreshold', cause });
    host.emit(scope.thread, 'MapStateFailed');
    throw new StatesError('States.ExceedToleratedFailureThreshold', cause);
  }
  host.emit(scope.thread, 'MapRunSucceeded');
  return result;
}