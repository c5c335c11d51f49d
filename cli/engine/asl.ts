/**
 * The part of the Amazon States Language (JSONPath) cutline's engine executes, and a check that a definition uses
 * nothing else: a field the engine would ignore is refused by name before a run starts, so no local run passes on
 * a feature it did not execute.
 */
import type { Json } from './json-path';
import { INTRINSICS, parseIntrinsic, REFERENCE_PATH } from './json-path';

export interface Retrier {
  readonly ErrorEquals: readonly string[];
  readonly IntervalSeconds?: number;
  readonly MaxAttempts?: number;
  readonly BackoffRate?: number;
  readonly MaxDelaySeconds?: number;
  readonly JitterStrategy?: 'FULL' | 'NONE';
}
export interface Catcher {
  readonly ErrorEquals: readonly string[];
  readonly Next: string;
  readonly ResultPath?: string | null;
}
export interface ChoiceRule {
  readonly Variable?: string;
  readonly StringEquals?: string;
  readonly BooleanEquals?: boolean;
  readonly NumericEquals?: number;
  readonly NumericEqualsPath?: string;
  readonly IsPresent?: boolean;
  readonly And?: readonly ChoiceRule[];
  readonly Or?: readonly ChoiceRule[];
  readonly Not?: ChoiceRule;
  readonly Next?: string;
}
export interface StateDef {
  readonly Type: 'Task' | 'Map' | 'Pass' | 'Wait' | 'Choice' | 'Succeed' | 'Fail';
  readonly Next?: string;
  readonly End?: boolean;
  /** Task and Map: what is retried, then what is caught. */
  readonly Retry?: readonly Retrier[];
  readonly Catch?: readonly Catcher[];
  readonly InputPath?: string | null;
  readonly OutputPath?: string | null;
  readonly Parameters?: Json;
  readonly ResultSelector?: Json;
  readonly ResultPath?: string | null;
  readonly Result?: Json;
  // Task
  readonly Resource?: string;
  readonly TimeoutSeconds?: number;
  readonly TimeoutSecondsPath?: string;
  readonly HeartbeatSeconds?: number;
  readonly HeartbeatSecondsPath?: string;
  // Map
  readonly ItemsPath?: string;
  readonly ItemReader?: { Resource: string; ReaderConfig?: { InputType?: string }; Parameters: Json };
  readonly ItemSelector?: Json;
  readonly ItemBatcher?: { MaxItemsPerBatch?: number; MaxItemsPerBatchPath?: string; BatchInput?: Json };
  readonly ItemProcessor?: Definition & { ProcessorConfig?: { Mode?: 'INLINE' | 'DISTRIBUTED'; ExecutionType?: 'STANDARD' | 'EXPRESS' } };
  readonly MaxConcurrency?: number;
  readonly MaxConcurrencyPath?: string;
  readonly ToleratedFailurePercentage?: number;
  readonly ToleratedFailurePercentagePath?: string;
  readonly ToleratedFailureCount?: number;
  readonly ToleratedFailureCountPath?: string;
  readonly ResultWriter?: { Resource: string; Parameters: Json };
  readonly Label?: string;
  // Wait
  readonly Seconds?: number;
  readonly SecondsPath?: string;
  // Choice
  readonly Choices?: readonly ChoiceRule[];
  readonly Default?: string;
  // Fail
  readonly Error?: string;
  readonly ErrorPath?: string;
  readonly Cause?: string;
  readonly CausePath?: string;
}
export interface Definition {
  readonly StartAt: string;
  readonly States: Record<string, StateDef>;
  readonly Comment?: string;
}

