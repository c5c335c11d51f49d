/**
 * The gate verdict in one place, pure: the count tolerance, the fast gate over counts, a method-gated table's verdict
 * from its chunk checks, and how verdicts combine across methods and tables (worst first: FAIL, INCONCLUSIVE, PASS).
 */

export type Verdict = 'PASS' | 'FAIL' | 'INCONCLUSIVE';

/**
 * A count difference allowed, as the user writes it: absolute rows, percent of the expected count, or both. A bound
 * left out does not constrain; neither written is exact equality.
 */
export interface Tolerance {
  readonly toleranceRows?: number;
  readonly tolerancePercent?: number;
}

/** |actual - expected| within each bound written (an expected 0 is a 100% difference for any row). */
export function within(expected: bigint, actual: bigint, t: Tolerance): { diff: bigint; pct: number; ok: boolean } {
  const diff = actual - expected;
  const abs = diff < 0n ? -diff : diff;
  const pct = expected === 0n ? (abs === 0n ? 0 : 100) : Number((abs * 1_000_000n) / expected) / 10_000;
  const rowsOk = t.toleranceRows === undefined ? t.tolerancePercent !== undefined || abs === 0n : abs <= BigInt(t.toleranceRows);
  const pctOk = t.tolerancePercent === undefined || pct <= t.tolerancePercent;
  return { diff, pct, ok: rowsOk && pctOk };
}

/** The tolerance in words: "1 row", "0.5%", "10 rows and 0.5%", or "0 rows" for exact equality. */
export function toleranceText(t: Tolerance): string {
  const rows = t.toleranceRows === undefined ? undefined : `${t.toleranceRows} ${t.toleranceRows === 1 ? 'row' : 'rows'}`;
  const pct = t.tolerancePercent === undefined ? undefined : `${t.tolerancePercent}%`;
  return rows && pct ? `${rows} and ${pct}` : (rows ?? pct ?? '0 rows');
}

/** The worst of several verdicts; none (or only undefined) is PASS. */
export function combine(verdicts: readonly (Verdict | undefined)[]): Verdict {
  return verdicts.includes('FAIL') ? 'FAIL' : verdicts.includes('INCONCLUSIVE') ? 'INCONCLUSIVE' : 'PASS';
}

/** The worst status among a chunk's checks: ERROR, UNSTABLE, DIFF, else MATCH. */
export function worstStatus(statuses: readonly string[]): string {
  return (['ERROR', 'UNSTABLE', 'DIFF'] as const).find((s) => statuses.includes(s)) ?? 'MATCH';
}

export interface TableCount {
  readonly table: string;
  /** Exact counts as decimal strings; null when the count could not be read. */
  readonly expected: string | null;
  readonly actual: string | null;
  readonly error?: string;
}

export interface TableGate {
  readonly table: string;
  readonly expected: string | null;
  readonly actual: string | null;
  readonly diff: string | null;
  readonly diffPercent: number | null;
  readonly verdict: Verdict;
  readonly reason: string;
}

export interface GateOutcome extends Tolerance {
  readonly method: 'fast';
  readonly tables: TableGate[];
  readonly overall: { expected: string; actual: string; diff: string; diffPercent: number; verdict: Verdict };
  readonly verdict: Verdict;
  /** Chunked method gates per table (fast / exact), when gates.tables is set. */
  readonly methodTables?: { table: string; verdict: Verdict; reason: string; chunks: number; diffs: number; rowsPerSecond: number | null }[];
  /** The fast tolerance over all method tables together. */
  readonly methodOverall?: GateOutcome['overall'];
}

