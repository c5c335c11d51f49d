/** What a stage runs with: the platform's ports, and the invocation's time (Lambda's context, or the local runner's). */
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
