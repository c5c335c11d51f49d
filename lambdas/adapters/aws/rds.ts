/**
 * Aurora cluster snapshots (RDS CreateDBClusterSnapshot / DescribeDBClusterSnapshots): the backup before Schema.
 * The snapshot is named by the run, so a second call finds the first one's (DBClusterSnapshotAlreadyExistsFault).
 * Its restore makes a new cluster beside the old one (a snapshot restores only to a new cluster), one step a call:
 * RestoreDBClusterFromSnapshot with the old cluster's engine, network and parameter group, CreateDBInstance with its
 * writer's class, EnableHttpEndpoint when the old one had the Data API; every name is derived from the snapshot's,
 * so a later call (the state machine's Wait loop, a resumed run) follows the same cluster instead of making another.
 */
import {
  CreateDBClusterSnapshotCommand,
  CreateDBInstanceCommand,
  type DBCluster,
  DBClusterAlreadyExistsFault,
  DBClusterNotFoundFault,
  DBClusterSnapshotAlreadyExistsFault,
  DBInstanceAlreadyExistsFault,
  DBInstanceNotFoundFault,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  EnableHttpEndpointCommand,
  InvalidDBClusterStateFault,
  type RDSClient,
  RestoreDBClusterFromSnapshotCommand,
} from '@aws-sdk/client-rds';
import { sha256Hex } from '../../core/evidence';
import type { DatabaseRef } from '../../core/spec';
import type { BackupService, BackupStatus, RestoreStatus } from '../../ports';

/** The cluster identifier of an Aurora cluster ARN (arn:aws:rds:<region>:<account>:cluster:<name>). */
export function clusterIdOf(db: DatabaseRef): string {
  const arn = db.dataApi?.resourceArn;
  const m = arn ? /:cluster:([A-Za-z0-9-]+)$/.exec(arn) : null;
  if (!m) throw new Error(`database ${db.url ?? arn ?? '?'} has no Aurora cluster ARN; expected dataApi.resourceArn for a cluster snapshot`);
  return m[1]!;
}

/**
 * The new cluster a snapshot restores to: cutline-<snapshot hash>-restored (the IAM policy allows cutline-* only),
 * at most 63 characters with room for the writer's "-1".
 */
export function restoredClusterId(snapshotId: string): string {
  return `cutline-${sha256Hex(snapshotId).slice(0, 12)}-restored`;
}

/** A create named by the run: its "already exists" fault means an earlier call made it, and it is followed. */
async function createOnce(send: () => Promise<unknown>, exists: abstract new (...args: never[]) => Error): Promise<void> {
  try {
    await send();
  } catch (e) {
    if (!(e instanceof exists)) throw e;
  }
}

export class RdsSnapshotBackups implements BackupService {
  constructor(private readonly rds: RDSClient) {}

