/**
 * The evidence layout: every key and file name of a run's evidence (runs/<runId>/...), used by core and CLI alike.
 * Keys are relative to the store's prefix (S3: runs/, locally the evidence folder).
 */
import type { TaskKey } from './states';

/** The stages that write a record of their own (the command, gate-plan, gate-chunk and soak-poll functions record inside other files). */
export type RecordedStep = Exclude<TaskKey, 'commandSend' | 'gatePlan' | 'gateChunk' | 'soakPoll'>;

/** Record file per step: <runId>/NN_<step>.json */
export const EVIDENCE_STEPS = {
  validateSpec: '01_validate',
  preflight: '02_preflight',
  schema: '03_schema',
  commandPoll: '05_bulk_copy',
  backfillPlan: '04_backfill_plan',
  backfillChunk: '05_backfill',
  verify: '06_verify',
  gates: '07_gates',
  decide: '08_decide',
  goNoGo: '09_approval',
  cutover: '10_cutover',
  smoke: '11_smoke',
  rollback: '12_rollback',
  phase: '13_phases',
  classify: '90_classify',
  summary: '99_summary',
} as const satisfies Record<RecordedStep, string>;

/** The spec as a run uses it, written once by its first attempt. */
export const specKey = (runId: string) => `${runId}/spec.json`;

export function stepKey(runId: string, step: RecordedStep, suffix = ''): string {
  return `${runId}/${EVIDENCE_STEPS[step]}${suffix}.json`;
}

/** Every file with its SHA-256 and the hash chain (Summary's last write: a run with it has ended). */
export const manifestKey = (runId: string) => `${runId}/manifest.json`;
/** What a person reads first, and the report beside it. */
export const summaryMdKey = (runId: string) => `${runId}/summary.md`;
export const reportKey = (runId: string) => `${runId}/report.html`;
/** A file of the method gates' folder: the plan's items, per-chunk checkpoints, the diff report. */
export const gateKey = (runId: string, rest: string) => `${runId}/${EVIDENCE_STEPS.gates}/${rest}`;
/** A file of the backfill plan's folder: the plan, a Distributed phase's items, ResultWriter's results (outside 05_backfill/, the checkpoints). */
export const backfillPlanFile = (runId: string, rest: string) => `${runId}/${EVIDENCE_STEPS.backfillPlan}/${rest}`;
/** A performance check's baseline, taken once before the first attempt changed anything (a resume reuses it). */
export const performanceBaselineKey = (runId: string, check: string) => `${runId}/performance/${check.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 80)}.baseline.json`;
