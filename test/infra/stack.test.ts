/**
 * Infra tier: real synth (NodejsFunction bundling with local esbuild), per-state
 * JSON and IAM statement assertions, cdk-nag AwsSolutions as a validation plugin.
 */
import { readFileSync } from 'node:fs';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { DeployConfigError, parseDeployConfig } from '../../lib/config';
import { CutoverPipeline } from '../../lib/cutover-pipeline';
import { CutlineStack } from '../../lib/stack';
import { functionSubstitution, STATES, TASK_KEYS } from '../../lambdas/core/states';

const context = JSON.parse(readFileSync(new URL('../../cdk.context.json', import.meta.url), 'utf8'));
const config = parseDeployConfig(context.cutline);
const CLUSTER = config.databases[0]!.clusterArn;
const SECRET = config.databases[0]!.secretArn;

let template: Template;
let stack: CutlineStack;

function policiesOf(t: Template) {
  return Object.values(t.findResources('AWS::IAM::Policy')) as { Properties: { Roles: { Ref: string }[]; PolicyDocument: { Statement: any[] } } }[];
}
function statementsWith(t: Template, action: string) {
  return policiesOf(t).flatMap((p) =>
    p.Properties.PolicyDocument.Statement.filter((s) => [s.Action].flat().includes(action)).map((s) => ({ ...s, role: p.Properties.Roles[0]!.Ref })),
  );
}

beforeAll(() => {
  const app = new App();
  stack = new CutlineStack(app, 'Cutline', config, { env: { account: '123456789012', region: 'eu-west-1' } });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  template = Template.fromStack(stack);
  app.synth(); // throws when cdk-nag finds an unacknowledged violation
});

describe('state machine', () => {
  it('is the ASL file, with every ${FunctionArn} substituted by its function', () => {
    const [sm] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as any[];
    const def = JSON.parse(sm.Properties.DefinitionString);
    expect(def.States[STATES.goNoGo].Resource).toBe('arn:aws:states:::lambda:invoke.waitForTaskToken');
    expect(def.States[STATES.goNoGo].TimeoutSecondsPath).toBe('$.spec.approval.timeoutSeconds');
    expect(def.States[STATES.preflight].Resource).toBe('${PreflightFunctionArn}');
    const subs = sm.Properties.DefinitionSubstitutions;
    expect(Object.keys(subs).sort()).toEqual([...TASK_KEYS.map(functionSubstitution), 'EvidenceBucketName', 'WorkBucketName'].sort());
    for (const k of TASK_KEYS) expect(subs[functionSubstitution(k)]['Fn::GetAtt'][1]).toBe('Arn');
    expect(subs.EvidenceBucketName.Ref).toMatch(/EvidenceBucket/);
    expect(def.States[STATES.gateChunksDistributed].ItemProcessor.ProcessorConfig.Mode).toBe('DISTRIBUTED');
    expect(def.States[STATES.gateChunksDistributed].ItemReader.Parameters.Bucket).toBe('${EvidenceBucketName}');
  });

  it('logs without execution data (task tokens never reach the logs)', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      LoggingConfiguration: { IncludeExecutionData: false, Level: 'ALL' },
      TracingConfiguration: { Enabled: true },
    });
  });
});

describe('functions', () => {
  it('one nodejs22.x arm64 function per task, bundled by local esbuild', () => {
    const fns = Object.values(template.findResources('AWS::Lambda::Function')) as any[];
    const ours = fns.filter((f) => f.Properties.Environment?.Variables?.EVIDENCE_BUCKET);
    expect(ours).toHaveLength(TASK_KEYS.length + 1); // + the approval API
    for (const f of ours) {
      expect(f.Properties.Runtime).toBe('nodejs22.x');
      expect(f.Properties.Architectures).toEqual(['arm64']);
      expect(f.Properties.Handler).toBe('index.handler');
    }
  });
});

