/**
 * The Lambda entry of every Task function: the construct sets CUTLINE_STAGE to the function's
 * registry key; the stage runs with the AWS ports (built once per container, on first use).
 */
import { approvalBaseUrl, awsDeps } from '../adapters/aws/deps';
import { TASK_KEYS, type TaskKey } from '../core/states';
import type { LambdaContext } from './context';
import { runStage } from './define';

/** The handler of one stage, as Lambda calls it. */
export function awsHandler(key: TaskKey) {
  return (event: unknown, context?: LambdaContext) =>
    runStage(key, { deps: awsDeps(), platform: 'aws', approvalBaseUrl: approvalBaseUrl(), ...(context ? { remainingMs: () => context.getRemainingTimeInMillis() } : {}) }, event);
}

function stageOfEnvironment(raw = process.env.CUTLINE_STAGE): TaskKey {
  const key = TASK_KEYS.find((k) => k === raw);
  if (!key) throw new Error(`environment variable CUTLINE_STAGE is ${JSON.stringify(raw)}; expected one of ${TASK_KEYS.join(', ')} (the CutoverPipeline construct sets it)`);
  return key;
}

/** The container's stage, read from its environment on the first invocation. */
let stage: ((event: unknown, context?: LambdaContext) => Promise<unknown>) | undefined;
export const handler = (event: unknown, context?: LambdaContext) => {
  stage ??= awsHandler(stageOfEnvironment());
  return stage(event, context);
};
