/**
 * Seed 004's bulk copy on the jumpbox (pg_dump | pg_restore, pgcopydb,
 * mysqldump): SendCommand once, then the state machine polls with Wait +
 * GetCommandInvocation + Choice. Exit code and output (with the S3 location
 * of the full output) are evidence; a failed, timed-out or hung command is
 * BACKFILL_FAILED.
 */
import { stepKey } from './evidence-layout';
import type { Deps } from '../ports';
import { BackfillFailed } from './errors';

import { canonicalJson } from './evidence';
import type { RunSpec } from './spec';

export interface BulkCommand {
  readonly name: string;
  readonly script: string;
  readonly timeoutSeconds: number;
  readonly pollSeconds: number;
}

const RUNNING = new Set(['Pending', 'InProgress', 'Delayed']);
/** Delivery and status reporting take a little while beyond the script's own timeout. */
const GRACE_MS = 120_000;

const key = (spec: RunSpec, name: string, suffix = '') => stepKey(spec.runId, 'commandPoll', `/${name}${suffix}`);

export async function sendBulkCommand(spec: RunSpec, command: BulkCommand, deps: Deps): Promise<{ commandId: string; sentAt: string }> {
  if (!spec.jumpbox) throw new BackfillFailed(`bulk copy "${command.name}" needs a jumpbox; expected spec.jumpbox.instanceId`);
  const commandId = await deps.commands.send(spec.jumpbox.instanceId, command.script, { timeoutSeconds: command.timeoutSeconds, comment: `cutline ${spec.runId} ${command.name}` });
  const sentAt = deps.clock.now().toISOString();
  await deps.evidence.put(key(spec, command.name, '_sent'), canonicalJson({ command: command.script, commandId, instanceId: spec.jumpbox.instanceId, sent_utc: sentAt, timeoutSeconds: command.timeoutSeconds }), 'application/json');
  return { commandId, sentAt };
}

export async function pollBulkCommand(spec: RunSpec, command: BulkCommand, sent: { commandId: string; sentAt: string }, deps: Deps): Promise<{ done: boolean; status: string; exitCode?: number | null }> {
  const r = await deps.commands.get(spec.jumpbox!.instanceId, sent.commandId);
  const elapsed = deps.clock.now().getTime() - Date.parse(sent.sentAt);
  const record = (result: 'PASS' | 'FAIL', extra: Record<string, unknown> = {}) =>
    deps.evidence.put(
      key(spec, command.name),
      canonicalJson({
        step: '05_bulk_copy',
        command: command.script,
        exit_code: r.exitCode,
        timestamp_utc: deps.clock.now().toISOString(),
        owner: spec.owner,
        result,
        details: { name: command.name, commandId: sent.commandId, status: r.status, elapsed_ms: elapsed, stdout: r.stdout, stderr: r.stderr, ...(r.outputUrl ? { fullOutput: r.outputUrl } : {}), ...(r.fullStdout ? { fullStdout: r.fullStdout } : {}), ...extra },
      }),
      'application/json',
    );
  if (RUNNING.has(r.status)) {
    if (elapsed <= command.timeoutSeconds * 1000 + GRACE_MS) return { done: false, status: r.status };
    await record('FAIL', { hung: true });
    throw new BackfillFailed(`bulk copy "${command.name}" is still ${r.status} after ${Math.round(elapsed / 1000)} s; expected it to end within timeoutSeconds = ${command.timeoutSeconds}`, { commandId: sent.commandId });
  }
  if (r.status === 'Success' && r.exitCode === 0) {
    await record('PASS');
    return { done: true, status: r.status, exitCode: 0 };
  }
  await record('FAIL');
  throw new BackfillFailed(
    `bulk copy "${command.name}" ended ${r.status} with exit code ${r.exitCode}; expected Success and exit 0${r.stderr ? `; stderr: ${r.stderr.slice(-300)}` : ''}`,
    { commandId: sent.commandId, exitCode: r.exitCode, status: r.status },
  );
}
