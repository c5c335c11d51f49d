/**
 * SSM: Run Command on the jumpbox (SendCommand + GetCommandInvocation, full
 * output in S3), online check (DescribeInstanceInformation), parameters
 * (launch-gate reads, runtime selector flip).
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  CancelCommandCommand,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  GetParametersCommand,
  PutParameterCommand,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import type { CommandResult, CommandRunner, CommandStatus, FullOutput, ParameterStore } from '../../ports';

/** Still running: its output is not complete yet. */
const PENDING: ReadonlySet<CommandStatus> = new Set(['Pending', 'InProgress', 'Delayed', 'Cancelling']);

/** GetCommandInvocation returns at most this many characters of stdout; the rest is only in the S3 output location. */
export const SSM_STDOUT_CHARS = 24_000;
/** The largest full output a look reads to hash (at S3's tens of MB/s, seconds of a 90 s invocation). */
export const FULL_OUTPUT_HASH_BYTES = 256 * 1024 * 1024;

export class SsmCommandRunner implements CommandRunner {
  constructor(
    private readonly ssm: SSMClient,
    /** Where SSM writes the full output (the work bucket; written by the instance's role). */
    private readonly output?: { bucket: string; prefix: string },
    /** Reads the full stdout of a command whose stdout SSM cut, for its size and SHA-256. */
    private readonly s3?: S3Client,
  ) {}

  async ping(instanceId: string): Promise<{ online: boolean; detail: string }> {
    const r = await this.ssm.send(new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [instanceId] }] }));
    const info = r.InstanceInformationList?.[0];
    if (!info) return { online: false, detail: `${instanceId} is not managed by SSM (no instance information); expected a registered SSM agent` };
    const online = info.PingStatus === 'Online';
    return {
      online,
      detail: `PingStatus ${info.PingStatus}${online ? '' : ' (expected Online)'}, agent ${info.AgentVersion ?? '?'}, ${info.PlatformName ?? ''} ${info.PlatformVersion ?? ''}`.trim(),
    };
  }

  async send(instanceId: string, script: string, opts: { timeoutSeconds: number; comment?: string }): Promise<string> {
    const r = await this.ssm.send(
      new SendCommandCommand({
        InstanceIds: [instanceId],
        DocumentName: 'AWS-RunShellScript',
        Comment: opts.comment?.slice(0, 100),
        Parameters: { commands: [script], executionTimeout: [String(opts.timeoutSeconds)] },
        ...(this.output ? { OutputS3BucketName: this.output.bucket, OutputS3KeyPrefix: this.output.prefix } : {}),
      }),
    );
    return r.Command!.CommandId!;
  }

  async get(instanceId: string, commandId: string): Promise<CommandResult> {
    try {
      const r = await this.ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }));
      const status = (r.Status ?? 'Pending') as CommandStatus;
      const stdout = r.StandardOutputContent ?? '';
      // Without the instance role's s3:PutObject (README) the full output is not there: the cut one is all there is.
      const fullStdout = stdout.length >= SSM_STDOUT_CHARS && !PENDING.has(status) ? await this.fullStdout(instanceId, commandId).catch(() => undefined) : undefined;
      return {
        commandId,
        status,
        exitCode: r.ResponseCode === undefined || r.ResponseCode === -1 ? null : r.ResponseCode,
        stdout,
        stderr: r.StandardErrorContent ?? '',
        ...(r.StandardOutputUrl ? { outputUrl: r.StandardOutputUrl } : {}),
        ...(fullStdout ? { fullStdout } : {}),
      };
    } catch (e) {
      // Right after SendCommand the invocation may not exist yet for some seconds.
      if ((e as { name?: string }).name === 'InvocationDoesNotExist') return { commandId, status: 'Pending', exitCode: null, stdout: '', stderr: '' };
      throw e;
    }
  }

  /** The full stdout in the output location (AWS-RunShellScript's layout), streamed through SHA-256. */
  private async fullStdout(instanceId: string, commandId: string): Promise<FullOutput | undefined> {
    if (!this.output || !this.s3) return undefined;
    const key = `${this.output.prefix}${commandId}/${instanceId}/awsrunShellScript/0.awsrunShellScript/stdout`;
    const url = `s3://${this.output.bucket}/${key}`;
    const r = await this.s3.send(new GetObjectCommand({ Bucket: this.output.bucket, Key: key }));
    // A look is one short invocation (CommandPoll: 90 s): an output too big to read within it is given by size only.
    if ((r.ContentLength ?? 0) > FULL_OUTPUT_HASH_BYTES) {
      (r.Body as { destroy?: () => void } | undefined)?.destroy?.();
      return { url, bytes: r.ContentLength! };
    }
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of r.Body as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      bytes += chunk.length;
    }
    return { url, bytes, sha256: hash.digest('hex') };
  }

  async cancel(instanceId: string, commandId: string): Promise<void> {
    await this.ssm.send(new CancelCommandCommand({ CommandId: commandId, InstanceIds: [instanceId] }));
  }
}

export class SsmParameterStore implements ParameterStore {
  constructor(private readonly ssm: SSMClient) {}
  async getMany(names: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (let i = 0; i < names.length; i += 10) {
      const r = await this.ssm.send(new GetParametersCommand({ Names: names.slice(i, i + 10), WithDecryption: true }));
      for (const p of r.Parameters ?? []) out.set(p.Name!, p.Value ?? '');
    }
    return out;
  }
  async secureNames(names: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (let i = 0; i < names.length; i += 10) {
      // Types only: nothing decrypted.
      const r = await this.ssm.send(new GetParametersCommand({ Names: names.slice(i, i + 10), WithDecryption: false }));
      for (const p of r.Parameters ?? []) if (p.Type === 'SecureString') out.add(p.Name!);
    }
    return out;
  }
  async put(name: string, value: string): Promise<void> {
    // Overwriting a SecureString as String would publish its value: the type is kept.
    const secure = (await this.secureNames([name])).has(name);
    await this.ssm.send(new PutParameterCommand({ Name: name, Value: value, Overwrite: true, Type: secure ? 'SecureString' : 'String' }));
  }
}
