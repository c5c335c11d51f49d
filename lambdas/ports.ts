/**
 * Interfaces for every side effect. Core and handlers depend on these only;
 * adapters/aws and adapters/local implement them.
 */
import type { Dialect } from './core/sql-lexer';

/** A typed parameter: the Data API's typeHint, honoured by every adapter. */
export interface TypedParam {
  readonly type: 'uuid' | 'timestamp' | 'date' | 'time' | 'decimal' | 'json';
  readonly value: string;
}
export type SqlParam = string | number | bigint | boolean | null | Uint8Array | TypedParam;
export type SqlParams = Readonly<Record<string, SqlParam>>;

/**
 * A result value, the same shape from every adapter: integers that fit a JS
 * number as numbers, BIGINT and DECIMAL as exact strings, timestamps / dates /
 * uuid / json as the database's text, bytea / blob as bytes.
 */
export type SqlValue = string | number | boolean | null | Uint8Array;
export type SqlRow = Record<string, SqlValue>;

export interface SqlResult {
  readonly rows: SqlRow[];
  readonly columns: readonly { name: string; type: string }[];
  /** Rows changed by INSERT / UPDATE / DELETE. */
  readonly rowsAffected: number;
}

export interface QueryOptions {
  /**
   * The Data API ends a call after 45 seconds (StatementTimeoutException) and stops its statement, unless this is set:
   * then the statement runs on and the caller waits for its effect itself (long DDL). Direct connections have no such limit.
   */
  readonly continueAfterTimeout?: boolean;
}

