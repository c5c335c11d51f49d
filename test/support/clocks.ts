/** Clocks for tests: no wall-clock races, no real sleeps. */
import type { Clock } from '../../lambdas/ports';

/**
 * Migration deps whose first wait between retries runs `release` (a lock holder commits) instead of sleeping; later
 * waits return at once. A retry test then proves "gave up, waited, went through" without racing a timer.
 */
export function releasingOnWait(release: () => Promise<unknown>): { clock: Clock; progress: undefined } {
  let released = false;
  return {
    clock: {
      now: () => new Date(),
      sleep: async () => {
        if (!released) {
          released = true;
          await release();
        }
      },
    },
    progress: undefined,
  };
}
