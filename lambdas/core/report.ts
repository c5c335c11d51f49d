/**
 * report.html: one self-contained page (no external assets, no script) an
 * auditor can open offline or on a phone: outcome and classification, the
 * stage timeline with durations, gate tables and differing keys, charts
 * (rows/s per backfill chunk, rows per table) as inline SVG, the approval
 * record, a progressive cutover's phases (timeline, checklist, each monitor's
 * windows), and the files with their SHA-256.
 */
import type { CheckResult } from './checks';
import type { SmokeResult } from './smoke';
import type { StepRecord } from './evidence';
import type { PollRecord, Window } from './phases';
import { escapeHtml } from './html';

const esc = escapeHtml;

export interface ReportInput {
  readonly runId: string;
  readonly owner: string;
  readonly outcome: 'GO' | 'NO_GO';
  readonly classification: string;
  readonly reason: string;
  readonly generatedUtc: string;
  readonly steps: (StepRecord & { file: string })[];
  readonly classify?: { stage: string; retry_at_utc: string; unblock_criteria: string; owner: string };
  readonly counts: { table: string; expected: string | null; actual: string | null; verdict: string }[];
  readonly methodTables: { table: string; verdict: string; chunks: number; diffs: number; rowsPerSecond: number | null; reason: string }[];
  readonly diffs: { table: string; key: string; kind: string; columns?: string[] }[];
  readonly assertions: { name: string; ok: boolean; violations: number }[];
  readonly chunks: { task: string; index: number; rows: number; ms: number }[];
  readonly approval?: Record<string, unknown>;
  readonly files: { file: string; sha256: string }[];
  /** The method gates' estimate (made before planning) beside what the run measured. */
  readonly scale?: { estimate: Record<string, number | null>; actual: Record<string, number | null> };
  /** Attempts the run took, each with how the one before it ended. */
  readonly attempts?: { attempt: number; started_utc: string; previous: { ended: string } | null }[];
  /** A progressive cutover: each phase's record (13_phases/NN_<phase>.json) ... */
  readonly phases?: PhaseRecord[];
  /** ... and the last polls of each soak (at most PHASE_CHART_POLLS a phase). */
  readonly polls?: PollRecord[];
}

/** The polls a phase's monitor chart shows (the last ones; every poll is in the evidence). */
export const PHASE_CHART_POLLS = 240;

interface CheckLine {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}
export interface PhaseRecord {
  readonly file: string;
  readonly phase: string;
  readonly index: number;
  readonly result: string;
  readonly decision: string;
  readonly applied_utc?: string;
  readonly signedOff?: { result: string; approvers?: string[]; decidedAt?: string } | null;
  readonly operator?: { action: string; by: string; at_utc: string };
  readonly soak: { seconds: number; pollSeconds: number; polls: number; monitors: string[] } | null;
  readonly entryChecks?: CheckLine[];
  readonly exitChecks?: CheckLine[];
  readonly tripped?: { monitor: string; failAfter: number; poll: number };
}

/** One monitor's windows as a strip: a bar a poll (its latency when it has one), red when the window failed. */
function strip(monitor: string, windows: (Window & { poll: number })[]): string {
  const w = 100 / Math.max(1, windows.length);
  const max = Math.max(1, ...windows.map((x) => x.latencyMs ?? 0));
  const timed = windows.some((x) => x.latencyMs !== undefined);
  const bars = windows
    .map((x, i) => {
      const h = timed ? Math.max(3, Math.round(((x.latencyMs ?? 0) / max) * 36)) : 36;
      return `<rect x="${(i * w).toFixed(3)}%" y="${40 - h}" width="${Math.max(0.2, w * 0.8).toFixed(3)}%" height="${h}" class="${x.ok ? 'okb' : 'badb'}"><title>poll ${x.poll}: ${esc(x.detail)}</title></rect>`;
    })
    .join('');
  const failed = windows.filter((x) => !x.ok).length;
  const title = `${monitor}: ${windows.length} window(s), ${failed} failing${timed ? `, latency up to ${max} ms` : ''}`;
  return `<figure><figcaption>${esc(title)}</figcaption><svg role="img" aria-label="${esc(title)}" width="100%" height="42" preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg">${bars}</svg></figure>`;
}

