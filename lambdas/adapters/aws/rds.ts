/**
 * Aurora cluster snapshots (RDS CreateDBClusterSnapshot / DescribeDBClusterSnapshots): the backup before Schema.
 * The snapshot is named by the run, so a second call finds the first one's (DBClusterSnapshotAlreadyExistsFault).
 */
import { CreateDBClusterSnapshotCommand, DBClusterSnapshotAlreadyExistsFault, DescribeDBClusterSnapshotsCommand, type RDSClient } from '@aws-sdk/client-rds';
import type { DatabaseRef } from '../../core/spec';
import type { BackupService, BackupStatus } from '../../ports';

/** The cluster identifier of an Aurora cluster ARN (arn:aws:rds:<region>:<account>:cluster:<name>). */
export function clusterIdOf(db: DatabaseRef): string {
  const arn = db.dataApi?.resourceArn;
  const m = arn ? /:cluster:([A-Za-z0-9-]+)$/.exec(arn) : null;
  if (!m) throw new Error(`database ${db.url ?? arn ?? '?'} has no Aurora cluster ARN; expected dataApi.resourceArn for a cluster snapshot`);
  return m[1]!;
}

export class RdsSnapshotBackups implements BackupService {
  constructor(private readonly rds: RDSClient) {}

  async ensure(db: DatabaseRef, id: string): Promise<BackupStatus> {
    try {
      await this.rds.send(
        new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: clusterIdOf(db), DBClusterSnapshotIdentifier: id, Tags: [{ Key: 'cutline:purpose', Value: 'before schema' }] }),
      );
    } catch (e) {
      if (!(e instanceof DBClusterSnapshotAlreadyExistsFault)) throw e;
    }
    return this.status(db, id);
  }

  /** Refused: an Aurora snapshot restores only to a new cluster (the spec is refused for AWS before anything runs). */
  async restore(db: DatabaseRef, id: string): Promise<{ detail: string }> {
    throw new Error(`snapshot ${id} of cluster ${clusterIdOf(db)} cannot be restored in place: Aurora restores a snapshot only to a new cluster (RestoreDBClusterFromSnapshot); expected the restore by hand or by a jumpbox command`);
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
