/** Is a process on this machine still alive? One answer for the runner lock and the local jumpbox's commands. */
import { existsSync, readFileSync } from 'node:fs';

/** Linux: the process's state and start time (clock ticks since boot) from /proc; undefined elsewhere or when it is gone. */
export function procStat(pid: number): { state: string; start: string } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so split after its last ')'.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: f[0]!, start: f[19]! };
  } catch {
    return undefined;
  }
}

/**
 * Alive: it answers signal 0, is no zombie (a killed process nobody reaped
 * yet), and — given the start time recorded with its pid — is not another
 * process that reused the pid.
 */
export function processAlive(pid: number, start?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const st = procStat(pid);
  if (!st) return !existsSync('/proc/self/stat'); // no /proc: trust kill(0)
  if (st.state === 'Z' || st.state === 'X') return false;
  return start === undefined || st.start === start;
}
