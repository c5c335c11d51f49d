/**
 * S3: evidence under runs/<runId>/ with x-amz-checksum-sha256 on every write,
 * pending approvals (task tokens) under a private prefix, single-use
 * decisions with If-None-Match, and migration files under an s3:// prefix.
 */
import { createHash } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { mapLimit } from '../../core/concurrency';
import { decodeUtf8Strict } from '../../core/text';
import type { ApprovalDecision, ApprovalStore, EvidenceObject, EvidenceStore, EvidenceWriter, PendingApproval, ScriptSource } from '../../ports';

/** Parts of a large evidence object (S3's minimum is 5 MiB, except the last). */
export const WRITER_PART_BYTES = 8 * 1024 * 1024;
/** Objects read at once when a run's evidence is listed and hashed. */
const LIST_READERS = 16;
const sha = (b: Uint8Array) => createHash('sha256').update(b);
const bytes = (body: string | Uint8Array) => (typeof body === 'string' ? Buffer.from(body) : body);

function isMissing(e: unknown): boolean {
  return e instanceof NoSuchKey || (e as { name?: string }).name === 'NoSuchKey' || (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404;
}
function isPreconditionFailed(e: unknown): boolean {
  const x = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return x.name === 'PreconditionFailed' || x.$metadata?.httpStatusCode === 412 || x.name === 'ConditionalRequestConflict';
}

async function getBytes(s3: S3Client, bucket: string, key: string): Promise<Uint8Array | undefined> {
  try {
    const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return await r.Body!.transformToByteArray();
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw e;
  }
}

export class S3EvidenceStore implements EvidenceStore {
  readonly location: string;
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly prefix = 'runs/',
  ) {
    this.location = `s3://${bucket}/${prefix}`;
  }

  async put(key: string, body: string | Uint8Array, contentType = 'application/octet-stream'): Promise<EvidenceObject> {
    const b = bytes(body);
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.prefix + key,
        Body: b,
        ContentType: contentType,
        ChecksumSHA256: sha(b).digest('base64'),
        Metadata: { sha256: sha(b).digest('hex') },
      }),
    );
    return { key, sha256: sha(b).digest('hex'), size: b.length };
  }

  /**
   * Up to WRITER_PART_BYTES one PutObject (with its SHA-256 checksum); past it a multipart upload of parts that size, each
   * with its own SHA-256 checksum, completed on close and aborted on abort. The digest is the whole object's, as written.
   */
  writer(key: string, contentType = 'application/octet-stream'): EvidenceWriter {
    const Bucket = this.bucket;
    const Key = this.prefix + key;
    const s3 = this.s3;
    const hash = createHash('sha256');
    let size = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let uploadId: string | undefined;
    const parts: { PartNumber: number; ETag?: string; ChecksumSHA256?: string }[] = [];
    const sendPart = async () => {
      const body = Buffer.concat(pending);
      pending = [];
      pendingBytes = 0;
      uploadId ??= (await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType: contentType, ChecksumAlgorithm: 'SHA256' }))).UploadId!;
      const PartNumber = parts.length + 1;
      const ChecksumSHA256 = sha(body).digest('base64');
      const r = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId: uploadId, PartNumber, Body: body, ChecksumSHA256 }));
      parts.push({ PartNumber, ETag: r.ETag, ChecksumSHA256 });
    };
    return {
      async write(text: string) {
        const b = Buffer.from(text);
        hash.update(b);
        size += b.length;
        pending.push(b);
        pendingBytes += b.length;
        if (pendingBytes >= WRITER_PART_BYTES) await sendPart();
      },
      async close() {
        if (uploadId === undefined) {
          const body = Buffer.concat(pending);
          await s3.send(new PutObjectCommand({ Bucket, Key, Body: body, ContentType: contentType, ChecksumSHA256: sha(body).digest('base64') }));
        } else {
          if (pendingBytes) await sendPart();
          await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
        }
        return { key, sha256: hash.digest('hex'), size };
      },
      async abort() {
        if (uploadId !== undefined) await s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId: uploadId }));
      },
    };
  }

  async putIfAbsent(key: string, body: string | Uint8Array, contentType = 'application/octet-stream'): Promise<boolean> {
    const b = bytes(body);
    try {
      await this.s3.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, Body: b, ContentType: contentType, ChecksumSHA256: sha(b).digest('base64'), IfNoneMatch: '*' }),
      );
      return true;
    } catch (e) {
      if (isPreconditionFailed(e)) return false;
      throw e;
    }
  }

  get(key: string): Promise<Uint8Array | undefined> {
    return getBytes(this.s3, this.bucket, this.prefix + key);
  }

  objectKey(key: string): string {
    return this.prefix + key;
  }

  browseUrl(prefix: string): string {
    return `https://s3.console.aws.amazon.com/s3/buckets/${this.bucket}?prefix=${encodeURIComponent(this.prefix + prefix)}`;
  }

  /**
   * Every object under the prefix with the SHA-256 of its bytes as they are now (read back, never taken from metadata a
   * writer chose), LIST_READERS objects at a time: a run's gates can leave thousands of chunk records.
   */
  async keys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) keys.push(o.Key!.slice(this.prefix.length));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }

  async list(prefix: string): Promise<EvidenceObject[]> {
    const keys = await this.keys(prefix);
    const out = await mapLimit(keys, LIST_READERS, async (key): Promise<EvidenceObject | undefined> => {
      const body = await this.get(key);
      return body ? { key, sha256: sha(body).digest('hex'), size: body.length } : undefined;
    });
    return out.filter((o): o is EvidenceObject => o !== undefined);
  }
}

