/**
 * Fidelity: a walk of the synthesized template. For each function, every AWS call its adapters make (read from the
 * adapter sources: each `new XCommand(` in the methods of the ports its stage uses) must be allowed by its role;
 * every Task state must outlast its function (else Step Functions gives up on an invocation still running); and no
 * spec may give a function more work than its timeout. Before, Cutover could not read the contract migrations it
 * applies, Smoke could not run its jumpbox curls, and a backfill chunk could be told to wait longer than it lives.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDeployConfig } from '../../lib/config';
import { CutlineStack } from '../../lib/stack';
import { parseSpec } from '../../lambdas/core/spec';
import { functionSubstitution, STATES, TASK_KEYS, type TaskKey, taskName } from '../../lambdas/core/states';
import { STAGES } from '../../lambdas/handlers/stages';
import { miniSpec } from '../support/local-run';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ADAPTERS = path.join(ROOT, 'lambdas/adapters/aws');

/** SDK command -> IAM action (the service prefix from the client module; a few actions are named otherwise). */
const SERVICE: Record<string, string> = { 's3': 's3', 'rds-data': 'rds-data', 'rds': 'rds', 'ssm': 'ssm', 'sns': 'sns', 'sfn': 'states', 'kms': 'kms', 'lambda': 'lambda', 'cloudwatch': 'cloudwatch' };
// A multipart upload's create, parts and completion are authorized by s3:PutObject (S3's action list); its abort by its own.
const RENAMED: Record<string, string> = {
  's3:ListObjectsV2': 's3:ListBucket',
  'lambda:Invoke': 'lambda:InvokeFunction',
  's3:CreateMultipartUpload': 's3:PutObject',
  's3:UploadPart': 's3:PutObject',
  's3:CompleteMultipartUpload': 's3:PutObject',
};

/** An adapter file's SDK command name -> IAM action (its client module gives the service). */
function actionOf(src: string): (cmd: string) => string {
  const services = new Map<string, string>();
  for (const m of src.matchAll(/import \{([^}]+)\} from '@aws-sdk\/client-([a-z0-9-]+)'/g)) for (const n of m[1]!.split(',')) services.set(n.trim().replace(/^type /, ''), SERVICE[m[2]!]!);
  return (cmd) => {
    const a = `${services.get(`${cmd}Command`)}:${cmd}`;
    return RENAMED[a] ?? a;
  };
}