describe('IAM is scoped to the configured resources', () => {
  it('Data API only on the configured clusters, secrets only the configured secrets, only for functions that query', () => {
    const rds = statementsWith(template, 'rds-data:ExecuteStatement');
    // preflight, schema, backfill plan, backfill chunk, verify, gate plan, gate chunk, cutover, phase, soak poll, rollback; gates, decide, smoke (renew the run lease), summary (releases it)
    expect(rds.length).toBe(15);
    for (const s of rds) expect(s.Resource).toBe(CLUSTER);
    for (const s of statementsWith(template, 'secretsmanager:GetSecretValue')) expect(s.Resource).toBe(SECRET);
    const roles = new Set(rds.map((s) => s.role));
    for (const key of ['validateSpec', 'goNoGo', 'classify', 'commandSend', 'commandPoll'] as const) {
      const role = stack.resolve((stack.pipeline.functions[key].role as iam.Role).roleName);
      expect(roles.has(role.Ref), key).toBe(false);
    }
  });

  it('Run Command only on the jumpbox instance and the shell document', () => {
    const send = statementsWith(template, 'ssm:SendCommand');
    expect(send.length).toBeGreaterThan(0);
    for (const s of send)
      expect(s.Resource).toEqual([
        { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ec2:eu-west-1:123456789012:instance/i-0abc12345678def01']] },
        { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ssm:eu-west-1::document/AWS-RunShellScript']] },
      ]);
  });

  it('snapshots only by Schema, of the configured cluster, named cutline-*', () => {
    const create = statementsWith(template, 'rds:CreateDBClusterSnapshot');
    expect(create).toHaveLength(1);
    const schemaRole = stack.resolve((stack.pipeline.functions.schema.role as iam.Role).roleName).Ref;
    expect(create[0]!.role).toBe(schemaRole);
    const snapshots = CLUSTER.replace(/:cluster:[A-Za-z0-9-]+$/, ':cluster-snapshot:cutline-*');
    expect(create[0]!.Resource).toEqual([CLUSTER, snapshots]);
    const describe = statementsWith(template, 'rds:DescribeDBClusterSnapshots');
    expect(describe.map((s) => s.Resource)).toEqual([snapshots]);
    expect(statementsWith(template, 'rds:DeleteDBClusterSnapshot')).toEqual([]);
  });

  it('restores only by Rollback: the run snapshot (cutline-*) to a new cluster and writer named cutline-*, KMS only through RDS, nothing deleted', () => {
    const rollbackRole = stack.resolve((stack.pipeline.functions.rollback.role as iam.Role).roleName).Ref;
    const scoped = (kind: string) => CLUSTER.replace(/:cluster:[A-Za-z0-9-]+$/, `:${kind}`);
    for (const action of ['rds:RestoreDBClusterFromSnapshot', 'rds:CreateDBInstance', 'rds:EnableHttpEndpoint', 'rds:DescribeDBClusters', 'rds:DescribeDBInstances', 'kms:CreateGrant']) {
      const found = statementsWith(template, action);
      expect(found.map((s) => s.role), action).toEqual([rollbackRole]);
    }
    const restore = statementsWith(template, 'rds:RestoreDBClusterFromSnapshot')[0]!.Resource;
    expect(restore).toEqual(expect.arrayContaining([scoped('cluster:cutline-*'), scoped('cluster-snapshot:cutline-*')]));
    expect(restore).not.toContain(CLUSTER);
    const create = statementsWith(template, 'rds:CreateDBInstance')[0]!.Resource;
    expect(create).toEqual(expect.arrayContaining([scoped('db:cutline-*'), scoped('cluster:cutline-*')]));
    expect(statementsWith(template, 'rds:EnableHttpEndpoint')[0]!.Resource).toEqual([scoped('cluster:cutline-*'), scoped('db:cutline-*')]);
    expect(statementsWith(template, 'kms:CreateGrant')[0]!.Condition).toEqual({ StringEquals: { 'kms:ViaService': ['rds.eu-west-1.amazonaws.com'] } });
    for (const destructive of ['rds:DeleteDBCluster', 'rds:ModifyDBCluster', 'rds:DeleteDBInstance', 'rds:ModifyDBInstance']) expect(statementsWith(template, destructive)).toEqual([]);
  });

  it('parameters: read under the configured path, write only the runtime selector', () => {
    for (const s of statementsWith(template, 'ssm:PutParameter'))
      expect(s.Resource).toEqual({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ssm:eu-west-1:123456789012:parameter/cloudbackup/prod/agent-identity']] });
    const reads = statementsWith(template, 'ssm:GetParameters').flatMap((s) => [s.Resource].flat());
    expect(JSON.stringify(reads)).toContain('parameter/cloudbackup/prod/*');
    expect(JSON.stringify(reads)).not.toMatch(/parameter\/\*"/);
  });

  it('evidence is never deleted by a function', () => {
    expect(statementsWith(template, 's3:DeleteObject')).toEqual([]);
    expect(statementsWith(template, 's3:DeleteObject*')).toEqual([]);
  });
});

describe('approval API', () => {
  it('a Function URL without IAM auth (links are HMAC-signed); GoNoGo sends links to it; it may only answer this state machine', () => {
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE' });
    const fns = Object.values(template.findResources('AWS::Lambda::Function')) as any[];
    const goNoGo = fns.find((f) => f.Properties.Environment?.Variables?.APPROVAL_BASE_URL);
    expect(goNoGo.Properties.Environment.Variables.APPROVAL_BASE_URL['Fn::GetAtt'][1]).toBe('FunctionUrl');
    const send = statementsWith(template, 'states:SendTaskSuccess');
    expect(send).toHaveLength(1);
    expect(JSON.stringify(send[0].Resource)).toContain(':stateMachine:Cutline-cutover');
    const api = fns.find((f) => f.Properties.Environment?.Variables?.SLACK_SIGNING_SECRET_PARAMETER);
    expect(api.Properties.Environment.Variables.SLACK_SIGNING_SECRET_PARAMETER).toBe('/cutline/slack/signing-secret');
  });
});

describe('evidence bucket', () => {
  it('versioned, encrypted, public access blocked, Object Lock from the config, TLS only', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: Match.objectLike({ ServerSideEncryptionConfiguration: Match.anyValue() }),
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      ObjectLockEnabled: true,
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 365 } } },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });
});

describe('work bucket', () => {
  const bucketOf = (ref: string) => template.toJSON().Resources[ref].Properties;
  it('Map results and jumpbox command output go to a bucket without Object Lock that expires them, never into WORM evidence', () => {
    const [sm] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as any[];
    const def = JSON.parse(sm.Properties.DefinitionString);
    const subs = sm.Properties.DefinitionSubstitutions;
    for (const st of [def.States[STATES.gateChunksDistributed], def.States[STATES.backfillChunksDistributed]])
      expect(st.ResultWriter.Parameters.Bucket).toBe('${WorkBucketName}');
    const work = bucketOf(subs.WorkBucketName.Ref);
    expect(work.ObjectLockEnabled).toBeUndefined();
    expect(work.LifecycleConfiguration.Rules).toEqual(expect.arrayContaining([expect.objectContaining({ ExpirationInDays: 30, Status: 'Enabled' })]));
    expect(work.PublicAccessBlockConfiguration.RestrictPublicBuckets).toBe(true);
    // Evidence keeps its Object Lock; the ItemReader still reads the plan (evidence) from it.
    expect(bucketOf(subs.EvidenceBucketName.Ref).ObjectLockEnabled).toBe(true);
    // A large evidence write (Gates' chunks.jsonl, multipart) cut short by a stopped function is dropped after a day.
    expect(bucketOf(subs.EvidenceBucketName.Ref).LifecycleConfiguration.Rules).toEqual([expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' })]);
    expect(def.States[STATES.gateChunksDistributed].ItemReader.Parameters.Bucket).toBe('${EvidenceBucketName}');
    expect(def.States[STATES.gateChunksDistributed].ItemReader.ReaderConfig.InputType).toBe('JSONL');
    // The state machine writes results (multipart) to the work bucket only.
    const writes = statementsWith(template, 's3:PutObject').filter((s) => s.role.includes('StateMachine'));
    expect(JSON.stringify(writes.map((s) => s.Resource))).toContain(subs.WorkBucketName.Ref);
    expect(JSON.stringify(writes.map((s) => s.Resource))).not.toContain(subs.EvidenceBucketName.Ref);
    // The functions that send commands name the work bucket as SSM's output location.
    const fns = Object.values(template.findResources('AWS::Lambda::Function')) as any[];
    const knowing = fns.filter((f) => f.Properties.Environment?.Variables?.WORK_BUCKET);
    expect(knowing).toHaveLength(TASK_KEYS.length);
    for (const f of knowing) expect(f.Properties.Environment.Variables.WORK_BUCKET.Ref).toBe(subs.WorkBucketName.Ref);
    const reads = statementsWith(template, 's3:GetObject').filter((s) => JSON.stringify(s.Resource).includes(subs.WorkBucketName.Ref));
    // The state machine (ResultWriter) and the eleven functions that run commands (their full output: bulk copy, Preflight,
    // Schema, Verify and Decide checks, cutover, phases and their soak's monitors, smoke, rollback); Summary reads the checkpoints in evidence.
    expect(new Set(reads.map((s) => s.role)).size).toBe(12);
    template.hasOutput('WorkBucketName', {});
  });
});

describe('cdk-nag', () => {
  it('fails synth on an unacknowledged finding (the check is live)', () => {
    const app = new App();
    const s = new Stack(app, 'Bad');
    new iam.Role(s, 'Wild', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }).addToPolicy(
      new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }),
    );
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow();
  });
});