/** The fast gate over counts: each table and all of them together within the tolerance; a missing count is INCONCLUSIVE. */
export function fastGate(counts: readonly TableCount[], tolerance: Tolerance): GateOutcome {
  let te = 0n;
  let ta = 0n;
  let inconclusive = false;
  const tables = counts.map((c): TableGate => {
    if (c.expected === null || c.actual === null) {
      inconclusive = true;
      return { table: c.table, expected: c.expected, actual: c.actual, diff: null, diffPercent: null, verdict: 'INCONCLUSIVE', reason: c.error ?? 'count missing' };
    }
    const e = BigInt(c.expected);
    const a = BigInt(c.actual);
    te += e;
    ta += a;
    const w = within(e, a, tolerance);
    return {
      table: c.table,
      expected: c.expected,
      actual: c.actual,
      diff: w.diff.toString(),
      diffPercent: w.pct,
      verdict: w.ok ? 'PASS' : 'FAIL',
      reason: w.ok
        ? w.diff === 0n
          ? 'counts equal'
          : `diff ${w.diff} within tolerance (${toleranceText(tolerance)})`
        : `diff ${w.diff} rows (${w.pct}%); expected within ${toleranceText(tolerance)}`,
    };
  });
  const o = within(te, ta, tolerance);
  const overallVerdict: Verdict = inconclusive ? 'INCONCLUSIVE' : o.ok ? 'PASS' : 'FAIL';
  return {
    method: 'fast',
    toleranceRows: tolerance.toleranceRows,
    tolerancePercent: tolerance.tolerancePercent,
    tables,
    overall: { expected: te.toString(), actual: ta.toString(), diff: o.diff.toString(), diffPercent: o.pct, verdict: overallVerdict },
    verdict: inconclusive ? 'INCONCLUSIVE' : combine([...tables.map((t) => t.verdict), overallVerdict]),
  };
}

/** What a method-gated table's chunk checks add up to (the caller reads them from the checkpoints). */
export interface TableTally {
  readonly chunks: number;
  /** Planned chunks without a checkpoint, and what the first error record says. */
  readonly missing: number;
  readonly missingCause?: string;
  readonly fast?: { source: string; target: string; diff: string };
  /** Some fast chunk changed while read or failed. */
  readonly fastUnsettled: boolean;
  readonly exact?: { differing: number; unstable: number; errors: number };
  readonly diffs: number;
  readonly diffsTruncated: boolean;
}

/** A method-gated table's verdict and why: missing chunks, the fast totals against the tolerance, the exact chunks. */
export function tableVerdict(t: TableTally, tolerance: Tolerance): { verdict: Verdict; reason: string } {
  const found: { verdict: Verdict; reason: string }[] = [];
  if (t.missing > 0) found.push({ verdict: 'INCONCLUSIVE', reason: `${t.missing} of ${t.chunks} chunks have no result${t.missingCause ? ` (${t.missingCause})` : ''}` });
  if (t.fast) {
    const w = within(BigInt(t.fast.source), BigInt(t.fast.target), tolerance);
    if (!w.ok)
      found.push({
        verdict: 'FAIL',
        reason: `fast: ${t.fast.source} rows on the source, ${t.fast.target} on the target (diff ${t.fast.diff}, ${w.pct}%); expected within ${toleranceText(tolerance)}`,
      });
    else if (w.diff !== 0n) found.push({ verdict: 'PASS', reason: `fast: diff ${t.fast.diff} within tolerance` });
  }
  if (t.exact?.differing) found.push({ verdict: 'FAIL', reason: `exact: ${t.exact.differing} chunk(s) differ; ${t.diffs}${t.diffsTruncated ? '+' : ''} differing key(s)` });
  if (t.exact && (t.exact.unstable || t.exact.errors))
    found.push({ verdict: 'INCONCLUSIVE', reason: `exact: ${t.exact.unstable} chunk(s) changed while being read (live writes), ${t.exact.errors} chunk(s) failed` });
  const verdict = combine(found.map((f) => f.verdict));
  // Unsettled fast chunks matter only when nothing else spoke against the table.
  if (t.fastUnsettled && verdict === 'PASS') return { verdict: 'INCONCLUSIVE', reason: [...found.map((f) => f.reason), 'fast: some chunks were unstable or failed'].join('; ') };
  return { verdict, reason: found.map((f) => f.reason).join('; ') || 'every chunk matches' };
}

/** Which gates a NO_GO comes from, for its label: the row counts, the method gates, or both. */
export function failingGates(gate: GateOutcome): string {
  const counts = gate.tables.some((t) => t.verdict !== 'PASS') || gate.overall.verdict !== 'PASS';
  const methods = (gate.methodTables ?? []).some((t) => t.verdict !== 'PASS') || gate.methodOverall?.verdict === 'FAIL';
  return [counts ? 'row-count gate' : '', methods ? 'method gates' : ''].filter(Boolean).join(' and ') || 'gates';
}