/** class (or top-level function) -> method -> IAM actions, read from the adapter sources. */
function adapterCalls(): Map<string, Map<string, Set<string>>> {
  const out = new Map<string, Map<string, Set<string>>>();
  for (const file of readdirSync(ADAPTERS).filter((f) => f.endsWith('.ts'))) {
    const src = readFileSync(path.join(ADAPTERS, file), 'utf8');
    const action = actionOf(src);
    let owner = '';
    let method = '';
    const helpers = new Map<string, Set<string>>();
    // class -> method -> the methods of its own class it calls (this.m(...)): their calls are its calls too.
    const own = new Map<string, Map<string, Set<string>>>();
    for (const line of src.split('\n')) {
      const cls = /^export class (\w+)/.exec(line);
      const fn = /^(?:export )?(?:async )?function (\w+)/.exec(line);
      if (cls) [owner, method] = [cls[1]!, ''];
      else if (fn) [owner, method] = ['', fn[1]!];
      else if (owner) {
        const m = /^ {2}(?:async |get )?(\w+)(?:<[^>]*>)?\(/.exec(line);
        if (m) method = m[1]!;
      }
      const calls = [...line.matchAll(/new (\w+)Command\(/g)].map((c) => action(c[1]!));
      const into = owner ? (out.get(owner) ?? out.set(owner, new Map()).get(owner)!) : undefined;
      const set = into ? (into.get(method) ?? into.set(method, new Set()).get(method)!) : (helpers.get(method) ?? helpers.set(method, new Set()).get(method)!);
      for (const c of calls) set.add(c);
      // A method calling a top-level helper of its file makes the helper's calls.
      if (into) for (const [h, hc] of helpers) if (new RegExp(`\\b${h}\\(`).test(line)) for (const c of hc) set.add(c);
      if (owner)
        for (const m of line.matchAll(/\bthis\.(\w+)\(/g)) {
          const byMethod = own.get(owner) ?? own.set(owner, new Map()).get(owner)!;
          (byMethod.get(method) ?? byMethod.set(method, new Set()).get(method)!).add(m[1]!);
        }
    }
    for (let changed = true; changed; ) {
      changed = false;
      for (const [cls, byMethod] of own)
        for (const [method, callees] of byMethod)
          for (const callee of callees)
            for (const c of out.get(cls)?.get(callee) ?? []) {
              const set = out.get(cls)!.get(method) ?? out.get(cls)!.set(method, new Set()).get(method)!;
              if (!set.has(c)) changed = !!set.add(c);
            }
    }
  }
  return out;
}

/** The ports (adapter class and methods; none = every method) each stage's core code uses. */
type Use = readonly [cls: string, methods?: readonly string[], bucket?: 'Evidence' | 'Work'];
const EVIDENCE: Use = ['S3EvidenceStore'];
const SQL: Use = ['DataApiSql'];
const READ_PARAMS: Use = ['SsmParameterStore', ['getMany', 'secureNames']];
const WRITE_PARAMS: Use = ['SsmParameterStore', ['put']];
const COMMANDS: Use = ['SsmCommandRunner'];
const SCRIPTS: Use = ['S3ScriptSource'];
const SIGN: Use = ['KmsSigner', ['sign']];
const USES: Record<TaskKey | 'approvalApi', readonly Use[]> = {
  validateSpec: [EVIDENCE],
  preflight: [EVIDENCE, SQL, READ_PARAMS, COMMANDS],
  // The backup before Schema: a snapshot made and followed.
  schema: [EVIDENCE, SQL, SCRIPTS, ['RdsSnapshotBackups', ['ensure', 'status']]],
  commandSend: [EVIDENCE, ['SsmCommandRunner', ['send']]],
  commandPoll: [EVIDENCE, ['SsmCommandRunner', ['get']]],
  backfillPlan: [EVIDENCE, SQL],
  backfillChunk: [EVIDENCE, SQL],
  verify: [EVIDENCE, SQL],
  gatePlan: [EVIDENCE, SQL],
  gateChunk: [EVIDENCE, SQL],
  gates: [EVIDENCE, SQL],
  decide: [EVIDENCE, SQL],
  goNoGo: [EVIDENCE, ['S3ApprovalStore', ['save']], ['SnsEmailChannel'], READ_PARAMS],
  // Actions (parameters, SQL, commands looked at and cancelled), then the contract migrations (scripts).
  cutover: [EVIDENCE, SQL, READ_PARAMS, WRITE_PARAMS, COMMANDS, SCRIPTS],
  // Requests from the Lambda, or curl on the jumpbox (a command); every stage renews the run lease.
  smoke: [EVIDENCE, SQL, ['SsmCommandRunner', ['send', 'get', 'cancel']]],
  // A phase's actions, as Cutover's (no contract migrations); a soak poll's monitors (SQL, HTTP) and the run lease.
  phase: [EVIDENCE, SQL, READ_PARAMS, WRITE_PARAMS, COMMANDS],
  soakPoll: [EVIDENCE, SQL, ['SsmCommandRunner', ['send', 'get', 'cancel']], ['CloudWatchAlarms']],
  // A restore: the run's snapshot to a new cluster (and its selector flipped).
  rollback: [EVIDENCE, SQL, READ_PARAMS, WRITE_PARAMS, COMMANDS, SIGN, ['RdsSnapshotBackups', ['restore']]],
  classify: [EVIDENCE],
  summary: [EVIDENCE, SQL, SIGN],
  approvalApi: [['S3EvidenceStore', ['get', 'put', 'putIfAbsent']], ['S3ApprovalStore'], ['SfnTaskTokens'], READ_PARAMS, ['selfInvoker']],
};

/** The prefix each S3 port works under: its object actions must be granted there. */
const PREFIX: Record<string, string> = { S3EvidenceStore: 'runs/', S3ScriptSource: 'migrations/', SsmCommandRunner: 'command-output/' };
/** The bucket each S3 port works in (a Use may name another): its object actions must be granted on that bucket. */
const BUCKET: Record<string, 'Evidence' | 'Work'> = { S3EvidenceStore: 'Evidence', SsmCommandRunner: 'Work' };

const context = JSON.parse(readFileSync(path.join(ROOT, 'cdk.context.json'), 'utf8'));
let t: Template;
beforeAll(() => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  t = Template.fromStack(new CutlineStack(app, 'Cutline', parseDeployConfig(context.cutline), { env: { account: '123456789012', region: 'eu-west-1' } }));
});

const functionId = (key: TaskKey | 'approvalApi') => {
  const name = key === 'approvalApi' ? 'ApprovalApi' : taskName(key);
  const id = Object.keys(t.findResources('AWS::Lambda::Function')).find((k) => k.startsWith(`Pipeline${name}Function`));
  if (!id) throw new Error(`no function Pipeline${name}Function in the template`);
  return id;
};

/** Statements of every policy attached to a function's role. */
function statementsOf(fnId: string): { Action: string[]; Resource: string }[] {
  const role = (t.findResources('AWS::Lambda::Function')[fnId]!.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  return Object.values(t.findResources('AWS::IAM::Policy'))
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === role))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as { Effect: string; Action: string | string[]; Resource: unknown }[])
    .filter((s) => s.Effect === 'Allow')
    .map((s) => ({ Action: [s.Action].flat(), Resource: JSON.stringify(s.Resource) }));
}

