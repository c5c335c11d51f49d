/**
 * An execution's history in the shape of GetExecutionHistory (`id`, `previousEventId`, `timestamp`, `type` and the
 * type's `*EventDetails`, input and output as JSON strings), appended to a JSON Lines file as it happens: one event per
 * line, never rewritten, so a run killed at any instruction leaves every event written before the kill and a reader
 * (`cutline status|watch`, `evidence verify`) reads local and AWS histories alike.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';

/** Step Functions' hard quota of events in one execution's history. */
export const HISTORY_EVENT_LIMIT = 25_000;

export interface HistoryEvent {
  readonly id: number;
  readonly previousEventId: number;
  readonly timestamp: string;
  readonly type: string;
  readonly [details: string]: unknown;
}

/** The details field GetExecutionHistory puts a type's data in: TaskStateEntered -> stateEnteredEventDetails. */
export function detailsKey(type: string): string {
  if (type.endsWith('StateEntered')) return 'stateEnteredEventDetails';
  if (type.endsWith('StateExited')) return 'stateExitedEventDetails';
  return `${type[0]!.toLowerCase()}${type.slice(1)}EventDetails`;
}

/** Where an execution's events go; the engine numbers them. */
export interface HistorySink {
  write(event: HistoryEvent): void;
  /** Everything written so far is on disk. */
  close(): Promise<void>;
}

/**
 * A JSON Lines file, appended in batches: the events of one turn of the event loop go out together right after it
 * (a kill loses at most what the engine wrote in that turn, not the last 200 ms of a run, as it used to).
 */
export class JsonlHistoryFile implements HistorySink {
  private pending: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private dirReady: Promise<unknown> | undefined;
  private failure: Error | undefined;

  constructor(
    readonly file: string,
    private readonly flushMs = 0,
  ) {}

  write(event: HistoryEvent): void {
    this.pending.push(`${JSON.stringify(event)}\n`);
    this.timer ??= setTimeout(() => this.flush(), this.flushMs);
  }

  private flush(): Promise<unknown> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.pending.length) return this.chain;
    const text = this.pending.join('');
    this.pending = [];
    this.dirReady ??= mkdir(path.dirname(this.file), { recursive: true });
    this.chain = this.chain
      .then(() => this.dirReady)
      .then(() => appendFile(this.file, text))
      .catch((e: Error) => {
        this.failure ??= e;
      });
    return this.chain;
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.failure) throw this.failure;
  }
}

/** An in-memory sink (tests, and histories nobody keeps). */
export class MemoryHistory implements HistorySink {
  readonly events: HistoryEvent[] = [];
  write(event: HistoryEvent): void {
    this.events.push(event);
  }
  async close(): Promise<void> {}
}