  async ensure(db: DatabaseRef, id: string): Promise<BackupStatus> {
    await createOnce(
      () => this.rds.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: clusterIdOf(db), DBClusterSnapshotIdentifier: id, Tags: [{ Key: 'cutline:purpose', Value: 'before schema' }] })),
      DBClusterSnapshotAlreadyExistsFault,
    );
    return this.status(db, id);
  }

  /** One step of the restore to a new cluster (see the file's comment): what is done so far, or where it stands. */
  async restore(db: DatabaseRef, id: string): Promise<RestoreStatus> {
    const target = restoredClusterId(id);
    const instance = `${target}-1`;
    let cluster = await this.cluster(target);
    const source = await this.cluster(clusterIdOf(db));
    if (!source) throw new Error(`cluster ${clusterIdOf(db)} is not there; expected the cluster whose snapshot ${id} is restored (its network and settings are copied)`);
    if (!cluster) {
      await createOnce(
        () =>
          this.rds.send(
            new RestoreDBClusterFromSnapshotCommand({
              DBClusterIdentifier: target,
              SnapshotIdentifier: id,
              Engine: source.Engine,
              EngineVersion: source.EngineVersion,
              ...(source.Port ? { Port: source.Port } : {}),
              ...(source.DBSubnetGroup ? { DBSubnetGroupName: source.DBSubnetGroup } : {}),
              VpcSecurityGroupIds: (source.VpcSecurityGroups ?? []).map((g) => g.VpcSecurityGroupId!).filter(Boolean),
              ...(source.DBClusterParameterGroup ? { DBClusterParameterGroupName: source.DBClusterParameterGroup } : {}),
              ...(source.ServerlessV2ScalingConfiguration ? { ServerlessV2ScalingConfiguration: source.ServerlessV2ScalingConfiguration } : {}),
              ...(source.KmsKeyId ? { KmsKeyId: source.KmsKeyId } : {}),
              ...(source.IAMDatabaseAuthenticationEnabled ? { EnableIAMDatabaseAuthentication: true } : {}),
              DeletionProtection: source.DeletionProtection ?? false,
              CopyTagsToSnapshot: true,
              Tags: [
                { Key: 'cutline:purpose', Value: 'restored from the backup before schema' },
                { Key: 'cutline:restored-from', Value: clusterIdOf(db) },
              ],
            }),
          ),
        DBClusterAlreadyExistsFault,
      );
      return { state: 'restoring', id: target, detail: `cluster ${target} being restored from snapshot ${id}` };
    }
    const status = cluster.Status ?? 'unknown';
    if (['failed', 'inaccessible-encryption-credentials', 'incompatible-network', 'incompatible-parameters', 'incompatible-restore', 'deleting'].includes(status))
      throw new Error(`cluster ${target}, restored from snapshot ${id}, is ${status}; expected it available (it is left for inspection)`);
    if (status !== 'available') return { state: 'restoring', id: target, detail: `cluster ${target} is ${status}` };
    const inst = await this.instance(instance);
    if (!inst) {
      const writer = source.DBClusterMembers?.find((m) => m.IsClusterWriter)?.DBInstanceIdentifier;
      const klass = writer ? (await this.instance(writer))?.DBInstanceClass : undefined;
      await createOnce(
        () =>
          this.rds.send(
            new CreateDBInstanceCommand({
              DBInstanceIdentifier: instance,
              DBClusterIdentifier: target,
              Engine: source.Engine,
              DBInstanceClass: klass ?? (source.ServerlessV2ScalingConfiguration ? 'db.serverless' : 'db.r6g.large'),
              Tags: [{ Key: 'cutline:purpose', Value: 'writer of the restored cluster' }],
            }),
          ),
        DBInstanceAlreadyExistsFault,
      );
      return { state: 'restoring', id: target, detail: `cluster ${target} available; its writer ${instance} being created` };
    }
    const instStatus = inst.DBInstanceStatus ?? 'unknown';
    if (['failed', 'incompatible-parameters', 'incompatible-network', 'storage-full', 'deleting'].includes(instStatus))
      throw new Error(`writer ${instance} of the restored cluster ${target} is ${instStatus}; expected it available (both are left for inspection)`);
    if (instStatus !== 'available') return { state: 'restoring', id: target, detail: `writer ${instance} of cluster ${target} is ${instStatus}` };
    if (source.HttpEndpointEnabled && !cluster.HttpEndpointEnabled) {
      try {
        await this.rds.send(new EnableHttpEndpointCommand({ ResourceArn: cluster.DBClusterArn! }));
      } catch (e) {
        // Another operation still runs on the new cluster: the next look enables it.
        if (!(e instanceof InvalidDBClusterStateFault) && (e as Error).name !== 'InvalidResourceStateFault') throw e;
      }
      cluster = await this.cluster(target);
      if (!cluster?.HttpEndpointEnabled) return { state: 'restoring', id: target, detail: `cluster ${target} available; the Data API being enabled as on ${clusterIdOf(db)}` };
    }
    return {
      state: 'restored',
      detail: `snapshot ${id} restored to the new cluster ${target} (writer ${instance}, endpoint ${cluster.Endpoint}); the old cluster ${clusterIdOf(db)} is untouched`,
      moved: { id: target, endpoint: cluster.Endpoint ?? '', arn: cluster.DBClusterArn ?? '' },
    };
  }

  private async cluster(id: string): Promise<DBCluster | undefined> {
    try {
      return (await this.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }))).DBClusters?.[0];
    } catch (e) {
      if (e instanceof DBClusterNotFoundFault) return undefined;
      throw e;
    }
  }

  private async instance(id: string) {
    try {
      return (await this.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances?.[0];
    } catch (e) {
      if (e instanceof DBInstanceNotFoundFault) return undefined;
      throw e;
    }
  }

  async status(db: DatabaseRef, id: string): Promise<BackupStatus> {
    const r = await this.rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: id }));
    const snap = r.DBClusterSnapshots?.[0];
    if (!snap) return { state: 'failed', id, location: '', detail: `snapshot ${id} of cluster ${clusterIdOf(db)} is not there` };
    const status = snap.Status ?? 'unknown';
    const state = status === 'available' ? 'available' : status === 'failed' || status === 'deleted' || status === 'deleting' ? 'failed' : 'creating';
    return { state, id, location: snap.DBClusterSnapshotArn ?? id, detail: `${status}, ${snap.PercentProgress ?? 0}% of cluster ${snap.DBClusterIdentifier ?? clusterIdOf(db)}` };
  }
}