/** The phases: their timeline, a checklist (sign-off, entry checks, monitors, exit criteria) and each monitor's windows. */
function phasesSection(phases: readonly PhaseRecord[], polls: readonly PollRecord[]): string {
  if (!phases.length) return '';
  const sorted = [...phases].sort((a, b) => a.index - b.index);
  const timeline = table(
    ['phase', 'result', 'signed off', 'applied (UTC)', 'soak', 'decision'],
    sorted.map((p) => [
      esc(`${p.index}. ${p.phase}`),
      badge(p.result),
      p.signedOff ? `${badge(p.signedOff.result)} ${esc((p.signedOff.approvers ?? []).join(', '))}` : p.signedOff === null ? badge('MISSING') : '-',
      esc(p.applied_utc ?? '-'),
      esc(p.soak ? `${p.soak.polls} poll(s) every ${p.soak.pollSeconds} s (${p.soak.seconds} s)` : 'none'),
      esc(`${p.decision}${p.operator ? ` (${p.operator.action} by ${p.operator.by})` : ''}`),
    ]),
  );
  const row = (p: PhaseRecord, item: string, ok: boolean, detail: string) => [esc(p.phase), esc(item), badge(ok ? 'PASS' : 'FAIL'), esc(detail.slice(0, 300)), `<code>${esc(p.file)}</code>`];
  const checklist = sorted.flatMap((p) => [
    ...(p.signedOff !== undefined ? [row(p, 'sign-off', p.signedOff?.result === 'PASS', p.signedOff ? `${p.signedOff.approvers?.join(', ') ?? ''} at ${p.signedOff.decidedAt ?? '?'}` : 'no decision recorded')] : []),
    ...(p.entryChecks ?? []).map((c) => row(p, `entry: ${c.name}`, c.ok, c.detail)),
    ...(p.soak?.monitors ?? []).map((m) => row(p, `monitor: ${m}`, p.tripped?.monitor !== m, p.tripped?.monitor === m ? `tripped at poll ${p.tripped.poll} (${p.tripped.failAfter} failing window(s) in a row)` : 'held through the soak')),
    ...(p.exitChecks ?? []).map((c) => row(p, `exit: ${c.name}`, c.ok, c.detail)),
  ]);
  const charts = sorted
    .map((p) => {
      const mine = polls.filter((x) => x.phase === p.phase).sort((a, b) => a.poll - b.poll);
      const monitors = p.soak?.monitors ?? [];
      if (!mine.length || !monitors.length) return '';
      const made = mine.at(-1)!.poll;
      const shown = mine.length < made ? ` (the last ${mine.length} of ${made} polls)` : '';
      return `<h3>${esc(p.phase)}: monitor windows${esc(shown)}</h3>${monitors.map((m) => strip(m, mine.flatMap((x) => x.windows.filter((w) => w.monitor === m).map((w) => ({ ...w, poll: x.poll }))))).join('')}`;
    })
    .join('');
  return `<section id="phases"><h2>Phases</h2>${timeline}<h3>Checklist</h3>${table(['phase', 'item', 'result', 'measured', 'record'], checklist)}${charts}</section>`;
}

function bars(items: { label: string; value: number; note?: string }[], unit: string, title: string): string {
  if (!items.length) return '';
  const max = Math.max(1, ...items.map((i) => i.value));
  const rowH = 22;
  const h = items.length * rowH + 24;
  const rows = items
    .map((it, n) => {
      const w = Math.max(1, Math.round((it.value / max) * 42));
      const y = 20 + n * rowH;
      return `<text x="0" y="${y + 14}" class="l">${esc(it.label)}</text><rect x="38%" y="${y + 3}" width="${w}%" height="14" rx="2"/><text x="${38 + w + 1}%" y="${y + 14}" class="v">${esc(it.value.toLocaleString('en-US'))} ${esc(unit)}</text>`;
    })
    .join('');
  return `<figure><figcaption>${esc(title)}</figcaption><svg role="img" aria-label="${esc(title)}" width="100%" height="${h}" xmlns="http://www.w3.org/2000/svg">${rows}</svg></figure>`;
}

const badge = (v: string) => `<span class="b ${/^(PASS|GO|MATCH|done)$/i.test(v) ? 'ok' : /^(FAIL|NO_GO|DIFF)$/i.test(v) ? 'bad' : 'warn'}">${esc(v)}</span>`;