const COMMON = ['Type', 'Comment', 'Next', 'End', 'InputPath', 'OutputPath'];
const FIELDS: Record<StateDef['Type'], readonly string[]> = {
  Task: [...COMMON, 'Resource', 'Parameters', 'ResultSelector', 'ResultPath', 'Retry', 'Catch', 'TimeoutSeconds', 'TimeoutSecondsPath', 'HeartbeatSeconds', 'HeartbeatSecondsPath'],
  Map: [
    ...COMMON,
    'ItemsPath',
    'ItemReader',
    'ItemSelector',
    'ItemBatcher',
    'ItemProcessor',
    'MaxConcurrency',
    'MaxConcurrencyPath',
    'ToleratedFailurePercentage',
    'ToleratedFailurePercentagePath',
    'ToleratedFailureCount',
    'ToleratedFailureCountPath',
    'ResultWriter',
    'ResultSelector',
    'ResultPath',
    'Retry',
    'Catch',
    'Label',
  ],
  Pass: [...COMMON, 'Parameters', 'Result', 'ResultPath'],
  Wait: [...COMMON, 'Seconds', 'SecondsPath'],
  Choice: ['Type', 'Comment', 'InputPath', 'OutputPath', 'Choices', 'Default'],
  Succeed: ['Type', 'Comment', 'InputPath', 'OutputPath'],
  Fail: ['Type', 'Comment', 'Error', 'ErrorPath', 'Cause', 'CausePath'],
};
const RULE_FIELDS = ['Variable', 'StringEquals', 'BooleanEquals', 'NumericEquals', 'NumericEqualsPath', 'IsPresent', 'And', 'Or', 'Not', 'Next'];

