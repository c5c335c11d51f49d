/**
 * The state machine's loop at a running jumpbox command (Cutover and Rollback): one look per Task call, then a Wait
 * state of `pollSecondsAfter` seconds, then the Task again. What a look costs in history events bounds how long a
 * spec's commands may run.
 */

/** Beyond its own timeout, a command gets this long to be reported ended before it is cancelled (delivery, status upload). */
export const COMMAND_GRACE_SECONDS = 30;

/** A command behind its claim on the host (at most once per intent) may wait this much longer for an earlier send. */
export const CLAIM_SECONDS = 5;

/** Look again after about 5% of the time so far: every 5 s at first, at most every 60 s. */
export const pollSecondsAfter = (elapsedMs: number) => Math.min(60, Math.max(5, Math.round((elapsedMs * 0.05) / 1000)));

/** History events of one look: the Task (entered, scheduled, started, succeeded, exited), the Choice and the Wait (entered, exited each). */
export const EVENTS_PER_LOOK = 9;

/** The most events the command loops of one execution may take: a fifth of its 25,000, the rest for the stages and their Maps. */
export const COMMAND_LOOP_EVENTS = 5_000;

/** Looks at a command that runs to its timeout and the grace: the most it can cost. */
export function commandLooks(timeoutSeconds: number): number {
  let looks = 1;
  for (let t = 0; t <= timeoutSeconds + COMMAND_GRACE_SECONDS; looks++) t += pollSecondsAfter(t * 1000);
  return looks;
}
