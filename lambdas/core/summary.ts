/** summary.md: what a person reads first. */
import { toleranceText } from './compare/verdict';
import type { ClassifyOutcome } from './decision';
import { STAGE_ORDER, STATES } from './states';
import type { Results } from './stage-results';

/**
 * Text from people and servers (comments, names, error messages) as inert
 * Markdown: one line, no HTML, no table cell breaks, no links or code spans of
 * its own, so a comment cannot forge a row, a heading or a <script>.
 */
export function mdText(v: unknown): string {
  return String(v ?? '')
    .replace(/\s+/g, ' ')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/([\\`*[\]|~])/g, '\\$1')
    .trim();
}

export function renderSummary(r: {
  runId: string;
  owner: string;
  outcome: 'GO' | 'NO_GO';
  classification: string;
  reason: string;
  classify: ClassifyOutcome | undefined;
  results: Results;
  now: Date;
  /** Attempts the run took (1 = never interrupted). */
  attempts?: number;
}): string {
  const out: string[] = [];
  out.push(`# cutline run ${r.runId}: ${r.outcome}${r.outcome === 'NO_GO' ? ` / ${r.classification}` : ''}`, '');
  out.push(`- owner: ${mdText(r.owner)}`, `- finished (UTC): ${r.now.toISOString()}`, `- reason: ${mdText(r.reason)}`);
  if (r.attempts !== undefined)
    out.push(`- attempts: ${r.attempts}${r.attempts > 1 ? ` (interrupted ${r.attempts - 1} time(s) and resumed; see 00_attempts/)` : ''}`);
  if (r.classify) {
    out.push(`- stopped in: ${r.classify.stage}`, `- retry_at_utc: ${r.classify.retry_at_utc}`, `- unblock_criteria: ${mdText(r.classify.unblock_criteria)}`);
    if (r.classify.cause_classification) out.push(`- rollback cause: ${r.classify.cause_classification}`);
  }
  out.push('', '## Stages', '', '| stage | result |', '|---|---|');
  for (const k of STAGE_ORDER) {
    const done = r.results[k] !== undefined;
    const stopped = r.classify?.stage === STATES[k];
    out.push(`| ${STATES[k]} | ${done ? 'done' : stopped ? `**stopped: ${r.classification}**` : 'not run'} |`);
  }
  if (r.results.rollback) out.push(`| Rollback | ${r.results.rollback.ok ? 'done' : 'FAILED'} |`);

  const { verify } = r.results;
  const backfill = verify?.backfill;
  if (backfill?.length) {
    out.push('', '## Backfill', '', '| task | chunks | skipped (already done) | rows |', '|---|---:|---:|---:|');
    for (const t of backfill) out.push(`| ${mdText(t.task)} | ${t.chunks} | ${t.skipped} | ${t.rows} |`);
  }
  const { gates } = r.results;
  if (gates) {
    out.push('', `## Gate fast (tolerance ${toleranceText(gates)}): ${gates.verdict}`, '');
    out.push('| table | expected | actual | diff | verdict |', '|---|---:|---:|---:|---|');
    for (const t of gates.tables) out.push(`| ${mdText(t.table)} | ${t.expected ?? '-'} | ${t.actual ?? '-'} | ${t.diff ?? '-'} | ${t.verdict} |`);
  }
  if (gates?.methodTables?.length) {
    out.push('', '## Method gates', '', '| table | verdict | chunks | differing keys | rows/s | reason |', '|---|---|---:|---:|---:|---|');
    for (const t of gates.methodTables) out.push(`| ${mdText(t.table)} | ${t.verdict} | ${t.chunks} | ${t.diffs} | ${t.rowsPerSecond ?? '-'} | ${mdText(t.reason)} |`);
    out.push('', 'Differing keys: `07_gates/diff.txt` (readable) and `07_gates/report.json`; per chunk: `07_gates/chunks/<table>/`.');
  }
  if (verify?.assertions.length) {
    out.push('', '## Assertions', '', '| assertion | violations | result |', '|---|---:|---|');
    for (const a of verify.assertions) out.push(`| ${mdText(a.name)} | ${a.violations} | ${a.ok ? 'PASS' : a.error ? `ERROR: ${mdText(a.error)}` : 'FAIL'} |`);
  }
  const approval = r.results.goNoGo;
  if (approval) out.push('', '## Approval', '', `Approved by ${mdText(approval.approver)} via ${mdText(approval.via)} at ${approval.decidedAt}: "${mdText(approval.comment)}"`);
  out.push('', 'Every step has a record `NN_<step>.json`; `manifest.json` lists each file with its SHA-256 and a hash chain.', '');
  return out.join('\n');
}
