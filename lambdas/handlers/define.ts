/**
 * A thin handler: parse the payload (zod) -> run the stage -> return its
 * result. `run` is what the local runner calls with local ports; `handler`
 * is the Lambda entry with AWS ports.
 */
import type { z } from 'zod';
import { approvalBaseUrl, awsDeps } from '../adapters/aws/deps';
import { CutlineError, errorMessage, TransientDatabaseError } from '../core/errors';
import { parsePayload } from '../core/payloads';
import { isDataApiTransient, isTransient } from '../core/retry';
import type { Deps } from '../ports';

export interface HandlerContext {
  readonly deps: Deps;
  readonly platform: 'aws' | 'local';
  /** Base URL of the approval page (API in AWS, 127.0.0.1 locally). */
  readonly approvalBaseUrl?: string;
  /** This invocation's time left in ms (Lambda's context; locally the runner's function timeout). */
  readonly remainingMs?: () => number;
}

/** What Lambda passes a Node.js handler besides the event (the part cutline reads). */
export interface LambdaContext {
  getRemainingTimeInMillis(): number;
}

export interface Handler<R> {
  readonly state: string;
  run(ctx: HandlerContext, event: unknown): Promise<R>;
  handler(event: unknown, context?: LambdaContext): Promise<R>;
}

export function defineHandler<S extends z.ZodType, R>(state: string, schema: S, stage: (input: z.infer<S>, ctx: HandlerContext) => Promise<R>): Handler<R> {
  const run = async (ctx: HandlerContext, event: unknown) => {
    try {
      return await stage(parsePayload(schema, state, event), ctx);
    } catch (e) {
      // A dropped connection or a terminated backend: named so the state machine's Retry runs the (idempotent) stage again.
      // The Data API's named exceptions keep their names (each is in the Retry of every Task state).
      if (!(e instanceof CutlineError) && isTransient(e) && !isDataApiTransient(e)) throw new TransientDatabaseError('DatabaseConnectionLost', errorMessage(e), { cause: e });
      throw e;
    }
  };
  return {
    state,
    run,
    handler: (event: unknown, context?: LambdaContext) =>
      run({ deps: awsDeps(), platform: 'aws', approvalBaseUrl: approvalBaseUrl(), ...(context ? { remainingMs: () => context.getRemainingTimeInMillis() } : {}) }, event),
  };
}
