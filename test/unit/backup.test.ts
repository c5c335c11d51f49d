/**
 * The backup before Schema: Aurora cluster snapshots through the real RDS client (aws-sdk-client-mock), the waiting
 * that hands over to the next invocation, failures that block before anything changes, and the run-named identifier.
 */
import { CreateDBClusterSnapshotCommand, DBClusterSnapshotAlreadyExistsFault, DescribeDBClusterSnapshotsCommand, RDSClient } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { RdsSnapshotBackups } from '../../lambdas/adapters/aws/rds';
import { backupId, ensureBackup } from '../../lambdas/core/backup';
import { EnvironmentBlocked, MigrationStillRunning } from '../../lambdas/core/errors';
import { parseSpec, type RunSpec } from '../../lambdas/core/spec';
import type { BackupService, BackupStatus, Clock, EvidenceStore } from '../../lambdas/ports';

const rdsm = mockClient(RDSClient);
beforeEach(() => rdsm.reset());

const CLUSTER = 'arn:aws:rds:eu-west-1:123456789012:cluster:orders-prod';
const db = { engine: 'postgres' as const, dataApi: { resourceArn: CLUSTER, secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf', database: 'orders' } };

function spec(extra: Record<string, unknown> = {}): RunSpec {
  const r = parseSpec({ version: 1, runId: 'orders_2026-11-21', owner: 'o', tCutover: '2026-11-21T02:00:00Z', source: { engine: 'postgres', dataApi: db.dataApi }, backup: {}, ...extra });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.spec;
}

/** A clock that advances by what is slept: no wall time passes. */
function fakeClock(): Clock & { slept: number[] } {
  let t = Date.parse('2026-11-21T01:00:00Z');
  const slept: number[] = [];
  return {
    slept,
    now: () => new Date(t),
    sleep: async (ms) => {
      slept.push(ms);
      t += ms;
    },
  };
}

function memoryEvidence(): EvidenceStore & { puts: Map<string, string> } {
  const puts = new Map<string, string>();
  const put = async (key: string, body: string | Uint8Array) => {
    puts.set(key, String(body));
    return { key, sha256: '', size: 0 };
  };
  return { puts, put } as unknown as EvidenceStore & { puts: Map<string, string> };
}

describe('Aurora cluster snapshot', () => {
  it('creates the snapshot named by the run on the spec cluster, and a second call finds it (AlreadyExists) instead of failing', async () => {
    rdsm.on(CreateDBClusterSnapshotCommand).resolvesOnce({}).rejectsOnce(new DBClusterSnapshotAlreadyExistsFault({ message: 'exists', $metadata: {} }));
    rdsm
      .on(DescribeDBClusterSnapshotsCommand)
      .resolvesOnce({ DBClusterSnapshots: [{ Status: 'creating', PercentProgress: 40, DBClusterIdentifier: 'orders-prod', DBClusterSnapshotArn: `${CLUSTER}-snap` }] })
      .resolves({ DBClusterSnapshots: [{ Status: 'available', PercentProgress: 100, DBClusterIdentifier: 'orders-prod', DBClusterSnapshotArn: 'arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:x' }] });
    const b = new RdsSnapshotBackups(new RDSClient({ region: 'eu-west-1' }));
    const id = backupId('orders_2026-11-21');
    expect(await b.ensure(db, id)).toEqual({ state: 'creating', id, location: `${CLUSTER}-snap`, detail: 'creating, 40% of cluster orders-prod' });
    expect((await b.ensure(db, id)).state).toBe('available');
    const create = rdsm.commandCalls(CreateDBClusterSnapshotCommand);
    expect(create).toHaveLength(2);
    expect(create[0]!.args[0].input).toMatchObject({ DBClusterIdentifier: 'orders-prod', DBClusterSnapshotIdentifier: id });
  });

  it('identifiers: letters, digits and single hyphens, a letter first, distinct for run ids that differ only in punctuation', () => {
    const a = backupId('orders_2026-11-21');
    expect(a).toMatch(/^cutline-orders-2026-11-21-[0-9a-f]{8}-pre-schema$/);
    expect(a).not.toMatch(/--/);
    expect(backupId('orders-2026-11-21')).not.toBe(a);
    expect(backupId('__')).toMatch(/^cutline-[0-9a-f]{8}-pre-schema$/);
  });
});

describe('ensureBackup (Schema waits for it before any change)', () => {
  const service = (states: BackupStatus['state'][]): BackupService & { calls: number } => {
    let i = 0;
    const next = async (): Promise<BackupStatus> => ({ state: states[Math.min(i++, states.length - 1)]!, id: 'b', location: 'arn:snap', detail: 'x' });
    const s = {
      calls: 0,
      ensure: async () => {
        s.calls++;
        return next();
      },
      status: next,
      restore: async () => ({ detail: 'restored' }),
    };
    return s;
  };

  it('waits while the snapshot is being made, then records it', async () => {
    const clock = fakeClock();
    const evidence = memoryEvidence();
    const st = await ensureBackup(spec(), { backups: service(['creating', 'creating', 'available']), clock, evidence }, () => 600_000);
    expect(st?.state).toBe('available');
    expect(clock.slept).toEqual([15_000, 15_000]);
    expect(JSON.parse(evidence.puts.get('orders_2026-11-21/03_schema_backup.json')!)).toMatchObject({ database: 'target', state: 'available', location: 'arn:snap' });
  });

  it('hands over to the next invocation when its time is nearly up (the state retries MigrationStillRunning), and blocks on a failed backup', async () => {
    await expect(ensureBackup(spec(), { backups: service(['creating']), clock: fakeClock(), evidence: memoryEvidence() }, () => 70_000)).rejects.toThrow(MigrationStillRunning);
    const failed = ensureBackup(spec(), { backups: service(['failed']), clock: fakeClock(), evidence: memoryEvidence() });
    await expect(failed).rejects.toThrow(EnvironmentBlocked);
    await expect(ensureBackup(spec(), { backups: service(['failed']), clock: fakeClock(), evidence: memoryEvidence() })).rejects.toThrow(/backup cutline-orders-2026-11-21-[0-9a-f]{8}-pre-schema of the target database failed: x; expected an available backup before the schema changes/);
  });

  it('no backup asked for: nothing done', async () => {
    const s = service(['available']);
    expect(await ensureBackup(spec({ backup: undefined }), { backups: s, clock: fakeClock(), evidence: memoryEvidence() })).toBeUndefined();
    expect(s.calls).toBe(0);
  });
});
