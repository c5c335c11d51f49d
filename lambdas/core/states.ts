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
  phaseStart: 'PhaseStart',
  phasesAny: 'PhasesAny',
  phase: 'Phase',
  phaseNext: 'PhaseNext',
  phaseCommandWait: 'PhaseCommandWait',
  phaseGoNoGo: 'PhaseGoNoGo',
  phaseApproved: 'PhaseApproved',
  soak: 'Soak',
  soakFirst: 'SoakFirst',
  soakWaitFirst: 'SoakWaitFirst',
  soakPoll: 'SoakPoll',
  soakMore: 'SoakMore',
  soakWait: 'SoakWait',
  soakSegmentDone: 'SoakSegmentDone',
  phaseSoaked: 'PhaseSoaked',
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
 * The Task states backed by a Lambda function (each has one entry in the stage registry,
 * lambdas/handlers/stages.ts, which checks at compile time that it lists every one of them).
 */
export const TASK_KEYS = [
  'validateSpec',
  'preflight',
  'schema',
  'commandSend',
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
  'phase',
  'soakPoll',
  'rollback',
  'classify',
  'summary',
] as const satisfies readonly StateKey[];
export type TaskKey = (typeof TASK_KEYS)[number];

/** A stage function's timeout (Lambda's longest); the registry sizes the long stages with it and the spec checks budgets against it. */
export const STAGE_FUNCTION_SECONDS = 900;
/** SoakPoll's function timeout: one poll probes every monitor of a phase (the spec keeps them within it). */
export const SOAK_POLL_SECONDS = 300;
/** The stage functions' memory (the CDK construct's default). */
export const STAGE_FUNCTION_MEMORY_MB = 512;
/** A Data API call returns within 45 s (ExecuteStatement's limit): work is started only with that much of an invocation left. */
export const DATA_API_CALL_MS = 45_000;
/** What an invocation keeps for itself after its work (history row, lease, step record, a checkpoint). */
export const INVOCATION_MARGIN_MS = 30_000;

/** A task's name in the stack: its construct ids (`${name}Function`, `${name}Logs`) and its substitution. */
export const taskName = (key: TaskKey) => `${key[0]!.toUpperCase()}${key.slice(1)}`;

/** The ${Substitution} naming a task's function in the ASL file: `${ValidateSpecFunctionArn}`. */
export const functionSubstitution = (key: TaskKey) => `${taskName(key)}FunctionArn`;

/** ASL substitutions that are not functions. */
export const OTHER_SUBSTITUTIONS = ['EvidenceBucketName', 'WorkBucketName'] as const;

/**
 * Order in which the stages of a run's path run (TASK_KEYS is listed in that order); Classify uses it to name where a
 * run stopped. Not on it: the command sender (its poller stands for the bulk copy) and the stages every run ends with.
 */
const OFF_THE_PATH: readonly TaskKey[] = ['commandSend', 'soakPoll', 'rollback', 'classify', 'summary'];
export const STAGE_ORDER: readonly TaskKey[] = TASK_KEYS.filter((k) => !OFF_THE_PATH.includes(k));
