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
  backfillTasks: 'BackfillTasks',
  backfillChunks: 'BackfillChunks',
  backfillChunk: 'BackfillChunk',
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
  smoke: 'Smoke',
  rollback: 'Rollback',
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
 * (lambdas/handlers/<name>.ts) and the ${Substitution} in the ASL file.
 */
export const TASKS = {
  validateSpec: { handler: 'validate-spec', substitution: 'ValidateSpecFunctionArn' },
  preflight: { handler: 'preflight', substitution: 'PreflightFunctionArn' },
  schema: { handler: 'schema', substitution: 'SchemaFunctionArn' },
  commandSend: { handler: 'command-send', substitution: 'CommandSendFunctionArn' },
  commandPoll: { handler: 'command-poll', substitution: 'CommandPollFunctionArn' },
  backfillPlan: { handler: 'backfill-plan', substitution: 'BackfillPlanFunctionArn' },
  backfillChunk: { handler: 'backfill-chunk', substitution: 'BackfillChunkFunctionArn' },
  verify: { handler: 'verify', substitution: 'VerifyFunctionArn' },
  gatePlan: { handler: 'gate-plan', substitution: 'GatePlanFunctionArn' },
  gateChunk: { handler: 'gate-chunk', substitution: 'GateChunkFunctionArn' },
  gates: { handler: 'gates', substitution: 'GatesFunctionArn' },
  decide: { handler: 'decide', substitution: 'DecideFunctionArn' },
  goNoGo: { handler: 'go-no-go', substitution: 'GoNoGoFunctionArn' },
  cutover: { handler: 'cutover', substitution: 'CutoverFunctionArn' },
  smoke: { handler: 'smoke', substitution: 'SmokeFunctionArn' },
  rollback: { handler: 'rollback', substitution: 'RollbackFunctionArn' },
  classify: { handler: 'classify', substitution: 'ClassifyFunctionArn' },
  summary: { handler: 'summary', substitution: 'SummaryFunctionArn' },
} as const satisfies Partial<Record<StateKey, { handler: string; substitution: string }>>;
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
export const OTHER_SUBSTITUTIONS = ['EvidenceBucketName'] as const;

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
