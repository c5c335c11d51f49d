/**
 * One chunk through the method gates: fast (exact counts on both sides) and
 * exact (canonical row-hash sums on both sides). A mismatch is re-checked;
 * a chunk whose own reads change between re-checks (live writes) is
 * UNSTABLE, not a difference; a stable exact mismatch is drilled down to keys.
 */
import type { Clock, SqlClient } from '../../ports';
import { errorMessage } from '../errors';
import { type ChunkSums, chunkCount, chunkSums, sameSums } from './checksum';
import { DEFAULT_DRILL, type DrillOptions, drillDown, type KeyDiff } from './drilldown';
import type { TableChunk } from './keys';
import type { TablePlan } from './table-plan';

export type Method = 'fast' | 'exact';

/** One method's check of one chunk. */
export interface ChunkCheck extends TableChunk {
  readonly method: Method;
  readonly source: ChunkSums | { n: string };
  readonly target: ChunkSums | { n: string };
  readonly status: 'MATCH' | 'DIFF' | 'UNSTABLE' | 'ERROR';
  readonly ms: number;
  readonly rechecks: number;
  readonly diffs?: KeyDiff[];
  readonly diffsTruncated?: boolean;
  readonly error?: string;
}

export interface CheckOptions {
  readonly recheck: number;
  readonly recheckDelayMs: number;
  readonly drill: DrillOptions;
}
export const DEFAULT_CHECK: CheckOptions = { recheck: 3, recheckDelayMs: 200, drill: DEFAULT_DRILL };

type Sums = ChunkSums | { n: string };
const same = (a: Sums, b: Sums) => ('s1' in a && 's1' in b ? sameSums(a, b) : a.n === b.n);

export async function checkChunk(
  clients: { source: SqlClient; target: SqlClient },
  plan: TablePlan,
  chunk: TableChunk,
  method: Method,
  clock: Clock,
  opts: CheckOptions = DEFAULT_CHECK,
): Promise<ChunkCheck> {
  const t0 = clock.now().getTime();
  // Reads: a dropped connection is retried by the client (withReadRetries); what still fails is the chunk's ERROR, with its text.
  const read = (side: 'source' | 'target'): Promise<Sums> =>
    method === 'exact' ? chunkSums(clients[side], plan, side, chunk) : chunkCount(clients[side], plan, side, chunk).then((n) => ({ n }));
  const base = { table: chunk.table, index: chunk.index, lo: chunk.lo, hi: chunk.hi, method };
  try {
    let [s, t] = await Promise.all([read('source'), read('target')]);
    let rechecks = 0;
    while (!same(s, t) && rechecks < opts.recheck) {
      await clock.sleep(opts.recheckDelayMs);
      rechecks++;
      const [s2, t2] = await Promise.all([read('source'), read('target')]);
      if (!same(s, s2) || !same(t, t2)) {
        return { ...base, source: s2, target: t2, status: 'UNSTABLE', ms: clock.now().getTime() - t0, rechecks };
      }
      [s, t] = [s2, t2];
    }
    if (same(s, t)) return { ...base, source: s, target: t, status: 'MATCH', ms: clock.now().getTime() - t0, rechecks };
    if (method === 'fast') return { ...base, source: s, target: t, status: 'DIFF', ms: clock.now().getTime() - t0, rechecks };
    // No keys left to name (the run knows gates.maxDiffs already): counted as differing, not drilled into.
    if (opts.drill.maxDiffs <= 0) return { ...base, source: s, target: t, status: 'DIFF', ms: clock.now().getTime() - t0, rechecks, diffs: [], diffsTruncated: true };
    const drill = await drillDown(clients, plan, chunk, opts.drill);
    return { ...base, source: s, target: t, status: 'DIFF', ms: clock.now().getTime() - t0, rechecks, diffs: drill.diffs, diffsTruncated: drill.truncated };
  } catch (e) {
    return { ...base, source: { n: '?' }, target: { n: '?' }, status: 'ERROR', ms: clock.now().getTime() - t0, rechecks: 0, error: errorMessage(e) };
  }
}