function intrinsicProblem(text: string): string | undefined {
  try {
    parseIntrinsic(text);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}
const PATH_FIELDS = ['InputPath', 'OutputPath', 'ResultPath', 'TimeoutSecondsPath', 'HeartbeatSecondsPath', 'ItemsPath', 'MaxConcurrencyPath', 'ToleratedFailurePercentagePath', 'ToleratedFailureCountPath', 'SecondsPath', 'ErrorPath', 'CausePath'];
export const LAMBDA_ARN = /^arn:aws[\w-]*:lambda:[\w-]+:\d{12}:function:[\w-]+$/;
const LAMBDA_INVOKE = /^arn:aws[\w-]*:states:::lambda:invoke(\.waitForTaskToken)?$/;

/** Every problem of a definition the engine cannot run exactly, as `where: what`; empty when it can. */
export function unsupported(def: Definition, where = 'States'): string[] {
  const problems: string[] = [];
  const top = Object.keys(def).filter((k) => !['StartAt', 'States', 'Comment', 'ProcessorConfig'].includes(k));
  for (const k of top) problems.push(`${where}: top-level field ${k} is not executed by the local engine`);
  if (!def.States?.[def.StartAt]) problems.push(`${where}: StartAt ${JSON.stringify(def.StartAt)} names no state`);
  const paths = (obj: unknown, at: string) => {
    if (Array.isArray(obj)) for (const [i, v] of obj.entries()) paths(v, `${at}[${i}]`);
    else if (obj && typeof obj === 'object')
      for (const [k, v] of Object.entries(obj)) {
        if (!k.endsWith('.$')) paths(v, `${at}.${k}`);
        else if (typeof v === 'string' && v.startsWith('States.')) {
          const why = intrinsicProblem(v);
          if (why)
            problems.push(`${at}.${k}: ${JSON.stringify(v)} is neither a reference path ($.a.b or $$.A.b) nor an intrinsic the local engine executes (${Object.keys(INTRINSICS).join(', ')}): ${why}`);
        } else if (typeof v !== 'string' || !REFERENCE_PATH.test(v)) problems.push(`${at}.${k}: ${JSON.stringify(v)} is not a reference path ($.a.b or $$.A.b)`);
      }
  };
  const rule = (r: ChoiceRule, at: string) => {
    for (const k of Object.keys(r)) if (!RULE_FIELDS.includes(k)) problems.push(`${at}: Choice operator ${k} is not executed by the local engine`);
    for (const k of ['Variable', 'NumericEqualsPath'] as const)
      if (r[k] !== undefined && !REFERENCE_PATH.test(r[k])) problems.push(`${at}.${k}: ${JSON.stringify(r[k])} is not a reference path`);
    for (const [i, s] of [...(r.And ?? []), ...(r.Or ?? [])].entries()) rule(s, `${at}.${r.And ? 'And' : 'Or'}[${i}]`);
    if (r.Not) rule(r.Not, `${at}.Not`);
  };
  for (const [name, s] of Object.entries(def.States ?? {})) {
    const at = `${where}.${name}`;
    const allowed = FIELDS[s.Type];
    if (!allowed) {
      problems.push(`${at}: state type ${s.Type} is not executed by the local engine`);
      continue;
    }
    for (const k of Object.keys(s)) if (!allowed.includes(k)) problems.push(`${at}: field ${k} of a ${s.Type} state is not executed by the local engine`);
    for (const k of PATH_FIELDS) {
      const v: unknown = (Object.entries(s) as [string, unknown][]).find(([f]) => f === k)?.[1];
      if (v !== undefined && v !== null && (typeof v !== 'string' || !REFERENCE_PATH.test(v))) problems.push(`${at}.${k}: ${JSON.stringify(v)} is not a reference path`);
    }
    for (const k of ['Parameters', 'ResultSelector', 'ItemSelector'] as const) if (s[k] !== undefined) paths(s[k], `${at}.${k}`);
    for (const next of [s.Next, s.Default, ...(s.Catch ?? []).map((c) => c.Next), ...(s.Choices ?? []).map((c) => c.Next)])
      if (next !== undefined && !def.States[next]) problems.push(`${at}: transition to ${JSON.stringify(next)}, which is not a state here`);
    if (s.Type === 'Task' && s.Resource && !LAMBDA_ARN.test(s.Resource) && !LAMBDA_INVOKE.test(s.Resource))
      problems.push(`${at}.Resource: ${s.Resource} is neither a Lambda function ARN nor arn:aws:states:::lambda:invoke[.waitForTaskToken]; the local engine runs Lambda tasks only`);
    if (s.Type === 'Choice') for (const [i, r] of (s.Choices ?? []).entries()) rule(r, `${at}.Choices[${i}]`);
    if (s.Type === 'Map') {
      if (!s.ItemProcessor) problems.push(`${at}: a Map needs ItemProcessor (Iterator is not executed by the local engine)`);
      else {
        const mode = s.ItemProcessor.ProcessorConfig?.Mode ?? 'INLINE';
        if (mode === 'DISTRIBUTED' && s.ItemProcessor.ProcessorConfig?.ExecutionType !== 'STANDARD') problems.push(`${at}: only STANDARD child executions are executed by the local engine`);
        if (mode === 'INLINE' && (s.ItemReader || s.ResultWriter || s.ItemBatcher)) problems.push(`${at}: ItemReader, ItemBatcher and ResultWriter need a DISTRIBUTED Map`);
        problems.push(...unsupported(s.ItemProcessor, `${at}.ItemProcessor`));
      }
      if (s.ItemReader && (s.ItemReader.Resource !== 'arn:aws:states:::s3:getObject' || !['JSON', 'JSONL'].includes(s.ItemReader.ReaderConfig?.InputType ?? 'JSON')))
        problems.push(`${at}.ItemReader: only arn:aws:states:::s3:getObject with InputType JSON or JSONL is executed by the local engine`);
      if (s.ResultWriter && s.ResultWriter.Resource !== 'arn:aws:states:::s3:putObject') problems.push(`${at}.ResultWriter: only arn:aws:states:::s3:putObject is executed by the local engine`);
      if (s.ItemBatcher) for (const k of Object.keys(s.ItemBatcher)) if (!['MaxItemsPerBatch', 'MaxItemsPerBatchPath', 'BatchInput'].includes(k)) problems.push(`${at}.ItemBatcher.${k} is not executed by the local engine`);
    }
  }
  return problems;
}
