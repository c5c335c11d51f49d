/** Task tokens of a local run: each a promise the engine waits on, answered by the approval page or terminal. */
import { randomBytes } from 'node:crypto';
import type { TaskTokens } from '../../../ports';

export class TaskFailure extends Error {
  constructor(
    override readonly name: string,
    message: string,
  ) {
    super(message);
  }
}

export class LocalTaskTokens implements TaskTokens {
  private readonly waiters = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void; heartbeatMs?: number; timer?: NodeJS.Timeout }>();

  /**
   * A token and the promise that settles when someone answers it. With `heartbeatMs` (the state's HeartbeatSeconds,
   * which the local engine does not implement) the task fails with States.HeartbeatTimeout when no heartbeat,
   * view or answer comes in time, as in Step Functions.
   */
  mint(opts: { heartbeatMs?: number } = {}): { token: string; wait: Promise<unknown> } {
    const token = `local-${randomBytes(24).toString('base64url')}`;
    const wait = new Promise<unknown>((resolve, reject) => this.waiters.set(token, { resolve, reject, ...(opts.heartbeatMs ? { heartbeatMs: opts.heartbeatMs } : {}) }));
    // The answer may come before anyone awaits it (auto-reject during delivery): not an unhandled rejection.
    wait.catch(() => undefined);
    this.arm(token);
    return { token, wait };
  }
  async succeed(token: string, output: unknown) {
    const w = this.take(token);
    w.resolve(output);
  }
  /** SendTaskHeartbeat: restarts the heartbeat clock; on an answered or timed-out token it fails as Step Functions does. */
  async heartbeat(token: string) {
    if (!this.waiters.has(token)) throw taskGone();
    this.arm(token);
  }
  private arm(token: string) {
    const w = this.waiters.get(token);
    if (!w?.heartbeatMs) return;
    clearTimeout(w.timer);
    w.timer = setTimeout(() => {
      this.waiters.delete(token);
      w.reject(new TaskFailure('States.HeartbeatTimeout', `no heartbeat, view or answer within ${w.heartbeatMs! / 1000} s (HeartbeatSeconds)`));
    }, w.heartbeatMs);
    w.timer.unref?.();
  }
  async fail(token: string, error: string, cause: string) {
    const w = this.take(token);
    let message = cause;
    try {
      message = (JSON.parse(cause) as { errorMessage?: string }).errorMessage ?? cause;
    } catch {}
    w.reject(new TaskFailure(error, message));
  }
  /** The task timed out or its execution stopped: a later answer fails as in Step Functions (TaskTimedOut). */
  expire(token: string): void {
    const w = this.waiters.get(token);
    clearTimeout(w?.timer);
    this.waiters.delete(token);
  }
  private take(token: string) {
    const w = this.waiters.get(token);
    if (!w) throw taskGone();
    clearTimeout(w.timer);
    this.waiters.delete(token);
    return w;
  }
}

/** Named as Step Functions names it (SendTask* on a token that was answered or timed out). */
const taskGone = () => Object.assign(new Error('Provided task does not exist anymore: the task token is unknown, answered or timed out'), { name: 'TaskTimedOut' });
