/**
 * The deployed definition as the local runner executes it: statemachines/cutover.asl.json with every
 * ${Substitution} replaced as CDK does, each task function named by an ARN, and run under its Lambda timeout.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TaskFailure } from '../../lambdas/adapters/local/approval/tokens';
import { functionSubstitution, OTHER_SUBSTITUTIONS, TASK_KEYS, type TaskKey } from '../../lambdas/core/states';
import { STAGES } from '../../lambdas/handlers/stages';
import type { Definition } from '../engine/asl';

export const ASL_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../statemachines/cutover.asl.json');

/** The function ARN a Task's Resource names once substituted (one per stage: cutline-validate-spec, ...). */
const functionArn = (key: TaskKey) => `arn:aws:lambda:us-east-1:000000000000:function:cutline-${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** The stage whose function an ARN names. */
export const FUNCTIONS: ReadonlyMap<string, TaskKey> = new Map(TASK_KEYS.map((k) => [functionArn(k), k]));

/** The ASL as Step Functions gets it, every ${XxxFunctionArn} replaced by a Lambda ARN. */
export async function substitutedDefinition(): Promise<Definition> {
  let text = await readFile(ASL_FILE, 'utf8');
  for (const k of TASK_KEYS) text = text.replaceAll(`\${${functionSubstitution(k)}}`, functionArn(k));
  for (const sub of OTHER_SUBSTITUTIONS) text = text.replaceAll(`\${${sub}}`, `local-${sub}`);
  const left = /\$\{([A-Za-z]+)\}/.exec(text);
  if (left) throw new Error(`ASL substitution \${${left[1]}} has no local value`);
  return JSON.parse(text);
}

/** A function's timeout: the deployed one (the stage registry), or a shorter one asked for; past it, Sandbox.Timedout. */
export async function withFunctionTimeout<T>(key: TaskKey, invoke: (endsAtMs: number) => Promise<T>, shorterSeconds?: number): Promise<T> {
  const seconds = Math.min(STAGES[key].timeoutSeconds, shorterSeconds ?? Number.POSITIVE_INFINITY);
  // The invocation's end, which the handler can ask for (Lambda's getRemainingTimeInMillis).
  const work = invoke(Date.now() + seconds * 1000);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TaskFailure('Sandbox.Timedout', `Task timed out after ${seconds.toFixed(2)} seconds`)), seconds * 1000);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