const allows = (granted: string, action: string) => new RegExp(`^${granted.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(action);

describe('the template walk', () => {
  const calls = adapterCalls();

  it('reads the adapters: each port method names the AWS calls it makes', () => {
    expect([...calls.get('SsmCommandRunner')!.get('cancel')!]).toEqual(['ssm:CancelCommand']);
    expect([...calls.get('S3EvidenceStore')!.get('keys')!]).toEqual(['s3:ListBucket']);
    // list() lists with keys() and reads each object with get(): both calls are its calls.
    expect([...calls.get('S3EvidenceStore')!.get('list')!].sort()).toEqual(['s3:GetObject', 's3:ListBucket']);
    expect([...calls.get('DataApiSql')!.get('transaction')!].sort()).toEqual(['rds-data:BeginTransaction', 'rds-data:CommitTransaction', 'rds-data:RollbackTransaction']);
    expect([...helperCalls('selfInvoker')]).toEqual(['lambda:InvokeFunction']);
  });

  for (const key of [...TASK_KEYS, 'approvalApi' as const])
    it(`${key}: every AWS call of the ports it uses is allowed by its role`, () => {
      const statements = statementsOf(functionId(key));
      const missing: string[] = [];
      for (const [cls, methods, named] of USES[key]) {
        const byMethod = calls.get(cls) ?? new Map([[cls, helperCalls(cls)]]);
        const bucket = named ?? BUCKET[cls];
        for (const [m, actions] of byMethod) {
          if (methods && !methods.includes(m) && byMethod.size > 1) continue;
          for (const a of actions) {
            const where = (r: string) => (!PREFIX[cls] || a === 's3:ListBucket' || r.includes(`/${PREFIX[cls]}*`)) && (!bucket || r.includes(`Pipeline${bucket}Bucket`));
            const ok = statements.some((s) => s.Action.some((g) => allows(g, a)) && (!a.startsWith('s3:') || where(s.Resource)));
            if (!ok) missing.push(`${a} (${cls}.${m}${PREFIX[cls] && a.startsWith('s3:') ? ` under ${bucket ?? ''} ${PREFIX[cls]}` : ''})`);
          }
        }
        if (cls === 'DataApiSql' && !statements.some((s) => s.Action.includes('secretsmanager:GetSecretValue'))) missing.push('secretsmanager:GetSecretValue (the Data API reads the cluster secret as the caller)');
      }
      expect(missing).toEqual([]);
    });

  it('every Task state outlasts its function: Step Functions never gives up on an invocation that is still running', () => {
    const def = JSON.parse(readFileSync(path.join(ROOT, 'statemachines/cutover.asl.json'), 'utf8'));
    const fns = t.findResources('AWS::Lambda::Function');
    const short: string[] = [];
    const walk = (states: Record<string, any>) => {
      for (const [name, s] of Object.entries(states)) {
        if (s.ItemProcessor) walk(s.ItemProcessor.States);
        const key = TASK_KEYS.find((k) => s.Resource === `\${${functionSubstitution(k)}}` || s.Parameters?.FunctionName === `\${${functionSubstitution(k)}}`);
        if (s.Type !== 'Task' || !key || s.TimeoutSecondsPath) continue;
        const fnTimeout = fns[functionId(key)]!.Properties.Timeout as number;
        if (!(s.TimeoutSeconds >= fnTimeout)) short.push(`${name}: TimeoutSeconds ${s.TimeoutSeconds} < function ${fnTimeout} s`);
      }
    };
    walk(def.States);
    expect(short).toEqual([]);
  });

  it('no spec gives a backfill chunk more than its function lives: waiting for a busy database, pausing and one statement', async () => {
    const spec = await miniSpec({ runId: 'walk' });
    spec.backfill.busyQuery = { sql: 'SELECT false', maxWaitMs: 900_000 };
    const r = parseSpec(spec);
    expect(r.ok ? [] : r.problems).toEqual([
      {
        path: '$.backfill.busyQuery.maxWaitMs',
        message: `got 900000; with backfill.pauseMs 0 and one statement (45 s) a chunk may take 945 s; expected at most ${STAGES.backfillChunk.timeoutSeconds - 60} s, what the ${STATES.backfillChunk} function's ${STAGES.backfillChunk.timeoutSeconds} s leave`,
      },
    ]);
    spec.backfill.busyQuery.maxWaitMs = 600_000;
    expect(parseSpec(spec).ok).toBe(true);
  });
});

/** A top-level function of an adapter file (selfInvoker): its calls under one name. */
function helperCalls(name: string): Set<string> {
  for (const file of readdirSync(ADAPTERS).filter((f) => f.endsWith('.ts'))) {
    const src = readFileSync(path.join(ADAPTERS, file), 'utf8');
    if (!new RegExp(`function ${name}\\b`).test(src)) continue;
    const action = actionOf(src);
    return new Set([...src.matchAll(/new (\w+)Command\(/g)].map((c) => action(c[1]!)));
  }
  return new Set();
}
