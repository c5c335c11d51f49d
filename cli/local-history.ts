/**
 * The local runner's execution histories on disk, in GetExecutionHistory's shape: the parent's in
 * `<run>/execution-history.jsonl`, each Distributed Map child's in `<run>/execution-history/<label>/<mapRun>/<index>.jsonl`
 * beside a `map-run.json` with DescribeMapRun's item counts; an interrupted attempt's parent history moves to
 * `<run>/execution-history/attempt-NNN.jsonl`. `cutline status|watch` and `evidence verify` read them as they read AWS.
 */
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { HistoryEvent } from './engine/history';

export const HISTORY_FILE = 'execution-history.jsonl';
const HISTORY_DIR = 'execution-history';

/** A Map Run's folder of child histories: `execution-history/<label>/<map run id>`, from its ARN (…:mapRun:<sm>/<label>:<id>). */
function mapRunDir(runDir: string, mapRunArn: string): string {
  const [label, id] = mapRunArn.split('/').at(-1)!.split(':');
  return path.join(runDir, HISTORY_DIR, label!, id!);
}

/** Where an execution's history goes: the parent's, or a Distributed Map child's by its item index. */
export function historyFileOf(runDir: string, mapRun?: { arn: string; index: number }): string {
  return mapRun ? path.join(mapRunDir(runDir, mapRun.arn), `${String(mapRun.index).padStart(6, '0')}.jsonl`) : path.join(runDir, HISTORY_FILE);
}

const exists = (f: string) => stat(f).then(() => true, () => false);

/** Events of a JSON Lines history; a last line cut short by a kill is skipped. */
export async function readHistoryFile(file: string): Promise<HistoryEvent[] | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const events: HistoryEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      events.push(JSON.parse(line) as HistoryEvent);
    } catch {
      // a line cut short by a kill
    }
  }
  return events;
}

/** Move an interrupted attempt's parent history aside (a rename: a kill leaves it in one place or the other). */
export async function archiveHistory(runDir: string, attempt: number): Promise<void> {
  const current = path.join(runDir, HISTORY_FILE);
  if (!(await exists(current))) return;
  await mkdir(path.join(runDir, HISTORY_DIR), { recursive: true });
  let n = attempt;
  while (await exists(path.join(runDir, HISTORY_DIR, `attempt-${String(n).padStart(3, '0')}.jsonl`))) n++;
  await rename(current, path.join(runDir, HISTORY_DIR, `attempt-${String(n).padStart(3, '0')}.jsonl`));
}

export interface MapRunCounts {
  readonly mapRunArn: string;
  readonly itemCounts: { total: number; running: number; succeeded: number; failed: number; aborted: number };
}

/** DescribeMapRun's item counts for each Map Run of a local execution, kept in `map-run.json` (rewritten at most every 500 ms). */
export class MapRunFiles {
  private readonly runs = new Map<string, { file: string; counts: MapRunCounts['itemCounts'] }>();
  private pendingTotal = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<unknown> = Promise.resolve();

  constructor(private readonly runDir: string) {}

  /** The parent's MapStateStarted: how many items the next Map Run has. */
  mapStarted(length: number): void {
    this.pendingTotal = length;
  }

  started(mapRunArn: string): void {
    const file = path.join(mapRunDir(this.runDir, mapRunArn), 'map-run.json');
    this.runs.set(mapRunArn, { file, counts: { total: this.pendingTotal, running: 0, succeeded: 0, failed: 0, aborted: 0 } });
    this.schedule(0);
  }

  /** A child execution's event; `items`: how many items it holds (a batch's Items), counted as DescribeMapRun's itemCounts do. */
  child(mapRunArn: string, e: HistoryEvent, items = 1): void {
    const r = this.runs.get(mapRunArn);
    if (!r) return;
    const c = r.counts;
    if (e.type === 'ExecutionStarted') c.running += items;
    else if (e.type === 'ExecutionSucceeded' || e.type === 'ExecutionFailed' || e.type === 'ExecutionAborted') {
      c.running -= items;
      if (e.type === 'ExecutionSucceeded') c.succeeded += items;
      else if (e.type === 'ExecutionFailed') c.failed += items;
      else c.aborted += items;
    } else return;
    this.schedule(500);
  }

  private schedule(ms: number): void {
    this.timer ??= setTimeout(() => this.flush(), ms);
  }

  private flush(): Promise<unknown> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const snapshot = [...this.runs.entries()].map(([arn, r]) => ({ file: r.file, body: JSON.stringify({ mapRunArn: arn, itemCounts: { ...r.counts } } satisfies MapRunCounts) }));
    this.writing = this.writing
      .then(async () => {
        for (const s of snapshot) {
          await mkdir(path.dirname(s.file), { recursive: true });
          await writeFile(`${s.file}.tmp`, s.body);
          await rename(`${s.file}.tmp`, s.file);
        }
      })
      .catch(() => undefined);
    return this.writing;
  }

  async close(): Promise<void> {
    await this.flush();
  }
}

/** A local run's parent history and the item counts of each of its Map Runs, as `cutline status` reads AWS. */
export async function readLocalRun(runDir: string): Promise<{ events: HistoryEvent[]; mapRuns: MapRunCounts[] } | undefined> {
  const events = await readHistoryFile(path.join(runDir, HISTORY_FILE));
  if (!events) return undefined;
  const mapRuns: MapRunCounts[] = [];
  for (const e of events) {
    const arn = (e.mapRunStartedEventDetails as { mapRunArn?: string } | undefined)?.mapRunArn;
    if (!arn) continue;
    const text = await readFile(path.join(mapRunDir(runDir, arn), 'map-run.json'), 'utf8').catch(() => undefined);
    if (text) mapRuns.push(JSON.parse(text) as MapRunCounts);
  }
  return { events, mapRuns };
}

/** A Map Run's label: the Map state's name, from its ARN (…:mapRun:<state machine>/<label>:<id>). */
export const mapRunLabel = (mapRunArn: string) => mapRunArn.split('/').at(-1)!.split(':')[0]!;

/** Every child history of a run's Map Runs (tests and audits). */
export async function childHistories(runDir: string): Promise<string[]> {
  const dir = path.join(runDir, HISTORY_DIR);
  const all = (await readdir(dir, { recursive: true }).catch(() => [] as string[])).map(String);
  return all.filter((f) => f.endsWith('.jsonl') && !f.startsWith('attempt-')).map((f) => path.join(dir, f));
}
