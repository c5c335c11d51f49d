/** AWS adapters against aws-sdk-client-mock: the real SDK v3 clients, mocked transport. */
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { Readable } from 'node:stream';
import { GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DescribeInstanceInformationCommand, GetCommandInvocationCommand, GetParametersCommand, PutParameterCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { SlackWebhookChannel, SnsEmailChannel } from '../../lambdas/adapters/aws/notify';
import { S3ApprovalStore, S3EvidenceStore, WRITER_PART_BYTES } from '../../lambdas/adapters/aws/s3';
import { SfnTaskTokens } from '../../lambdas/adapters/aws/sfn';
import { KmsSigner, kmsPublicKeyPem } from '../../lambdas/adapters/aws/signer-kms';
import { checkRootSignature, signedMessage, signRoot } from '../../lambdas/core/signature';
import { SsmCommandRunner, SsmParameterStore } from '../../lambdas/adapters/aws/ssm';
import type { ApprovalRequest, HttpClient } from '../../lambdas/ports';

const s3m = mockClient(S3Client);
const ssmm = mockClient(SSMClient);
const snsm = mockClient(SNSClient);
const sfnm = mockClient(SFNClient);
beforeEach(() => {
  s3m.reset();
  ssmm.reset();
  snsm.reset();
  sfnm.reset();
});

describe('S3 evidence', () => {
  it('writes under runs/ with x-amz-checksum-sha256 and returns the hex digest', async () => {
    s3m.on(PutObjectCommand).resolves({});
    const store = new S3EvidenceStore(new S3Client({ region: 'eu-west-1' }), 'ev-bucket');
    const body = '{"a":1}\n';
    const r = await store.put('run1/01_validate.json', body, 'application/json');
    const call = s3m.commandCalls(PutObjectCommand)[0]!.args[0].input;
    expect(call.Bucket).toBe('ev-bucket');
    expect(call.Key).toBe('runs/run1/01_validate.json');
    expect(call.ChecksumSHA256).toBe(createHash('sha256').update(body).digest('base64'));
    expect(r.sha256).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('list hashes every object as it is now, across pages, in key order, at most 16 reads at once', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `runs/run1/07_gates/chunks/t/${String(i).padStart(6, '0')}.json`);
    s3m.on(ListObjectsV2Command, { ContinuationToken: undefined }).resolves({ Contents: keys.slice(0, 25).map((Key) => ({ Key })), IsTruncated: true, NextContinuationToken: 'p2' });
    s3m.on(ListObjectsV2Command, { ContinuationToken: 'p2' }).resolves({ Contents: keys.slice(25).map((Key) => ({ Key })), IsTruncated: false });
    let inFlight = 0;
    let most = 0;
    s3m.on(GetObjectCommand).callsFake(async (i: { Key: string }) => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setImmediate(r));
      inFlight--;
      if (i.Key.endsWith('000007.json')) throw Object.assign(new Error('gone'), { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } });
      return { Body: { transformToByteArray: async () => new Uint8Array(Buffer.from(i.Key)) } } as never;
    });
    const store = new S3EvidenceStore(new S3Client({ region: 'eu-west-1' }), 'ev-bucket');
    const files = await store.list('run1/');
    expect(files.map((f) => f.key)).toEqual(keys.filter((k) => !k.endsWith('000007.json')).map((k) => k.slice('runs/'.length)));
    expect(files[0]!.sha256).toBe(createHash('sha256').update(keys[0]!).digest('hex'));
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(16);
  });

  it('a large object is written piece by piece: one PutObject when small, else a multipart upload of checksummed parts; abort leaves nothing', async () => {
    s3m.on(PutObjectCommand).resolves({});
    s3m.on(CreateMultipartUploadCommand).resolves({ UploadId: 'u1' });
    s3m.on(UploadPartCommand).callsFake(async (i: { PartNumber: number }) => ({ ETag: `"e${i.PartNumber}"` }));
    s3m.on(CompleteMultipartUploadCommand).resolves({});
    s3m.on(AbortMultipartUploadCommand).resolves({});
    const store = new S3EvidenceStore(new S3Client({ region: 'eu-west-1' }), 'ev-bucket');
    const small = store.writer('run1/07_gates/chunks.jsonl', 'application/x-ndjson');
    await small.write('{"a":1}\n');
    await small.write('{"a":2}\n');
    expect(await small.close()).toEqual({ key: 'run1/07_gates/chunks.jsonl', sha256: createHash('sha256').update('{"a":1}\n{"a":2}\n').digest('hex'), size: 16 });
    expect(s3m.commandCalls(PutObjectCommand)[0]!.args[0].input).toMatchObject({ Key: 'runs/run1/07_gates/chunks.jsonl', ChecksumSHA256: createHash('sha256').update('{"a":1}\n{"a":2}\n').digest('base64') });
    expect(s3m.commandCalls(CreateMultipartUploadCommand)).toHaveLength(0);

    // 2.5 parts' worth, written a line at a time: two full parts and the rest at close.
    const line = `${'x'.repeat(1023)}\n`;
    const lines = Math.round((2.5 * WRITER_PART_BYTES) / line.length);
    const big = store.writer('run1/07_gates/big.jsonl');
    const whole = createHash('sha256');
    for (let i = 0; i < lines; i++) {
      await big.write(line);
      whole.update(line);
    }
    expect(s3m.commandCalls(UploadPartCommand)).toHaveLength(2);
    const done = await big.close();
    expect(done).toEqual({ key: 'run1/07_gates/big.jsonl', sha256: whole.digest('hex'), size: lines * line.length });
    const parts = s3m.commandCalls(UploadPartCommand).map((c) => c.args[0].input);
    expect(parts.map((p) => p.PartNumber)).toEqual([1, 2, 3]);
    for (const p of parts) expect(p.ChecksumSHA256).toBe(createHash('sha256').update(p.Body as Buffer).digest('base64'));
    expect((parts[0]!.Body as Buffer).length).toBeGreaterThanOrEqual(WRITER_PART_BYTES);
    expect(s3m.commandCalls(CompleteMultipartUploadCommand)[0]!.args[0].input).toMatchObject({ UploadId: 'u1', MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"e1"' }, { PartNumber: 2, ETag: '"e2"' }, { PartNumber: 3, ETag: '"e3"' }] } });

    const dropped = store.writer('run1/07_gates/dropped.jsonl');
    for (let i = 0; i < lines / 2; i++) await dropped.write(line);
    await dropped.abort();
    expect(s3m.commandCalls(AbortMultipartUploadCommand)[0]!.args[0].input).toMatchObject({ Key: 'runs/run1/07_gates/dropped.jsonl', UploadId: 'u1' });
    expect(s3m.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(1);
  });

  it('a decision is single-use: If-None-Match, and a 412 answers false', async () => {
    s3m.on(PutObjectCommand).rejectsOnce(Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), { name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } }));
    const store = new S3ApprovalStore(new S3Client({ region: 'eu-west-1' }), 'ev-bucket');
    const d = { approvalId: 'a'.repeat(32), runId: 'r', decision: 'approve' as const, approver: 'x', comment: '', decidedAt: 'now', via: 'page', identifiedBy: 'personal link' as const };
    expect(await store.finalizeOnce(d)).toBe(false);
    expect(s3m.commandCalls(PutObjectCommand)[0]!.args[0].input).toMatchObject({ Key: `private/approvals/${'a'.repeat(32)}/decision.json`, IfNoneMatch: '*' });
    s3m.on(PutObjectCommand).resolves({});
    expect(await store.recordVote(d)).toBe(true);
    expect(s3m.commandCalls(PutObjectCommand)[1]!.args[0].input.Key).toMatch(/^private\/approvals\/a{32}\/votes\/[0-9a-f]{64}\.json$/);
  });
});

