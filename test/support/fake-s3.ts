/**
 * One S3 bucket in memory behind aws-sdk-client-mock, as strict as S3 where our adapters rely on it: GetObject of a
 * missing key is NoSuchKey (404); PutObject with IfNoneMatch '*' on an existing key is PreconditionFailed (412);
 * ListObjectsV2 lists keys under the prefix in key order, at most 1,000 a page, with a continuation token.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3ClientResolvedConfig, type ServiceInputTypes, type ServiceOutputTypes } from '@aws-sdk/client-s3';
import type { AwsStub } from 'aws-sdk-client-mock';

const PAGE = 1000;

/** The bucket's objects, for a test to seed and inspect: bodies read back as UTF-8 text. */
export interface FakeBucket {
  get(key: string): string | undefined;
  set(key: string, body: string | Uint8Array): void;
  has(key: string): boolean;
  keys(): string[];
}

type S3Stub = AwsStub<ServiceInputTypes, ServiceOutputTypes, S3ClientResolvedConfig>;

/** Install the bucket on the mock (after `reset()`); `bucket` checks every call names it; `conditionalOnly` refuses unconditional writes. */
export function fakeS3(mock: S3Stub, opts: { bucket?: string; conditionalOnly?: boolean } = {}): FakeBucket {
  const objects = new Map<string, Uint8Array>();
  const bytes = (b: string | Uint8Array) => (typeof b === 'string' ? new Uint8Array(Buffer.from(b)) : new Uint8Array(b));
  const checkBucket = (b: string | undefined) => {
    if (opts.bucket !== undefined && b !== opts.bucket) throw Object.assign(new Error(`NoSuchBucket: ${b}`), { name: 'NoSuchBucket', $metadata: { httpStatusCode: 404 } });
  };
  mock.on(GetObjectCommand).callsFake((i: { Bucket?: string; Key: string }) => {
    checkBucket(i.Bucket);
    const v = objects.get(i.Key);
    if (v === undefined) throw Object.assign(new Error('NoSuchKey'), { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } });
    return { ContentLength: v.byteLength, Body: { transformToByteArray: async () => new Uint8Array(v) } };
  });
  mock.on(PutObjectCommand).callsFake((i: { Bucket?: string; Key: string; Body: string | Uint8Array; IfNoneMatch?: string }) => {
    checkBucket(i.Bucket);
    if (opts.conditionalOnly && i.IfNoneMatch !== '*') throw new Error(`unconditional write of ${i.Key}`);
    if (i.IfNoneMatch === '*' && objects.has(i.Key)) throw Object.assign(new Error('PreconditionFailed'), { name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
    objects.set(i.Key, bytes(i.Body));
    return {};
  });
  mock.on(ListObjectsV2Command).callsFake((i: { Bucket?: string; Prefix?: string; ContinuationToken?: string }) => {
    checkBucket(i.Bucket);
    const keys = [...objects.keys()].filter((k) => k.startsWith(i.Prefix ?? '')).sort();
    const from = i.ContinuationToken ? Number(i.ContinuationToken) : 0;
    const page = keys.slice(from, from + PAGE);
    const more = from + PAGE < keys.length;
    return { Contents: page.map((Key) => ({ Key, Size: objects.get(Key)!.byteLength })), KeyCount: page.length, IsTruncated: more, ...(more ? { NextContinuationToken: String(from + PAGE) } : {}) };
  });
  return {
    get: (key) => {
      const v = objects.get(key);
      return v === undefined ? undefined : Buffer.from(v).toString('utf8');
    },
    set: (key, body) => void objects.set(key, bytes(body)),
    has: (key) => objects.has(key),
    keys: () => [...objects.keys()].sort(),
  };
}