export interface SqlClient {
  readonly dialect: Dialect;
  /** Short description for messages and evidence (never a password). */
  readonly label: string;
  /** Exactly one statement with named `:params`; multi-statement strings are refused. */
  query(sql: string, params?: SqlParams, opts?: QueryOptions): Promise<SqlResult>;
  /** Run fn in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface EvidenceObject {
  readonly key: string;
  readonly sha256: string;
  readonly size: number;
}

/** A large text object written as it is produced (Gates' chunks.jsonl), never held whole in memory. */
export interface EvidenceWriter {
  write(text: string): Promise<void>;
  /** The object is complete under its key only now; its digest was computed as it was written. */
  close(): Promise<EvidenceObject>;
  /** Nothing is left under the key (a half-written object is never evidence). */
  abort(): Promise<void>;
}

/** Run artifacts, content-addressed: every put returns the body's SHA-256. */
export interface EvidenceStore {
  /** Where it writes, for messages (e.g. s3://bucket/runs/ or ./evidence/). */
  readonly location: string;
  put(key: string, body: string | Uint8Array, contentType?: string): Promise<EvidenceObject>;
  /** Write a large object piece by piece (a temp file renamed into place; an S3 multipart upload). */
  writer(key: string, contentType?: string): EvidenceWriter;
  /** Write only if the key does not exist yet; false when it did (single-use records). */
  putIfAbsent(key: string, body: string | Uint8Array, contentType?: string): Promise<boolean>;
  get(key: string): Promise<Uint8Array | undefined>;
  /** Every object under the prefix with its SHA-256 as it is now (each object read). */
  list(prefix: string): Promise<EvidenceObject[]>;
  /** Every key under the prefix, sorted, nothing read (one LIST request per 1,000 keys on S3). */
  keys(prefix: string): Promise<string[]>;
  /** The backend's own name for a key (S3 object key / file path), for Step Functions ItemReader / ResultWriter. */
  objectKey(key: string): string;
  /** Where a person browses a run's evidence (S3 console, a local folder). */
  browseUrl(prefix: string): string;
}

export type CommandStatus =
  | 'Pending'
  | 'InProgress'
  | 'Delayed'
  | 'Success'
  | 'Cancelled'
  | 'Cancelling'
  | 'Failed'
  | 'TimedOut';

export interface CommandResult {
  readonly commandId: string;
  readonly status: CommandStatus;
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Where the full output is when stdout/stderr were truncated (SSM: S3 URL). */
  readonly outputUrl?: string;
  /** When stdout was cut (SSM returns 24,000 characters): the full stdout's size and SHA-256, and where it is (the work bucket, which expires it). */
  readonly fullStdout?: FullOutput;
}

export interface FullOutput {
  readonly url?: string;
  readonly bytes: number;
  /** Absent for an output too big to read within one look (its size and location only). */
  readonly sha256?: string;
}

/** Shell scripts on the jumpbox (SSM Run Command) or the local machine. */
export interface CommandRunner {
  /** Is the host reachable and able to run commands? */
  ping(instanceId: string): Promise<{ online: boolean; detail: string }>;
  send(instanceId: string, script: string, opts: { timeoutSeconds: number; comment?: string }): Promise<string>;
  get(instanceId: string, commandId: string): Promise<CommandResult>;
  /** Stop a command that outlived its timeout (SSM CancelCommand): its invocation ends Cancelled. */
  cancel(instanceId: string, commandId: string): Promise<void>;
}

/** SSM parameters (launch-gate checks) and the runtime selector flipped at cutover. */
export interface ParameterStore {
  /** Values by name; a missing parameter is absent from the map. */
  getMany(names: readonly string[]): Promise<Map<string, string>>;
  /** Which of these are SecureString: their values are secret whatever a spec says. */
  secureNames(names: readonly string[]): Promise<Set<string>>;
  /** Write a value, keeping the parameter's type (a SecureString stays one). */
  put(name: string, value: string): Promise<void>;
}

export interface ApprovalRequest {
  readonly runId: string;
  readonly approvalId: string;
  readonly owner: string;
  readonly target: string;
  readonly summary: string;
  readonly goActions: readonly string[];
  readonly approveUrl?: string;
  /** One personal link per approver (spec.approval.approvers): the signature names who decides. */
  readonly personalUrls?: readonly { approver: string; url: string }[];
  readonly reportUrl?: string;
  readonly expiresAt: string;
}

/** An approver known at deploy time: their identity, the e-mail their personal link goes to, their Slack user id. */
export interface DirectoryApprover {
  readonly id: string;
  readonly email?: string;
  readonly slackUserId?: string;
}
export interface ApproverDirectory {
  readonly approvers: readonly DirectoryApprover[];
}

export interface ApprovalChannel {
  readonly kind: string;
  deliver(request: ApprovalRequest): Promise<void>;
}

/** A pending approval: kept server-side, never sent (it holds the task token). */
export interface PendingApproval {
  readonly approvalId: string;
  readonly runId: string;
  readonly taskToken: string;
  readonly expiresAt: string;
  readonly approvers?: readonly string[];
  /** Approvals needed (M of N); one reject decides. Default 1. */
  readonly required?: number;
  /** What the approval page shows (gate results, what GO will do). */
  readonly request?: { owner: string; target: string; summary: string; goActions: readonly string[]; reportUrl?: string };
  /** A gate other than the run's go/no-go (a phase's sign-off): its name and where its decision and votes are recorded. */
  readonly gate?: { readonly name: string; readonly recordKey: string; readonly votesPrefix: string };
}

export interface ApprovalDecision {
  readonly approvalId: string;
  readonly runId: string;
  readonly decision: 'approve' | 'reject';
  readonly approver: string;
  readonly comment: string;
  readonly decidedAt: string;
  readonly sourceIp?: string;
  readonly userAgent?: string;
  readonly via: string;
  /**
   * How the approver's identity was established: a link whose signature names them, a Slack user the deploy config
   * maps to them, the caller's AWS identity (STS), this machine's login (local runs), or a name typed into a form.
   * A typed name (or a Slack user the deploy config does not map) never counts for a named approver.
   */
  readonly identifiedBy: Identification;
}
export type Identification = 'personal link' | 'slack user' | 'unmapped slack user' | 'aws identity' | 'local login' | 'typed name';

/** Private store for pending approvals; a decision is written once (conditional write). */
export interface ApprovalStore {
  save(pending: PendingApproval): Promise<void>;
  get(approvalId: string): Promise<PendingApproval | undefined>;
  /** The pending approval of a run (the CLI finds it by runId). */
  latestFor(runId: string): Promise<PendingApproval | undefined>;
  /** One vote per approver: false when this approver already voted (conditional write). */
  recordVote(decision: ApprovalDecision): Promise<boolean>;
  votes(approvalId: string): Promise<ApprovalDecision[]>;
  /** The final decision, written once: false when one already exists. */
  finalizeOnce(decision: ApprovalDecision): Promise<boolean>;
  final(approvalId: string): Promise<ApprovalDecision | undefined>;
}

/** Step Functions task tokens (SendTaskSuccess / SendTaskFailure). */
export interface TaskTokens {
  succeed(token: string, output: unknown): Promise<void>;
  fail(token: string, error: string, cause: string): Promise<void>;
  /** Someone is looking at the go/no-go: keep it from the heartbeat timeout. */
  heartbeat(token: string): Promise<void>;
}

export interface Clock {
  now(): Date;
  sleep(ms: number): Promise<void>;
}

export interface Logger {
  info(msg: string, data?: Record<string, unknown>): void;
  warn(msg: string, data?: Record<string, unknown>): void;
  error(msg: string, data?: Record<string, unknown>): void;
}

export interface ScriptSource {
  list(location: string): Promise<{ name: string; body: string }[]>;
  /** One data or script file (a local path or s3://bucket/key). */
  read(location: string): Promise<string>;
}

export interface HttpResponse {
  readonly status: number;
  readonly body: string;
}
export interface HttpClient {
  request(url: string, opts: { method: string; timeoutMs: number; headers?: Record<string, string>; body?: string }): Promise<HttpResponse>;
}

/** Signs manifest roots (a KMS asymmetric key in AWS, a key file outside the evidence locally): ECDSA P-256, SHA-256, DER. */
export interface Signer {
  readonly keyId: string;
  sign(message: Buffer): Promise<Buffer>;
  publicKeyPem(): Promise<string>;
}

/** Everything a handler may touch. */
/** Where a database backup is: being made, usable, or failed (with the service's reason). */
export interface BackupStatus {
  readonly state: 'creating' | 'available' | 'failed';
  /** The backup's name (an Aurora snapshot identifier, a dump file's name). */
  readonly id: string;
  /** Where it is: the snapshot ARN, the dump file's path. */
  readonly location: string;
  readonly detail: string;
  /** A dump: its size and SHA-256, and how it was checked (`pg_restore --list`, reopened). */
  readonly bytes?: number;
  readonly sha256?: string;
  readonly validatedBy?: string;
}

/** Backups before the schema changes: an Aurora cluster snapshot in AWS, a validated dump locally. */
export interface BackupService {
  /** Start the backup named `id` of the database unless it exists (idempotent by id), and say where it is. */
  ensure(db: import('./core/spec').DatabaseRef, id: string): Promise<BackupStatus>;
  status(db: import('./core/spec').DatabaseRef, id: string): Promise<BackupStatus>;
  /**
   * Put the database back as the backup `id` has it (everything made since is gone): in place, or (an Aurora
   * snapshot) as a new database beside it, one step per call (idempotent: a later call follows the same restore).
   */
  restore(db: import('./core/spec').DatabaseRef, id: string): Promise<RestoreStatus>;
}

/** Where a restore stands: done in place, done as a new database (its address), or still being made. */
export type RestoreStatus =
  | { readonly state: 'restored'; readonly detail: string; readonly moved?: undefined }
  | { readonly state: 'restored'; readonly detail: string; readonly moved: { readonly id: string; readonly endpoint: string; readonly arn: string } }
  | { readonly state: 'restoring'; readonly detail: string; readonly id: string };

/** Alarms a soak watches: CloudWatch in AWS, a JSON file standing in locally. Absent from the map: no such alarm. */
export interface AlarmSource {
  states(names: readonly string[]): Promise<Map<string, string>>;
}

export interface Deps {
  sql(ref: import('./core/spec').DatabaseRef): SqlClient;
  /** Absent where the composition root offers none (the approval API). */
  readonly backups?: BackupService;
  /** Absent where nothing watches alarms (every stage but SoakPoll). */
  readonly alarms?: AlarmSource;
  readonly evidence: EvidenceStore;
  /**
   * The work bucket: what is written on the way and is not evidence (Distributed Map results, full command output),
   * outside the evidence bucket's Object Lock and expired. Keys as in the evidence (`<runId>/...`).
   */
  readonly work: EvidenceStore;
  readonly commands: CommandRunner;
  readonly parameters: ParameterStore;
  /** The channels a spec asks for (email topic, Slack webhook, local page). */
  approvals(channels: import('./core/spec').RunSpec['approval']['channels']): ApprovalChannel[];
  readonly approvalStore: ApprovalStore;
  readonly tokens: TaskTokens;
  /** HMAC key for approval links. */
  approvalSecret(): Promise<string>;
  /**
   * The approvers the deployment knows (deploy config approval.approvers): who has an e-mail
   * subscription of their own and which Slack user is whom. Absent locally (the local page and
   * terminal are the operator's own).
   */
  readonly directory?: ApproverDirectory;
  /** Signs the manifest root at Summary and every addendum after it. Absent: evidence is unsigned (verify then needs --no-anchor). */
  readonly signer?: Signer;
  /** Migration files at a location (local folder, s3:// prefix). */
  readonly scripts: ScriptSource;
  readonly http: HttpClient;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Progress events (chunks done / total) for the local runner's display. */
  readonly progress?: (event: ProgressEvent) => void;
}

export interface ProgressEvent {
  readonly stage: string;
  readonly done: number;
  readonly total: number;
  readonly rows?: number;
  readonly message?: string;
}