describe('SSM Run Command', () => {
  const runner = new SsmCommandRunner(new SSMClient({ region: 'eu-west-1' }), { bucket: 'ev', prefix: 'command-output/' });

  it('sends AWS-RunShellScript with an execution timeout and full output to S3', async () => {
    ssmm.on(SendCommandCommand).resolves({ Command: { CommandId: 'c-1' } });
    expect(await runner.send('i-0abc12345678def01', 'pg_dump ...', { timeoutSeconds: 600 })).toBe('c-1');
    expect(ssmm.commandCalls(SendCommandCommand)[0]!.args[0].input).toMatchObject({
      InstanceIds: ['i-0abc12345678def01'],
      DocumentName: 'AWS-RunShellScript',
      Parameters: { commands: ['pg_dump ...'], executionTimeout: ['600'] },
      OutputS3BucketName: 'ev',
      OutputS3KeyPrefix: 'command-output/',
    });
  });

  it('InvocationDoesNotExist right after SendCommand reads as Pending, not as a failure', async () => {
    ssmm.on(GetCommandInvocationCommand).rejectsOnce(Object.assign(new Error('no invocation'), { name: 'InvocationDoesNotExist' })).resolves({ Status: 'Success', ResponseCode: 0, StandardOutputContent: 'ok', StandardOutputUrl: 's3://ev/command-output/c-1/stdout' });
    expect((await runner.get('i-1', 'c-1')).status).toBe('Pending');
    expect(await runner.get('i-1', 'c-1')).toMatchObject({ status: 'Success', exitCode: 0, stdout: 'ok', outputUrl: 's3://ev/command-output/c-1/stdout' });
  });

  it('a stdout SSM cut at 24,000 characters: the full output is read from the work bucket, its size and SHA-256 recorded', async () => {
    const full = `${'x'.repeat(30_000)}\nlast line\n`;
    const reader = new SsmCommandRunner(new SSMClient({ region: 'eu-west-1' }), { bucket: 'work', prefix: 'command-output/' }, new S3Client({ region: 'eu-west-1' }));
    ssmm.on(GetCommandInvocationCommand).resolves({ Status: 'Success', ResponseCode: 0, StandardOutputContent: full.slice(0, 24_000), StandardOutputUrl: 'https://s3.eu-west-1.amazonaws.com/work/command-output/c-2/i-1/awsrunShellScript/0.awsrunShellScript/stdout' });
    s3m.on(GetObjectCommand).resolves({ Body: Readable.from([Buffer.from(full.slice(0, 1000)), Buffer.from(full.slice(1000))]) } as never);
    const r = await reader.get('i-1', 'c-2');
    expect(r.stdout).toHaveLength(24_000);
    expect(r.fullStdout).toEqual({ url: 's3://work/command-output/c-2/i-1/awsrunShellScript/0.awsrunShellScript/stdout', bytes: Buffer.byteLength(full), sha256: createHash('sha256').update(full).digest('hex') });
    expect(s3m.commandCalls(GetObjectCommand)[0]!.args[0].input).toEqual({ Bucket: 'work', Key: 'command-output/c-2/i-1/awsrunShellScript/0.awsrunShellScript/stdout' });
    // An output too big to read within one look: its size and location, never read through.
    const huge = new Readable({
      read() {
        this.destroy(new Error('read through a 10 GB output'));
      },
    });
    s3m.on(GetObjectCommand).resolves({ ContentLength: 10 * 1024 ** 3, Body: huge } as never);
    expect((await reader.get('i-1', 'c-2')).fullStdout).toEqual({ url: 's3://work/command-output/c-2/i-1/awsrunShellScript/0.awsrunShellScript/stdout', bytes: 10 * 1024 ** 3 });
    // No full output in the bucket (the instance role may not write there): the cut output is all there is, the look goes on.
    s3m.on(GetObjectCommand).rejects(Object.assign(new Error('NoSuchKey'), { name: 'NoSuchKey' }));
    expect(await reader.get('i-1', 'c-2')).toMatchObject({ status: 'Success', stdout: full.slice(0, 24_000) });
    expect((await reader.get('i-1', 'c-2')).fullStdout).toBeUndefined();
    // Not cut: nothing read.
    s3m.resetHistory();
    ssmm.on(GetCommandInvocationCommand).resolves({ Status: 'Success', ResponseCode: 0, StandardOutputContent: 'short' });
    expect((await reader.get('i-1', 'c-3')).fullStdout).toBeUndefined();
    expect(s3m.commandCalls(GetObjectCommand)).toHaveLength(0);
  });

  it('a jumpbox not Online fails the check with what was found', async () => {
    ssmm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [{ InstanceId: 'i-1', PingStatus: 'ConnectionLost', AgentVersion: '3.3' }] });
    expect(await runner.ping('i-1')).toEqual({ online: false, detail: 'PingStatus ConnectionLost (expected Online), agent 3.3,' });
    ssmm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });
    expect((await runner.ping('i-2')).detail).toContain('not managed by SSM');
  });
});

