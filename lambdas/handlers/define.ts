/**
 * A thin handler: parse the payload (zod) -> run the stage -> return its result. The same
 * path for the Lambda entry (task.ts, AWS ports) and the local runner (local ports).
 */
import { CutlineError, errorMessage, TransientDatabaseError } from '../core/errors';
import { parsePayload } from '../core/payloads';
import { isDataApiTransient, isTransient } from '../core/retry';
import { STATES, type TaskKey } from '../core/states';
import type { HandlerContext } from './context';
import { STAGES, type Stage } from './stages';

/** Runs one stage on a raw payload: the parse error names the state and the field. */
export async function runStage(key: TaskKey, ctx: HandlerContext, event: unknown): Promise<unknown> {
  return runDefined(STATES[key], STAGES[key], ctx, event);
}

export async function runDefined(state: string, stage: Stage, ctx: HandlerContext, event: unknown): Promise<unknown> {
  try {
    return await stage.run(parsePayload(stage.input, state, event), ctx);
  } catch (e) {
    // A dropped connection or a terminated backend: named so the state machine's Retry runs the (idempotent) stage again.
    // The Data API's named exceptions keep their names (each is in the Retry of every Task state).
    if (!(e instanceof CutlineError) && isTransient(e) && !isDataApiTransient(e)) throw new TransientDatabaseError('DatabaseConnectionLost', errorMessage(e), { cause: e });
    throw e;
  }
}
