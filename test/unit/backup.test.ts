/**
 * The backup before Schema: Aurora cluster snapshots through the real RDS client (aws-sdk-client-mock), the waiting
 * that hands over to the next invocation, failures that block before anything changes, and the run-named identifier.
 */
import {
  CreateDBClusterSnapshotCommand,
  CreateDBInstanceCommand,
  DBClusterAlreadyExistsFault,
  DBClusterNotFoundFault,
  DBClusterSnapshotAlreadyExistsFault,
  DBInstanceNotFoundFault,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  EnableHttpEndpointCommand,
  RDSClient,
  RestoreDBClusterFromSnapshotCommand,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { RdsSnapshotBackups, restoredClusterId } from '../../lambdas/adapters/aws/rds';
import { runRollback } from '../../lambdas/core/actions';
import { backupId, ensureBackup } from '../../lambdas/core/backup';
import { EnvironmentBlocked, MigrationStillRunning } from '../../lambdas/core/errors';
import { parseSpec, platformProblems, type RunSpec } from '../../lambdas/core/spec';
import type { BackupService, BackupStatus, Clock, Deps, EvidenceStore, RestoreStatus } from '../../lambdas/ports';

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
  const get = async (key: string) => (puts.has(key) ? new TextEncoder().encode(puts.get(key)!) : undefined);
  return { puts, put, get } as unknown as EvidenceStore & { puts: Map<string, string> };
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
      restore: async (): Promise<RestoreStatus> => ({ state: 'restored', detail: 'restored' }),
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

describe('restore in AWS: the snapshot to a new cluster, then the selector flipped to it', () => {
  const SNAP = backupId('orders_2026-11-21');
  const TARGET = restoredClusterId(SNAP);
  const NEW_ARN = `arn:aws:rds:eu-west-1:123456789012:cluster:${TARGET}`;
  const source = {
    DBClusterIdentifier: 'orders-prod',
    DBClusterArn: CLUSTER,
    Status: 'available',
    Engine: 'aurora-postgresql',
    EngineVersion: '16.4',
    Port: 5432,
    DBSubnetGroup: 'orders-subnets',
    VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-0abc', Status: 'active' }],
    DBClusterParameterGroup: 'orders-pg16',
    ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 16 },
    KmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/k',
    HttpEndpointEnabled: true,
    DeletionProtection: true,
    DBClusterMembers: [{ DBInstanceIdentifier: 'orders-prod-writer', IsClusterWriter: true }],
  };
  const restored = (over: Record<string, unknown>) => ({ DBClusterIdentifier: TARGET, DBClusterArn: NEW_ARN, Endpoint: `${TARGET}.cluster-abc.eu-west-1.rds.amazonaws.com`, ...over });
  const notFound = new DBClusterNotFoundFault({ message: 'not found', $metadata: {} });

  it('a name from the snapshot (cutline-*, the IAM policy allows no other), short enough for its writer', () => {
    expect(TARGET).toMatch(/^cutline-[0-9a-f]{12}-restored$/);
    expect(`${TARGET}-1`.length).toBeLessThanOrEqual(63);
    expect(restoredClusterId(SNAP)).toBe(TARGET);
  });

  it('one step a call: the cluster restored with the old one\'s engine, network, parameter group and Data API, its writer with the old writer\'s class; a later call follows, never starts another', async () => {
    const b = new RdsSnapshotBackups(new RDSClient({ region: 'eu-west-1' }));
    rdsm.on(DescribeDBClustersCommand, { DBClusterIdentifier: 'orders-prod' }).resolves({ DBClusters: [source] });
    rdsm
      .on(DescribeDBClustersCommand, { DBClusterIdentifier: TARGET })
      .rejectsOnce(notFound)
      .resolvesOnce({ DBClusters: [restored({ Status: 'creating' })] })
      .resolvesOnce({ DBClusters: [restored({ Status: 'available', HttpEndpointEnabled: false })] })
      .resolvesOnce({ DBClusters: [restored({ Status: 'available', HttpEndpointEnabled: false })] })
      .resolvesOnce({ DBClusters: [restored({ Status: 'available', HttpEndpointEnabled: false })] })
      .resolves({ DBClusters: [restored({ Status: 'available', HttpEndpointEnabled: true })] });
    rdsm.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'orders-prod-writer' }).resolves({ DBInstances: [{ DBInstanceClass: 'db.serverless' }] });
    rdsm
      .on(DescribeDBInstancesCommand, { DBInstanceIdentifier: `${TARGET}-1` })
      .rejectsOnce(new DBInstanceNotFoundFault({ message: 'not found', $metadata: {} }))
      .resolvesOnce({ DBInstances: [{ DBInstanceStatus: 'creating' }] })
      .resolves({ DBInstances: [{ DBInstanceStatus: 'available' }] });
    rdsm.on(RestoreDBClusterFromSnapshotCommand).resolves({});
    rdsm.on(CreateDBInstanceCommand).resolves({});
    rdsm.on(EnableHttpEndpointCommand).resolves({ HttpEndpointEnabled: true });

    const steps: RestoreStatus[] = [];
    for (let i = 0; i < 6; i++) steps.push(await b.restore(db, SNAP));
    expect(steps.map((x) => x.detail)).toEqual([
      `cluster ${TARGET} being restored from snapshot ${SNAP}`,
      `cluster ${TARGET} is creating`,
      `cluster ${TARGET} available; its writer ${TARGET}-1 being created`,
      `writer ${TARGET}-1 of cluster ${TARGET} is creating`,
      `snapshot ${SNAP} restored to the new cluster ${TARGET} (writer ${TARGET}-1, endpoint ${TARGET}.cluster-abc.eu-west-1.rds.amazonaws.com); the old cluster orders-prod is untouched`,
      `snapshot ${SNAP} restored to the new cluster ${TARGET} (writer ${TARGET}-1, endpoint ${TARGET}.cluster-abc.eu-west-1.rds.amazonaws.com); the old cluster orders-prod is untouched`,
    ]);
    expect(steps[4]).toMatchObject({ state: 'restored', moved: { id: TARGET, endpoint: `${TARGET}.cluster-abc.eu-west-1.rds.amazonaws.com`, arn: NEW_ARN } });
    const restore = rdsm.commandCalls(RestoreDBClusterFromSnapshotCommand);
    expect(restore).toHaveLength(1);
    expect(restore[0]!.args[0].input).toMatchObject({
      DBClusterIdentifier: TARGET,
      SnapshotIdentifier: SNAP,
      Engine: 'aurora-postgresql',
      EngineVersion: '16.4',
      Port: 5432,
      DBSubnetGroupName: 'orders-subnets',
      VpcSecurityGroupIds: ['sg-0abc'],
      DBClusterParameterGroupName: 'orders-pg16',
      ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 16 },
      KmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/k',
      DeletionProtection: true,
    });
    const create = rdsm.commandCalls(CreateDBInstanceCommand);
    expect(create.map((c) => c.args[0].input)).toEqual([expect.objectContaining({ DBInstanceIdentifier: `${TARGET}-1`, DBClusterIdentifier: TARGET, Engine: 'aurora-postgresql', DBInstanceClass: 'db.serverless' })]);
    expect(rdsm.commandCalls(EnableHttpEndpointCommand).map((c) => c.args[0].input)).toEqual([{ ResourceArn: NEW_ARN }]);
  });

  it('a restore another call started (AlreadyExists) is followed; a cluster that failed is an error that names it and leaves it', async () => {
    const b = new RdsSnapshotBackups(new RDSClient({ region: 'eu-west-1' }));
    rdsm.on(DescribeDBClustersCommand, { DBClusterIdentifier: 'orders-prod' }).resolves({ DBClusters: [source] });
    rdsm.on(DescribeDBClustersCommand, { DBClusterIdentifier: TARGET }).rejectsOnce(notFound).resolves({ DBClusters: [restored({ Status: 'incompatible-network' })] });
    rdsm.on(RestoreDBClusterFromSnapshotCommand).rejects(new DBClusterAlreadyExistsFault({ message: 'exists', $metadata: {} }));
    expect(await b.restore(db, SNAP)).toMatchObject({ state: 'restoring', id: TARGET });
    await expect(b.restore(db, SNAP)).rejects.toThrow(`cluster ${TARGET}, restored from snapshot ${SNAP}, is incompatible-network; expected it available (it is left for inspection)`);
  });

  it('the rollback follows it across calls (the Wait loop), then flips the selector once, with the value before it recorded; refused in AWS without a selector', () => {
    const plain = spec({ rollback: { actions: [{ type: 'restore' }] } });
    expect(platformProblems(plain, 'aws').find((p) => p.path === '$.rollback.actions[0].selector')?.message).toMatch(/^got a "restore" action without a selector; in AWS an Aurora snapshot restores to a new cluster/);
    const flipped = spec({ rollback: { actions: [{ type: 'restore', selector: { parameter: '/orders/prod/db-host' } }] } });
    expect(platformProblems(flipped, 'aws').filter((p) => p.path.startsWith('$.rollback'))).toEqual([]);
  });

  it('journaled: restoring -> waiting (the cluster id in the intent), called back until restored, the selector flipped once; past timeoutSeconds it fails', async () => {
    const s = spec({ rollback: { actions: [{ type: 'restore', selector: { parameter: '/orders/prod/db-host' }, timeoutSeconds: 3600 }] } });
    const states: RestoreStatus[] = [
      { state: 'restoring', id: 'cutline-x-restored', detail: 'cluster cutline-x-restored is creating' },
      { state: 'restoring', id: 'cutline-x-restored', detail: 'writer being created' },
      { state: 'restored', detail: 'restored to cutline-x-restored', moved: { id: 'cutline-x-restored', endpoint: 'new.host', arn: 'arn:new' } },
    ];
    let calls = 0;
    const params = new Map([['/orders/prod/db-host', 'old.host']]);
    const puts: [string, string][] = [];
    const clock = fakeClock();
    const evidence = memoryEvidence();
    const deps = {
      evidence,
      clock,
      backups: { restore: async () => states[Math.min(calls++, states.length - 1)]! },
      parameters: {
        getMany: async (names: string[]) => new Map(names.filter((n) => params.has(n)).map((n) => [n, params.get(n)!])),
        secureNames: async () => new Set<string>(),
        put: async (n: string, v: string) => {
          puts.push([n, v]);
          params.set(n, v);
        },
      },
    } as unknown as Deps;
    let step = await runRollback(s, deps);
    expect(step.waiting).toMatchObject({ action: 0, commandId: 'cutline-x-restored', running: true, pollSeconds: 5 });
    expect(JSON.parse(evidence.puts.get('orders_2026-11-21/12_rollback/actions/001.intent.json')!)).toMatchObject({ commandId: 'cutline-x-restored', previous: 'old.host' });
    await clock.sleep(600_000);
    step = await runRollback(s, deps, { waiting: step.waiting! });
    expect(step.waiting).toMatchObject({ pollSeconds: 30 });
    step = await runRollback(s, deps, { waiting: step.waiting! });
    expect(step.waiting).toBeUndefined();
    expect(step.ok).toBe(true);
    expect(step.actions[0]).toMatchObject({ ok: true, previous: 'old.host', effect: 'ran', intents: 1, detail: 'restored to cutline-x-restored; /orders/prod/db-host: "old.host" -> "new.host"' });
    expect(puts).toEqual([['/orders/prod/db-host', 'new.host']]);

    // Never there: past timeoutSeconds the action fails (ROLLBACK_FAILED), the half-made cluster left as it is.
    const slow = spec({ runId: 'orders_slow', rollback: { actions: [{ type: 'restore', selector: { parameter: '/orders/prod/db-host' }, timeoutSeconds: 60 }] } });
    states.splice(0, states.length, { state: 'restoring', id: 'cutline-y-restored', detail: 'cluster cutline-y-restored is creating' });
    let w = await runRollback(slow, deps);
    await clock.sleep(61_000);
    w = await runRollback(slow, deps, { waiting: w.waiting! });
    expect(w.ok).toBe(false);
    expect(w.actions[0]!.detail).toBe('cluster cutline-y-restored is creating: still not restored 61 s after it started (timeoutSeconds 60); cutline-y-restored is left as it is');
  });
});