describe('SSM parameters', () => {
  it('reads in batches of 10 with decryption; missing names are absent', async () => {
    ssmm.on(GetParametersCommand).callsFake((input: { Names: string[] }) => ({ Parameters: input.Names.filter((n) => n !== '/p/9').map((n) => ({ Name: n, Value: `v${n}` })) }));
    const names = Array.from({ length: 12 }, (_, i) => `/p/${i}`);
    const got = await new SsmParameterStore(new SSMClient({ region: 'eu-west-1' })).getMany(names);
    expect(ssmm.commandCalls(GetParametersCommand).map((c) => c.args[0].input.Names!.length)).toEqual([10, 2]);
    expect(ssmm.commandCalls(GetParametersCommand)[0]!.args[0].input.WithDecryption).toBe(true);
    expect(got.size).toBe(11);
    expect(got.has('/p/9')).toBe(false);
  });

  it('SecureString names come from the types (nothing decrypted), and a flip keeps a SecureString one', async () => {
    ssmm.on(GetParametersCommand).callsFake((input: { Names: string[] }) => ({ Parameters: input.Names.map((n) => ({ Name: n, Type: n.includes('key') ? 'SecureString' : 'String', Value: 'x' })) }));
    ssmm.on(PutParameterCommand).resolves({});
    const store = new SsmParameterStore(new SSMClient({ region: 'eu-west-1' }));
    expect(await store.secureNames(['/app/key', '/app/mode'])).toEqual(new Set(['/app/key']));
    expect(ssmm.commandCalls(GetParametersCommand).every((c) => c.args[0].input.WithDecryption === false)).toBe(true);
    await store.put('/app/key', 'new');
    await store.put('/app/mode', 'uuid');
    expect(ssmm.commandCalls(PutParameterCommand).map((c) => [c.args[0].input.Name, c.args[0].input.Type])).toEqual([
      ['/app/key', 'SecureString'],
      ['/app/mode', 'String'],
    ]);
  });
});

