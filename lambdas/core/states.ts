/**
 * State names are a contract: the ASL file, the CDK definitionSubstitutions,
 * the local runner's overrides and the tests all read this one map.
 */
export const STATES = {
  start: 'Start',
  validateSpec: 'ValidateSpec',
  useValidatedSpec: 'UseValidatedSpec',
  preflight: 'Preflight',
  schema: 'Schema',
  bulkCopy: 'BulkCopy',
  commandSend: 'CommandSend',
  commandWait: 'CommandWait',
  commandPoll: 'CommandPoll',
  commandDone: 'CommandDone',
  commandFinished: 'CommandFinished',
  backfillPlan: 'BackfillPlan',
  backfillPhases: 'BackfillPhases',
  backfillPhasesLeft: 'BackfillPhasesLeft',
  backfillPhase: 'BackfillPhase',
  backfillMode: 'BackfillMode',
  backfillChunks: 'BackfillChunks',
  backfillChunk: 'BackfillChunk',
  backfillChunksDistributed: 'BackfillChunksDistributed',
  backfillChunkDistributed: 'BackfillChunkDistributed',
  backfillPhaseDone: 'BackfillPhaseDone',
  backfillDone: 'BackfillDone',
  verify: 'Verify',
  gatePlan: 'GatePlan',
  gateMode: 'GateMode',
  gateChunksInline: 'GateChunksInline',
  gateChunk: 'GateChunk',
  gateChunksDistributed: 'GateChunksDistributed',
  gateChunkDistributed: 'GateChunkDistributed',
  gates: 'Gates',
  decide: 'Decide',
  goNoGo: 'GoNoGo',
  cutover: 'Cutover',
  cutoverCommandRunning: 'CutoverCommandRunning',
  cutoverCommandWait: 'CutoverCommandWait',
  smoke: 'Smoke',
  rollback: 'Rollback',
  rollbackCommandRunning: 'RollbackCommandRunning',
  rollbackCommandWait: 'RollbackCommandWait',
  classify: 'Classify',
  summary: 'Summary',
  outcome: 'Outcome',
  done: 'Done',
  failed: 'NoGo',
  summaryFailed: 'SummaryFailed',
} as const;
export type StateKey = keyof typeof STATES;

/**
 * Task states backed by a Lambda handler: state key -> handler module name
 * (lambdas/handlers/<name>.ts), the ${Substitution} in the ASL file and the
 * function's timeout in seconds (the CDK construct sets it; the local runner
 * enforces it, failing the task with Sandbox.Timedout as Lambda does).
 */
export const TASKS = {
  validateSpec: { handler: 'validate-spec', substitution: 'ValidateSpecFunctionArn', timeoutSeconds: 900 },
  preflight: { handler: 'preflight', substitution: 'PreflightFunctionArn', timeoutSeconds: 900 },
  schema: { handler: 'schema', substitution: 'SchemaFunctionArn', timeoutSeconds: 900 },
  commandSend: { handler: 'command-send', substitution: 'CommandSendFunctionArn', timeoutSeconds: 90 },
  commandPoll: { handler: 'command-poll', substitution: 'CommandPollFunctionArn', timeoutSeconds: 90 },
  backfillPlan: { handler: 'backfill-plan', substitution: 'BackfillPlanFunctionArn', timeoutSeconds: 900 },
  backfillChunk: { handler: 'backfill-chunk', substitution: 'BackfillChunkFunctionArn', timeoutSeconds: 900 },
  verify: { handler: 'verify', substitution: 'VerifyFunctionArn', timeoutSeconds: 900 },
  gatePlan: { handler: 'gate-plan', substitution: 'GatePlanFunctionArn', timeoutSeconds: 900 },
  gateChunk: { handler: 'gate-chunk', substitution: 'GateChunkFunctionArn', timeoutSeconds: 900 },
  gates: { handler: 'gates', substitution: 'GatesFunctionArn', timeoutSeconds: 900 },
  decide: { handler: 'decide', substitution: 'DecideFunctionArn', timeoutSeconds: 900 },
  goNoGo: { handler: 'go-no-go', substitution: 'GoNoGoFunctionArn', timeoutSeconds: 900 },
  cutover: { handler: 'cutover', substitution: 'CutoverFunctionArn', timeoutSeconds: 900 },
  smoke: { handler: 'smoke', substitution: 'SmokeFunctionArn', timeoutSeconds: 900 },
  rollback: { handler: 'rollback', substitution: 'RollbackFunctionArn', timeoutSeconds: 900 },
  classify: { handler: 'classify', substitution: 'ClassifyFunctionArn', timeoutSeconds: 120 },
  summary: { handler: 'summary', substitution: 'SummaryFunctionArn', timeoutSeconds: 900 },
} as const satisfies Partial<Record<StateKey, { handler: string; substitution: string; timeoutSeconds: number }>>;
export type TaskKey = keyof typeof TASKS;

/** Evidence file per step: runs/<runId>/NN_<step>.json */
export const EVIDENCE_STEPS = {
  validateSpec: '01_validate',
  preflight: '02_preflight',
  schema: '03_schema',
  commandSend: '05_bulk_copy_send',
  commandPoll: '05_bulk_copy',
  backfillPlan: '04_backfill_plan',
  backfillChunk: '05_backfill',
  verify: '06_verify',
  gatePlan: '07_gates_plan',
  gateChunk: '07_gates_chunk',
  gates: '07_gates',
  decide: '08_decide',
  goNoGo: '09_approval',
  cutover: '10_cutover',
  smoke: '11_smoke',
  rollback: '12_rollback',
  classify: '90_classify',
  summary: '99_summary',
} as const satisfies Record<TaskKey, string>;

/** ASL substitutions that are not functions. */
export const OTHER_SUBSTITUTIONS = ['EvidenceBucketName', 'WorkBucketName'] as const;

/** Order in which stages run; Classify uses it to name where a run stopped. */
export const STAGE_ORDER: readonly TaskKey[] = [
  'validateSpec',
  'preflight',
  'schema',
  'commandPoll',
  'backfillPlan',
  'backfillChunk',
  'verify',
  'gatePlan',
  'gateChunk',
  'gates',
  'decide',
  'goNoGo',
  'cutover',
  'smoke',
];
