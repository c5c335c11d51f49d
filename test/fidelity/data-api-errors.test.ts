/**
 * Fidelity: the Data API's own exceptions. An auto-paused Aurora Serverless cluster answers
 * DatabaseResumingException for up to a minute, a busy one StatementTimeoutException, DatabaseUnavailableException
 * or ThrottlingException; each must reach the state machine as an error its Retry takes (with backoff), never as a
 * run-ending EnvironmentBlocked at Preflight.
 */
import { readFileSync } from 'node:fs';
import { ExecuteStatementCommand, RDSDataClient } from '@aws-sdk/client-rds-data';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, describe, expect, it } from 'vitest';
import { RunSpec } from '../../lambdas/core/spec';
import { STATES } from '../../lambdas/core/states';

const rds = mockClient(RDSDataClient);
const s3 = mockClient(S3Client);
const asl = JSON.parse(readFileSync(new URL('../../statemachines/cutover.asl.json', import.meta.url), 'utf8'));

const spec = RunSpec.parse({
  version: 1,
  runId: 'paused-1',
  owner: 'ops@example.com',
  tCutover: '2026-12-01T02:00:00Z',
  source: { engine: 'postgres', dataApi: { resourceArn: 'arn:aws:rds:eu-west-1:123456789012:cluster:prod', secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod-AbC', database: 'app' } },
  approval: { timeoutSeconds: 3600, channels: [{ type: 'email', topicArn: 'arn:aws:sns:eu-west-1:123456789012:approvals' }] },
});
const state = { spec, results: {}, execution: { name: 'paused-1', id: 'arn:aws:states:eu-west-1:123456789012:execution:cutline:paused-1' } };

beforeAll(() => {
  process.env.EVIDENCE_BUCKET = 'ev-bucket';
  process.env.WORK_BUCKET = 'work-bucket';
  process.env.AWS_REGION = 'eu-west-1';
});

describe('Data API exceptions reach the Retry of the state', () => {
  for (const name of ['DatabaseResumingException', 'StatementTimeoutException', 'DatabaseUnavailableException', 'ThrottlingException']) {
    it(`${name} at Preflight: retried by the state machine, not a blocked environment`, async () => {
      rds.reset();
      s3.reset();
      s3.on(PutObjectCommand).resolves({});
      s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } }));
      rds.on(ExecuteStatementCommand).rejects(Object.assign(new Error(`${name}: the cluster cannot answer now`), { name, $metadata: { httpStatusCode: name === 'ThrottlingException' ? 400 : 503 } }));
      const handler = (await import('../../lambdas/handlers/task')).awsHandler('preflight');
      const err = await handler(state).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err, 'the handler fails').toBeDefined();
      const retried = (asl.States[STATES.preflight].Retry as { ErrorEquals: string[] }[]).flatMap((r) => r.ErrorEquals);
      expect(retried, `Preflight's Retry takes ${err!.name}`).toContain(err!.name);
    });
  }
});