const request: ApprovalRequest = {
  runId: 'r1',
  approvalId: 'a'.repeat(32),
  owner: 'ops@example.com',
  target: 'postgres',
  summary: 'runs: expected 120000, got 120000 (PASS)',
  goActions: ['set parameter /x = "y"'],
  approveUrl: 'https://approve.example.com/approve?id=aaa&exp=x&sig=y',
  expiresAt: '2026-11-22T00:00:00.000Z',
};

describe('approval channels', () => {
  it('e-mail through SNS: gate results, what GO will do, the signed link, never a task token', async () => {
    snsm.on(PublishCommand).resolves({ MessageId: 'm' });
    await new SnsEmailChannel(new SNSClient({ region: 'eu-west-1' }), 'arn:aws:sns:eu-west-1:123456789012:approvals').deliver(request);
    const msg = snsm.commandCalls(PublishCommand)[0]!.args[0].input;
    expect(msg.Subject).toBe('cutline go/no-go: r1');
    expect(msg.Message).toContain('runs: expected 120000, got 120000 (PASS)');
    expect(msg.Message).toContain('1. set parameter /x = "y"');
    expect(msg.Message).toContain(request.approveUrl);
    expect(msg.Message).not.toMatch(/token/i);
  });

  it('Slack: the webhook URL comes from a SecureString; a Block Kit message with a link button', async () => {
    ssmm.on(GetParametersCommand).resolves({ Parameters: [{ Name: '/cutline/slack', Value: 'https://hooks.slack.example/T/B/x' }] });
    const sent: { url: string; body: string }[] = [];
    const http: HttpClient = {
      request: async (url, o) => {
        sent.push({ url, body: o.body! });
        return { status: 200, body: 'ok' };
      },
    };
    await new SlackWebhookChannel(new SsmParameterStore(new SSMClient({ region: 'eu-west-1' })), '/cutline/slack', http).deliver(request);
    expect(sent[0]!.url).toBe('https://hooks.slack.example/T/B/x');
    const blocks = JSON.parse(sent[0]!.body).blocks;
    expect(blocks.at(-1).elements.map((e: { action_id: string }) => e.action_id)).toEqual(['cutline_approve', 'cutline_reject', 'cutline_open']);
    expect(blocks.at(-1).elements[0].value).toBe(request.approvalId);
    expect(blocks.at(-1).elements[2].url).toBe(request.approveUrl);
  });

  it('Slack answering non-2xx is an error naming the status', async () => {
    ssmm.on(GetParametersCommand).resolves({ Parameters: [{ Name: '/cutline/slack', Value: 'https://hooks.slack.example/x' }] });
    const http: HttpClient = { request: async () => ({ status: 404, body: 'no_service' }) };
    await expect(new SlackWebhookChannel(new SsmParameterStore(new SSMClient({ region: 'eu-west-1' })), '/cutline/slack', http).deliver(request)).rejects.toThrow(
      'Slack webhook answered HTTP 404: no_service; expected 200',
    );
  });
});

