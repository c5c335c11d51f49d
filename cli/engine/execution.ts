/**
 * What an execution of the local engine is made of, shared by the engine and its Map states: its reference and hooks,
 * its outcome, the limits it enforces, threads of history events, scopes with their abort signal, and abortable waits.
 */
import type { HistoryEvent, HistorySink } from './history';
import { StatesError } from './errors';
import type { Json } from './json-path';

/** Step Functions' limit on a state's input or output, a task's parameters or result, in UTF-8 bytes. */
export const STATE_PAYLOAD_LIMIT = 262_144;
/** How many iterations of an inline Map Step Functions runs at once at most. */
export const INLINE_MAP_CONCURRENCY = 40;
/** A Distributed Map's child executions at once when MaxConcurrency is 0 (AWS: 10,000). */
export const DISTRIBUTED_MAP_CONCURRENCY = 10_000;

export interface ExecutionRef {
  readonly arn: string;
  readonly name: string;
  readonly stateMachineArn: string;
  /** For a child execution of a Distributed Map: its Map Run and item index. */
  readonly mapRun?: { readonly arn: string; readonly label: string; readonly index: number; /** Items the child holds (a batch: its Items). */ readonly items: number };
}

export interface EngineHooks {
  /** Run a Lambda function with the payload Step Functions sends it; resolves to what it returns. */
  invoke(call: { functionArn: string; payload: Json; state: string; execution: ExecutionRef }): Promise<unknown>;
  /** A task token for a callback task, the answer it gets, and a way to expire it (state timed out or aborted). */
  mintToken(opts: { heartbeatSeconds?: number }): { token: string; wait: Promise<unknown>; expire(): void };
  /** S3 for ItemReader and ResultWriter. */
  getObject(bucket: string, key: string): Promise<string>;
  /** An object's lines, read as they are asked for (ItemReader JSONL: memory holds a batch, not the file); getObject when absent. */
  getObjectLines?(bucket: string, key: string): AsyncIterable<string>;
  putObject(bucket: string, key: string, body: string): Promise<void>;
  /** Where an execution's history goes (the parent's and each child's). */
  history(execution: ExecutionRef): HistorySink;
  /** Every event of every execution, as written (progress lines). */
  onEvent?(execution: ExecutionRef, event: HistoryEvent): void;
  /** Delays, so tests and the local runner can shorten retry intervals and Wait states. */
  retryDelayMs?(state: string, ms: number): number;
  waitMs?(state: string, seconds: number): number;
  now?(): number;
}

export interface EngineOptions {
  readonly historyEventLimit?: number;
  readonly region?: string;
  readonly account?: string;
  /** How many child executions run at once locally, whatever MaxConcurrency allows (AWS runs up to 10,000). */
  readonly childConcurrency?: number;
}

export interface ExecutionOutcome {
  readonly status: 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  readonly output?: Json;
  readonly error?: string;
  readonly cause?: string;
  readonly events: number;
}

export class Aborted extends Error {
  override readonly name = 'Aborted';
}

export interface Thread {
  prev: number;
}
export interface Scope {
  readonly thread: Thread;
  readonly signal: AbortSignal;
  readonly item?: { Index: number; Value: Json };
}
export type Step = { next?: string; output: Json };

export const str = (v: unknown) => JSON.stringify(v ?? null);

/** Resolves after ms, or rejects with Aborted when the signal fires first. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Aborted());
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new Aborted());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The promise, or Aborted as soon as the signal fires. */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Aborted());
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new Aborted());
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([p, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}

/** Run `run(i)` for i in [0, n) with at most `limit` at once; no new one starts once `stop()` is true. */
export async function pool(n: number, limit: number, run: (i: number) => Promise<void>, stop: () => boolean): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n && !stop()) await run(next++);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, n)) }, worker));
}

export function positiveInt(v: Json, field: string): number {
  if (!Number.isInteger(v) || (v as number) < 1) throw new StatesError('States.Runtime', `${field} resolved to ${JSON.stringify(v)}; expected a positive integer`);
  return v as number;
}
export function nonNegativeInt(v: Json, field: string): number {
  if (!Number.isInteger(v) || (v as number) < 0) throw new StatesError('States.Runtime', `${field} resolved to ${JSON.stringify(v)}; expected a non-negative integer`);
  return v as number;
}
