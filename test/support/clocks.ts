/** Clocks for tests: no wall-clock races. */
import { systemClock } from '../../lambdas/adapters/local/runtime';
import type { Clock } from '../../lambdas/ports';

/**
 * Migration deps whose wait before the first retry (announced by the "…, retry 1" progress line) runs `release` (a
 * lock holder commits) instead of sleeping. Other waits (a statement's watchdog, polls) are real, so the lock is held
 * for the whole first attempt: a retry test proves "gave up, waited, went through" without racing a timer.
 */
export function releasingOnWait(release: () => Promise<unknown>): { clock: Clock; progress: (p: { message?: string }) => void } {
  let armed = false;
  let released = false;
  return {
    clock: {
      now: () => new Date(),
      sleep: async (ms) => {
        if (armed && !released) {
          released = true;
          await release();
        } else await systemClock.sleep(ms);
      },
    },
    progress: (p) => {
      if (/, retry 1$/.test(p.message ?? '')) armed = true;
    },
  };
}