describe('task tokens', () => {
  it('approve -> SendTaskSuccess with the decision, reject -> SendTaskFailure(ApprovalRejected)', async () => {
    sfnm.on(SendTaskSuccessCommand).resolves({});
    sfnm.on(SendTaskFailureCommand).resolves({});
    const t = new SfnTaskTokens(new SFNClient({ region: 'eu-west-1' }));
    await t.succeed('tok', { approver: 'a' });
    await t.fail('tok2', 'ApprovalRejected', '{"errorMessage":"no"}');
    expect(sfnm.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input).toEqual({ taskToken: 'tok', output: '{"approver":"a"}' });
    expect(sfnm.commandCalls(SendTaskFailureCommand)[0]!.args[0].input).toEqual({ taskToken: 'tok2', error: 'ApprovalRejected', cause: '{"errorMessage":"no"}' });
  });
});

describe('KMS signing of manifest roots', () => {
  it('signs the SHA-256 digest (MessageType DIGEST, ECDSA_SHA_256); the signature checks with the public key GetPublicKey returns', async () => {
    const kmsm = mockClient(KMSClient);
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const message = signedMessage('run-1', 'manifest', 'ab'.repeat(32));
    kmsm.on(SignCommand).callsFake((i: { Message: Uint8Array; MessageType: string; SigningAlgorithm: string }) => {
      // KMS signs the digest it is given; the fake checks it is the message's digest and signs the message the same way.
      expect([Buffer.from(i.Message).toString('hex'), i.MessageType, i.SigningAlgorithm]).toEqual([createHash('sha256').update(message).digest('hex'), 'DIGEST', 'ECDSA_SHA_256']);
      return { Signature: sign('sha256', message, { key: privateKey, dsaEncoding: 'der' }) };
    });
    kmsm.on(GetPublicKeyCommand).resolves({ KeySpec: 'ECC_NIST_P256', PublicKey: publicKey.export({ type: 'spki', format: 'der' }) });
    const signer = new KmsSigner(new KMSClient({ region: 'eu-west-1' }), 'arn:aws:kms:eu-west-1:123456789012:key/k');
    const sig = await signRoot(signer, 'run-1', 'manifest', 'ab'.repeat(32));
    expect(sig.keyId).toBe('arn:aws:kms:eu-west-1:123456789012:key/k');
    const pem = await kmsPublicKeyPem(new KMSClient({ region: 'eu-west-1' }), 'arn:aws:kms:eu-west-1:123456789012:key/k');
    expect(checkRootSignature(sig, pem, 'run-1', 'manifest', 'ab'.repeat(32))).toEqual({ ok: true });
    expect(checkRootSignature(sig, pem, 'run-1', 'manifest', 'cd'.repeat(32))).toMatchObject({ ok: false });
    kmsm.on(GetPublicKeyCommand).resolves({ KeySpec: 'RSA_2048', PublicKey: publicKey.export({ type: 'spki', format: 'der' }) });
    await expect(kmsPublicKeyPem(new KMSClient({ region: 'eu-west-1' }), 'k2')).rejects.toThrow('KMS key k2 is RSA_2048; expected ECC_NIST_P256 (SIGN_VERIFY)');
    kmsm.restore();
  });
});
