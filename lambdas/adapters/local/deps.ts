/**
 * The local composition root: the ports of a local run (embedded or local databases, evidence and work folders,
 * a local shell, a parameters file, the approval page and terminal, a file signing key), built in one place.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { decideApproval } from '../../core/approval';
import { withReadRetries } from '../../core/retry';
import type { DatabaseRef } from '../../core/spec';
import type { Deps, ProgressEvent, Signer, SqlClient } from '../../ports';
import { LocalApprovalChannel, type LocalApprovalMode } from './approval/channel';
import { LocalApprovalPage } from './approval/page';
import { MemoryApprovalStore } from './approval/store';
import { LocalTaskTokens } from './approval/tokens';
import { LocalShellRunner } from './command-shell';
import { FileAlarms } from './alarms-file';
import { type BackupTarget, LocalBackups } from './backups';
import { FsEvidenceStore } from './evidence-fs';
import { FileParameterStore } from './parameters-file';
import { fetchHttp, silentLogger, systemClock } from './runtime';
import { DirScriptSource } from './scripts-dir';

export interface LocalRunPorts {
  /** A database client by reference (the run's opened databases). */
  readonly sql: (ref: DatabaseRef) => SqlClient;
  readonly evidence: FsEvidenceStore;
  readonly work: FsEvidenceStore;
  /** The run's work folder: command state (a resume polls what a killed attempt sent) and its parameters copy. */
  readonly workDir: string;
  readonly signer: Signer;
  readonly approval: LocalApprovalMode;
  readonly out: (line: string) => void;
  /** The run's databases as the backup sees them (real URL, the embedded instance): backups go to <workDir>/backups. */
  readonly backupTarget?: BackupTarget;
  /** The JSON file standing in for CloudWatch alarms (spec.local.alarms); default <workDir>/alarms.json. */
  readonly alarmsFile?: string;
}

/** The ports of a local run, and the approval page and channel to start and stop around it. */
export function localRunDeps(o: LocalRunPorts): { deps: Deps; tokens: LocalTaskTokens; page: LocalApprovalPage; channel: LocalApprovalChannel } {
  const approvalStore = new MemoryApprovalStore();
  const tokens = new LocalTaskTokens();
  // A fresh HMAC key per run: links of an earlier run open nothing.
  const key = randomBytes(32).toString('hex');
  const secret = async () => key;
  const approvalPorts = { approvalStore, tokens, evidence: o.evidence, clock: systemClock, logger: silentLogger };
  const page = new LocalApprovalPage({ ...approvalPorts, secret });
  const channel = new LocalApprovalChannel(o.approval, (d) => decideApproval(d, approvalPorts), o.out);
  const progress = (p: ProgressEvent) => o.out(`  ${p.stage}: ${p.done}/${p.total}${p.message ? ` ${p.message}` : ''}`);
  const deps: Deps = {
    // Reads are retried after a dropped connection in every stage (as the Lambda's Data API client is).
    sql: (ref) => withReadRetries(o.sql(ref), systemClock),
    evidence: o.evidence,
    work: o.work,
    ...(o.backupTarget ? { backups: new LocalBackups(path.join(o.workDir, 'backups'), o.backupTarget) } : {}),
    commands: new LocalShellRunner('/bin/bash', path.join(o.workDir, 'commands')),
    parameters: new FileParameterStore(path.join(o.workDir, 'parameters.json')),
    alarms: new FileAlarms(o.alarmsFile ?? path.join(o.workDir, 'alarms.json')),
    approvals: (channels) =>
      channels
        .map((c) => {
          if (c.type !== 'local') o.out(`  note: ${c.type} channel is AWS-only; a local run answers on the local page`);
          return channel;
        })
        .slice(0, 1),
    approvalStore,
    tokens,
    approvalSecret: secret,
    signer: o.signer,
    scripts: new DirScriptSource(),
    http: fetchHttp,
    clock: systemClock,
    logger: silentLogger,
    progress,
  };
  return { deps, tokens, page, channel };
}

/** What `cutline plan` reads with (nothing it holds can write). */
export function localPlanDeps(sql: (ref: DatabaseRef) => SqlClient): Pick<Deps, 'sql' | 'scripts' | 'clock' | 'logger'> {
  return { sql, scripts: new DirScriptSource(), clock: systemClock, logger: silentLogger };
}

/** What `cutline rollback` runs a finished run's rollback actions with. */
export function localRollbackDeps(o: { sql: (ref: DatabaseRef) => SqlClient; evidenceDir: string; parametersFile: string; signer: Signer; backupsDir: string; backupTarget: BackupTarget }) {
  return {
    sql: o.sql,
    // A restore action puts back the backup the run made before Schema (<work-dir>/<runId>/backups).
    backups: new LocalBackups(o.backupsDir, o.backupTarget),
    evidence: new FsEvidenceStore(path.resolve(o.evidenceDir)),
    commands: new LocalShellRunner(),
    parameters: new FileParameterStore(o.parametersFile),
    http: fetchHttp,
    clock: systemClock,
    logger: silentLogger,
    // The rollback record joins the manifest as an addendum signed with the same local key.
    signer: o.signer,
  } satisfies Partial<Deps>;
}
