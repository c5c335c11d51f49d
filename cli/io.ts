/** What every command shares: exit codes, the output, usage errors, option parsers, and one cache of AWS clients. */
import { KMSClient } from '@aws-sdk/client-kms';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { STSClient } from '@aws-sdk/client-sts';
import { InvalidArgumentError } from 'commander';
import { engineOfUrl } from '../lambdas/core/spec';

export const EXIT = { OK: 0, NO_GO: 1, BAD_INPUT: 2, ERROR: 3 } as const;
export type SetExit = (code: number) => void;

/** AWS clients of the CLI, injectable for tests. */
export interface AwsClients {
  readonly s3: S3Client;
  readonly sts: STSClient;
  readonly sfn: SFNClient;
  readonly lambda: LambdaClient;
  readonly kms: KMSClient;
  readonly rdsData: RDSDataClient;
}

export interface Io {
  out(line: string): void;
  err(line: string): void;
  env: NodeJS.ProcessEnv;
  /** Step Functions only (status, watch, resume, start): tests pass this alone. */
  sfn?: SFNClient;
  aws?: Partial<AwsClients>;
  /** watch: how to wait between polls (tests pass a fake). */
  sleep?: (ms: number) => Promise<void>;
}

/** The one cache of AWS clients per CLI process: each built on first use (a local command builds none). */
const built: Partial<AwsClients> = {};
const make: { [K in keyof AwsClients]: () => AwsClients[K] } = {
  s3: () => new S3Client({}),
  sts: () => new STSClient({}),
  sfn: () => new SFNClient({}),
  lambda: () => new LambdaClient({}),
  kms: () => new KMSClient({}),
  rdsData: () => new RDSDataClient({}),
};
export function aws<K extends keyof AwsClients>(io: Io, name: K): AwsClients[K] {
  const given = name === 'sfn' ? (io.aws?.sfn ?? io.sfn) : io.aws?.[name];
  if (given) return given as AwsClients[K];
  built[name] ??= make[name]();
  return built[name]!;
}

/** A bad argument found inside a command (commander prints its own parse errors). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function localUrl(v: string): string {
  if (!engineOfUrl(v) || !v.includes('://')) throw new InvalidArgumentError(`got ${JSON.stringify(v)}; expected pglite://memory, postgres://... or mysql://...`);
  return v;
}
export function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`got ${JSON.stringify(v)}; expected a port 0-65535`);
  return n;
}

/** A whole number from `min` to `max` (a batch size, a version), as commander's option parser. */
export function wholeNumber(min: number, max: number, what: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`got ${JSON.stringify(v)}; expected ${what}, a whole number from ${min} to ${max}`);
    return n;
  };
}

export function seconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0.1 || n > 3600) throw new InvalidArgumentError(`got ${JSON.stringify(v)}; expected seconds between 0.1 and 3600`);
  return n;
}

/** `validate` runs without the run's environment: give ${env:X} placeholders a value so the structure can be checked. */
export function placeholderEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return new Proxy({}, { get: (_t, k) => (typeof k === 'string' ? (env[k] ?? `http://${k.toLowerCase()}.env-placeholder.invalid`) : undefined) }) as NodeJS.ProcessEnv;
}


/** A runId as every command takes it (an execution name). */
export function runIdArg(runId: string): string {
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(runId)) throw new UsageError(`runId got ${JSON.stringify(runId)}; expected 1-80 of A-Z a-z 0-9 _ -`);
  return runId;
}