/**
 * Pending approvals in a private prefix (bucket-encrypted, never public, never
 * in evidence): the task token lives here. Votes and the final decision are
 * written once each (If-None-Match: *).
 */
export class S3ApprovalStore implements ApprovalStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly prefix = 'private/approvals/',
  ) {}
  private async putOnce(key: string, body: unknown): Promise<boolean> {
    try {
      await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: JSON.stringify(body), ContentType: 'application/json', IfNoneMatch: '*' }));
      return true;
    } catch (e) {
      if (isPreconditionFailed(e)) return false;
      throw e;
    }
  }
  private async json<T>(key: string): Promise<T | undefined> {
    const b = await getBytes(this.s3, this.bucket, key);
    return b ? (JSON.parse(Buffer.from(b).toString('utf8')) as T) : undefined;
  }
  async save(p: PendingApproval): Promise<void> {
    await this.putOnce(`${this.prefix}${p.approvalId}/pending.json`, p);
    // The CLI finds a run's approval by runId: each request writes its own pointer, once (a resume adds a newer one).
    await this.putOnce(`${this.prefix}by-run/${p.runId}/${p.expiresAt}_${p.approvalId}.json`, { approvalId: p.approvalId });
  }
  get(id: string): Promise<PendingApproval | undefined> {
    return this.json(`${this.prefix}${id}/pending.json`);
  }
  async latestFor(runId: string): Promise<PendingApproval | undefined> {
    // Pointers sort by expiry (ISO-8601): the newest request of the run is the one it waits on.
    const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${this.prefix}by-run/${runId}/` }));
    const newest = (page.Contents ?? []).map((o) => o.Key!).sort().at(-1);
    const ptr = newest ? await this.json<{ approvalId: string }>(newest) : undefined;
    return ptr ? this.get(ptr.approvalId) : undefined;
  }
  recordVote(d: ApprovalDecision): Promise<boolean> {
    return this.putOnce(`${this.prefix}${d.approvalId}/votes/${createHash('sha256').update(d.approver).digest('hex')}.json`, d);
  }
  async votes(id: string): Promise<ApprovalDecision[]> {
    const out: ApprovalDecision[] = [];
    const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${this.prefix}${id}/votes/` }));
    for (const o of page.Contents ?? []) {
      const v = await this.json<ApprovalDecision>(o.Key!);
      if (v) out.push(v);
    }
    return out;
  }
  finalizeOnce(d: ApprovalDecision): Promise<boolean> {
    return this.putOnce(`${this.prefix}${d.approvalId}/decision.json`, d);
  }
  final(id: string): Promise<ApprovalDecision | undefined> {
    return this.json(`${this.prefix}${id}/decision.json`);
  }
}

/** Migration files from s3://bucket/prefix/, data files from s3://bucket/key. */
export class S3ScriptSource implements ScriptSource {
  constructor(private readonly s3: S3Client) {}
  async read(location: string): Promise<string> {
    const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(location);
    if (!m) throw new Error(`file ${JSON.stringify(location)} is not an S3 URL; expected s3://bucket/key`);
    const b = await getBytes(this.s3, m[1]!, m[2]!);
    if (!b) throw new Error(`s3://${m[1]}/${m[2]} does not exist`);
    return decodeUtf8Strict(b, location);
  }
  async list(location: string): Promise<{ name: string; body: string }[]> {
    const m = /^s3:\/\/([^/]+)\/(.*)$/.exec(location);
    if (!m) throw new Error(`migrations location ${JSON.stringify(location)} is not an S3 URL; expected s3://bucket/prefix/`);
    const [, bucket, rawPrefix] = m;
    const prefix = rawPrefix!.endsWith('/') || rawPrefix === '' ? rawPrefix! : `${rawPrefix}/`;
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) if (o.Key!.endsWith('.sql') && !o.Key!.slice(prefix.length).includes('/')) keys.push(o.Key!);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return Promise.all(
      keys.sort().map(async (k) => ({ name: k.slice(prefix.length), body: decodeUtf8Strict((await getBytes(this.s3, bucket!, k))!, `s3://${bucket}/${k}`) })),
    );
  }
}