function table(head: string[], rows: string[][]): string {
  if (!rows.length) return '<p class="muted">none</p>';
  return `<div class="t"><table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c, i) => `<td data-label="${esc(head[i])}">${c}</td>`).join('')}</tr>`).join('')}</tbody></table></div>`;
}

/** A folder of more than this many files (one per chunk batch) is one row of the file list: the manifest lists each. */
const GROUP_ABOVE = 20;

/** The file list: each file, except that a folder with many files is one row (how many, and where each hash is). */
export function groupFiles(files: readonly { file: string; sha256: string }[]): string[][] {
  const byDir = new Map<string, number>();
  for (const f of files) {
    const dir = f.file.includes('/') ? f.file.slice(0, f.file.lastIndexOf('/') + 1) : '';
    byDir.set(dir, (byDir.get(dir) ?? 0) + 1);
  }
  const rows: string[][] = [];
  const shown = new Set<string>();
  for (const f of files) {
    const dir = f.file.includes('/') ? f.file.slice(0, f.file.lastIndexOf('/') + 1) : '';
    if (dir && byDir.get(dir)! > GROUP_ABOVE) {
      if (!shown.has(dir)) rows.push([esc(`${dir} (${byDir.get(dir)!.toLocaleString('en-US')} files)`), '<span class="muted">each in manifest.json</span>']);
      shown.add(dir);
    } else rows.push([esc(f.file), `<code>${esc(f.sha256)}</code>`]);
  }
  return rows;
}

const SCALE_ROWS: [key: string, label: string][] = [
  ['chunks', 'chunks'],
  ['rows', 'rows'],
  ['planSeconds', 'plan (s)'],
  ['checkSeconds', 'check (s)'],
  ['rowsPerSecond', 'rows/s'],
];

function scaleTable(scale: NonNullable<ReportInput['scale']>): string {
  const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '-' : Number.isInteger(v) ? v.toLocaleString('en-US') : v.toFixed(1));
  const ratio = (e: number | null | undefined, a: number | null | undefined) => (e && a ? `${(a / e).toFixed(2)}×` : '-');
  return `<h3 id="estimate">Estimate vs actual (cutline estimate's model, docs/scale.md)</h3>${table(
    ['', 'estimate', 'actual', 'actual / estimate'],
    SCALE_ROWS.map(([k, label]) => [esc(label), esc(fmt(scale.estimate[k])), esc(fmt(scale.actual[k])), esc(ratio(scale.estimate[k], scale.actual[k]))]),
  )}<p class="muted">Estimated orchestration cost: $${esc((scale.estimate.usd ?? 0).toFixed(4))} (Step Functions, Lambda, S3).</p>`;
}

export function renderReport(r: ReportInput): string {
  const steps = [...r.steps].sort((a, b) => (a.file < b.file ? -1 : 1));
  const timeline = table(
    ['step', 'result', 'started (UTC)', 'duration', 'command'],
    steps.map((s) => [esc(s.step), badge(s.result), esc(s.timestamp_utc), s.duration_ms !== undefined ? `${(s.duration_ms / 1000).toFixed(2)} s` : '-', esc(s.command)]),
  );
  const durations = bars(
    steps.filter((s) => (s.duration_ms ?? 0) > 0).map((s) => ({ label: s.step, value: Math.round(s.duration_ms!) })),
    'ms',
    'Stage durations',
  );
  const perChunk = bars(
    r.chunks.slice(0, 60).map((c) => ({ label: `${c.task} #${c.index}`, value: c.ms > 0 ? Math.round((c.rows * 1000) / c.ms) : 0 })),
    'rows/s',
    `Backfill rows/s per chunk${r.chunks.length > 60 ? ` (first 60 of ${r.chunks.length})` : ''}`,
  );
  const perTable = bars(
    r.counts.filter((c) => c.actual !== null).map((c) => ({ label: c.table, value: Number(c.actual) })),
    'rows',
    'Rows per table (after)',
  );
  const cls = r.classify
    ? `<dl><dt>Stopped in</dt><dd>${esc(r.classify.stage)}</dd><dt>Owner</dt><dd>${esc(r.classify.owner)}</dd><dt>Retry at (UTC)</dt><dd>${esc(r.classify.retry_at_utc)}</dd><dt>Unblock criteria</dt><dd>${esc(r.classify.unblock_criteria)}</dd></dl>`
    : '';
  const appr = r.approval
    ? `<dl>${['decision', 'approver', 'approvers', 'comment', 'decidedAt', 'via', 'sourceIp', 'userAgent']
        .filter((k) => r.approval![k] !== undefined)
        .map((k) => `<dt>${esc(k)}</dt><dd>${esc(Array.isArray(r.approval![k]) ? (r.approval![k] as unknown[]).join(', ') : r.approval![k])}</dd>`)
        .join('')}</dl>`
    : '<p class="muted">No decision was asked for or given.</p>';
  // Every runbook check and smoke check, in the order the stages ran, with what it measured.
  const checkRows = steps.flatMap((st) => {
    const d = st.details as { stepChecks?: CheckResult[]; checks?: SmokeResult[] };
    // Smoke results are `checks` of 11_smoke, or of 08_decide when smoke ran as the promotion gate.
    const smoke = st.step === '11_smoke' || st.step === '08_decide' ? (d.checks ?? []) : [];
    return [
      ...(d.stepChecks ?? []).map((c) => [esc(st.step), esc(c.name), esc(c.kind), esc(c.classification), badge(c.ok ? 'PASS' : 'FAIL'), esc(c.detail.slice(0, 400))]),
      ...smoke.map((c) => [esc(st.step), esc(c.name), esc(c.replay ? 'smoke replay' : 'smoke'), esc(c.replay ? 'IDEMPOTENCY_FAILED' : 'SMOKE_FAILED'), badge(c.ok ? 'PASS' : 'FAIL'), esc(c.detail.slice(0, 400))]),
    ];
  });
  const checks = checkRows.length ? `<section id="checks"><h2>Checks</h2>${table(['stage', 'check', 'kind', 'a failure is', 'result', 'measured'], checkRows)}</section>` : '';
  const n = r.attempts?.length ?? 0;
  const attempts = n
    ? `<p id="attempts">${n === 1 ? 'One attempt, never interrupted.' : `${n} attempts: interrupted ${n - 1} time(s) and resumed (${r.attempts!.map((a) => `#${a.attempt} started ${esc(a.started_utc)}`).join(', ')}).`}</p>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>cutline ${esc(r.runId)}: ${esc(r.outcome)}</title>
<style>
:root{--ok:#0a7d2c;--bad:#b00020;--warn:#8a6d00;--mut:#666}
body{font:15px/1.5 system-ui,-apple-system,sans-serif;margin:0;padding:1rem;max-width:64rem;margin:auto;color:#111}
h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.1rem;margin-top:1.6rem;border-bottom:1px solid #ddd}
.b{display:inline-block;padding:0 .4rem;border-radius:3px;color:#fff;font-weight:600;font-size:.85em}.ok{background:var(--ok)}.bad{background:var(--bad)}.warn{background:var(--warn)}
.t{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.9em}th,td{border-bottom:1px solid #eee;padding:.25rem .4rem;text-align:left;vertical-align:top}
td code,dd code{word-break:break-all}dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .8rem}dt{color:var(--mut)}dd{margin:0}
.muted{color:var(--mut)}figure{margin:1rem 0}figcaption{font-weight:600;margin-bottom:.3rem}
svg rect{fill:#3b6ea5}svg text{font-size:11px;fill:#222}svg rect.okb{fill:#4c9a5f}svg rect.badb{fill:var(--bad)}
@media (max-width:600px){body{padding:.5rem}thead{display:none}tr{display:block;border-bottom:1px solid #ddd;padding:.3rem 0}td{display:flex;gap:.6rem;border:0;padding:.1rem .2rem;overflow-wrap:anywhere}td::before{content:attr(data-label);flex:0 0 6.5rem;color:var(--mut)}}
</style></head><body>
<header><p class="muted">cutline evidence report · generated ${esc(r.generatedUtc)}</p>
<h1 id="outcome">Run ${esc(r.runId)}: ${badge(r.outcome)} ${r.outcome === 'NO_GO' ? `<span class="b bad">${esc(r.classification)}</span>` : ''}</h1>
<p>Owner ${esc(r.owner)}. ${esc(r.reason)}</p>${cls}${attempts}</header>
<section id="timeline"><h2>Stage timeline</h2>${timeline}${durations}</section>
<section id="gates"><h2>Gates</h2>
${table(['table', 'expected', 'actual', 'verdict'], r.counts.map((c) => [esc(c.table), esc(c.expected ?? '-'), esc(c.actual ?? '-'), badge(c.verdict)]))}
${r.methodTables.length ? `<h3>Method gates (fast, exact)</h3>${table(['table', 'verdict', 'chunks', 'differing keys', 'rows/s', 'reason'], r.methodTables.map((t) => [esc(t.table), badge(t.verdict), esc(t.chunks), esc(t.diffs), esc(t.rowsPerSecond ?? '-'), esc(t.reason)]))}` : ''}
${r.diffs.length ? `<h3>Differing keys</h3>${table(['table', 'key', 'kind', 'columns'], r.diffs.map((d) => [esc(d.table), `<code>${esc(d.key)}</code>`, badge(d.kind), esc((d.columns ?? []).join(', '))]))}` : ''}
${r.assertions.length ? `<h3>Assertions</h3>${table(['assertion', 'violations', 'result'], r.assertions.map((a) => [esc(a.name), esc(a.violations), badge(a.ok ? 'PASS' : 'FAIL')]))}` : ''}
${r.scale ? scaleTable(r.scale) : ''}
${perTable}${perChunk}</section>
${checks}
${phasesSection(r.phases ?? [], r.polls ?? [])}
<section id="approval"><h2>Approval</h2>${appr}</section>
<section id="files"><h2>Files</h2><p class="muted">Every file's SHA-256 is in manifest.json with a hash chain; <code>cutline evidence verify ${esc(r.runId)}</code> recomputes it.</p>
${table(['file', 'sha256'], groupFiles(r.files))}</section>
</body></html>
`;
}