describe('bad combinations throw in the constructor', () => {
  const mk = (props: Partial<ConstructorParameters<typeof CutoverPipeline>[2]>) => () =>
    new CutoverPipeline(new Stack(new App()), 'P', { databases: [{ clusterArn: CLUSTER, secretArn: SECRET }], ...props });
  it('names the prop, the value and what was expected', () => {
    expect(mk({ databases: [] })).toThrow(/databases is empty; expected at least one/);
    expect(mk({ databases: [{ clusterArn: 'arn:aws:rds:eu-west-1:1:db:x', secretArn: SECRET }] })).toThrow(/databases\[0\]\.clusterArn is "arn:aws:rds:eu-west-1:1:db:x"; expected/);
    expect(mk({ parameterPaths: ['/app/'], writableParameters: ['/other/flag'] })).toThrow(/writableParameters has "\/other\/flag", which is under none of parameterPaths/);
    expect(mk({ jumpboxInstanceIds: ['web-1'] })).toThrow(/jumpboxInstanceIds has "web-1"; expected an EC2 instance id/);
    expect(mk({ objectLock: { mode: 'COMPLIANCE', days: 30 }, retainEvidence: false })).toThrow(/retainEvidence is false with COMPLIANCE/);
  });
});

describe('deploy config (cdk.context.json)', () => {
  it('the shipped example is valid', () => {
    expect(config.databases).toHaveLength(1);
  });
  it('every problem names its path', () => {
    expect(() => parseDeployConfig({ databases: [{ name: 'x', clusterArn: 'nope', secretArn: SECRET }], evidence: { objectLock: { mode: 'FOREVER', days: 0 } } })).toThrow(DeployConfigError);
    try {
      parseDeployConfig({ databases: [{ name: 'x', clusterArn: 'nope', secretArn: SECRET }], evidence: { objectLock: { mode: 'FOREVER', days: 0 } } });
    } catch (e) {
      const m = (e as Error).message;
      expect(m).toContain('$.databases[0].clusterArn: got "nope"; expected an Aurora cluster ARN');
      expect(m).toContain('$.evidence.objectLock.mode: got "FOREVER"');
      expect(m).toContain('$.evidence.objectLock.days: got 0');
    }
    expect(() => parseDeployConfig(undefined)).toThrow(/missing; expected the deploy config object/);
  });
});
