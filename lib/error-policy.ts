/**
 * The Retry and Catch blocks of statemachines/cutover.asl.json, generated from the error tables
 * (lambdas/core/errors.ts) and one routing table here: `npm run asl` writes them into the file, and
 * test/unit/asl.test.ts fails when file and tables disagree. Everything else in the file is written by hand.
 */
import { CAUGHT_ERRORS, STILL_RUNNING_RETRY, TRANSIENT_ERRORS, WORK_STILL_RUNNING_RETRY } from '../lambdas/core/errors';
import { STATES } from '../lambdas/core/states';

/** Every Task state retries transient errors (Lambda's service errors, the Data API's, a dropped connection). */
const TRANSIENT_RETRY = { ErrorEquals: [...TRANSIENT_ERRORS], IntervalSeconds: 2, MaxAttempts: 6, BackoffRate: 2, MaxDelaySeconds: 30 };

/** The states that apply migrations follow a build that outlives an invocation (MigrationStillRunning). */
const FOLLOWS_BUILDS: readonly string[] = [STATES.schema, STATES.cutover, STATES.phase];
/** The states whose work goes on across invocations from what the last one kept (WorkStillRunning). */
const GOES_ON: readonly string[] = [STATES.gatePlan, STATES.gateChunk, STATES.gateChunkDistributed];

interface Route {
  readonly next: string;
  readonly resultPath: string;
  /** Catch the stage errors by name first (their classes carry these names), then everything else to the same place. */
  readonly named: boolean;
}
const toClassify: Route = { next: STATES.classify, resultPath: '$.error', named: true };
const toRollback: Route = { next: STATES.rollback, resultPath: '$.error', named: true };

/** Where a failure of each state goes; a state not listed catches nothing (a Map's iteration fails its Map). */
export const ROUTES: Readonly<Record<string, Route>> = {
  [STATES.validateSpec]: toClassify,
  [STATES.preflight]: toClassify,
  [STATES.schema]: toClassify,
  [STATES.bulkCopy]: toClassify,
  [STATES.backfillPlan]: toClassify,
  [STATES.backfillChunks]: toClassify,
  [STATES.backfillChunksDistributed]: toClassify,
  [STATES.verify]: toClassify,
  [STATES.gatePlan]: toClassify,
  [STATES.gateChunksInline]: toClassify,
  [STATES.gateChunksDistributed]: toClassify,
  [STATES.gates]: toClassify,
  [STATES.decide]: toClassify,
  [STATES.goNoGo]: toClassify,
  // After the go/no-go a failure rolls back first.
  [STATES.cutover]: toRollback,
  [STATES.smoke]: toRollback,
  [STATES.phase]: toRollback,
  [STATES.phaseGoNoGo]: toRollback,
  [STATES.soak]: toRollback,
  [STATES.rollback]: { next: STATES.classify, resultPath: '$.rollbackError', named: false },
  // Every run ends with a summary, even when Classify fails; Summary failing is the one way to end without one.
  [STATES.classify]: { next: STATES.summary, resultPath: '$.classifyError', named: false },
  [STATES.summary]: { next: STATES.summaryFailed, resultPath: '$.summaryError', named: false },
};

type AslState = { Type: string; Retry?: unknown; Catch?: unknown; ItemProcessor?: { States: Record<string, AslState> } };

function catches(r: Route) {
  return [...(r.named ? [{ ErrorEquals: [...CAUGHT_ERRORS], ResultPath: r.resultPath, Next: r.next }] : []), { ErrorEquals: ['States.ALL'], ResultPath: r.resultPath, Next: r.next }];
}

/** The definition with every Retry and Catch as the tables say (a copy; the other fields and their order kept). */
export function withErrorPolicy<D extends { States: Record<string, AslState> }>(def: D): D {
  const out = structuredClone(def);
  const walk = (states: Record<string, AslState>) => {
    for (const [name, s] of Object.entries(states)) {
      if (s.Type === 'Task') s.Retry = [TRANSIENT_RETRY, ...(FOLLOWS_BUILDS.includes(name) ? [STILL_RUNNING_RETRY] : []), ...(GOES_ON.includes(name) ? [WORK_STILL_RUNNING_RETRY] : [])];
      const route = ROUTES[name];
      if (route) s.Catch = catches(route);
      else delete s.Catch;
      if (s.ItemProcessor) walk(s.ItemProcessor.States);
    }
  };
  walk(out.States);
  return out;
}
