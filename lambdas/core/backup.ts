/**
 * The backup before Schema (spec.backup): an Aurora cluster snapshot in AWS, a validated dump locally, named by the
 * run so every attempt and every invocation finds the same one (made once, before the first change). Schema waits for
 * it: past its invocation's time it hands over to the next invocation (MigrationStillRunning, the state's own Retry),
 * which follows the same backup instead of starting another.
 */
import type { BackupStatus, Deps } from '../ports';
import { EnvironmentBlocked, MigrationStillRunning } from './errors';
import { canonicalJson, sha256Hex } from './evidence';
import { stepKey } from './evidence-layout';
import type { RunSpec } from './spec';
import { dbRef } from './spec';

/** A snapshot identifier from the run id: letters, digits and single hyphens, a letter first (RDS's rule), unique per run. */
export function backupId(runId: string): string {
  const slug = runId
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
  return `cutline-${slug ? `${slug}-` : ''}${sha256Hex(runId).slice(0, 8)}-pre-schema`;
}

/** How long to wait between looks, and the time an invocation keeps for itself after the last look. */
const POLL_MS = 15_000;
const KEEP_MS = 60_000;

export async function ensureBackup(spec: RunSpec, deps: Pick<Deps, 'backups' | 'clock' | 'evidence'>, remainingMs?: () => number): Promise<BackupStatus | undefined> {
  if (!spec.backup) return undefined;
  if (!deps.backups) throw new EnvironmentBlocked('spec.backup asks for a backup before the schema changes; expected a backup service where this stage runs');
  const db = dbRef(spec, spec.backup.database);
  const id = backupId(spec.runId);
  let st = await deps.backups.ensure(db, id);
  while (st.state === 'creating') {
    if (remainingMs && remainingMs() < KEEP_MS + POLL_MS) throw new MigrationStillRunning(`backup ${id} is still being made (${st.detail}); the next invocation follows it`);
    await deps.clock.sleep(POLL_MS);
    st = await deps.backups.status(db, id);
  }
  if (st.state === 'failed') throw new EnvironmentBlocked(`backup ${id} of the ${spec.backup.database} database failed: ${st.detail}; expected an available backup before the schema changes`, { backup: st });
  await deps.evidence.put(stepKey(spec.runId, 'schema', '_backup'), canonicalJson({ database: spec.backup.database, ...st, checked_utc: deps.clock.now().toISOString() }), 'application/json');
  return st;
}
