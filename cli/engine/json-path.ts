/**
 * The JSONPath subset of the Amazon States Language cutline's definition uses: reference paths (`$`, `$.a.b`, and
 * `$$.A.B` into the context object), payload templates (`"key.$": path`), and ResultPath. Anything else is refused
 * when the definition is checked (asl.ts), so a path the local engine cannot resolve never reaches a run.
 */
import { StatesError } from './errors';

/** `$`, `$.a.b` or `$$.A.b`: identifiers joined by dots, nothing else. */
export const REFERENCE_PATH = /^\$\$?(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** What `$$` resolves to: Step Functions' context object. */
export interface ContextObject {
  readonly Execution: { Id: string; Name: string; Input: Json; StartTime: string; RoleArn?: string };
  readonly StateMachine: { Id: string; Name: string };
  readonly State?: { Name: string; EnteredTime: string; RetryCount: number };
  readonly Task?: { Token: string };
  readonly Map?: { Item: { Index: number; Value: Json } };
}

const MISSING = Symbol('missing');

function walk(value: unknown, keys: readonly string[]): unknown {
  let v: unknown = value;
  for (const k of keys) {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, k)) return MISSING;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/** Resolve a reference path; a path that selects nothing fails the state with States.Runtime, as in AWS. */
export function readPath(path: string, data: unknown, ctx: ContextObject | undefined, field: string): Json {
  if (!REFERENCE_PATH.test(path)) throw new StatesError('States.Runtime', `The JSONPath '${path}' specified for the field '${field}' is not a reference path of the form $.a.b`);
  const fromContext = path.startsWith('$$');
  const keys = path.slice(fromContext ? 2 : 1).split('.').filter(Boolean);
  const v = walk(fromContext ? ctx : data, keys);
  if (v === MISSING) throw new StatesError('States.Runtime', `The JSONPath '${path}' specified for the field '${field}' could not be found in the ${fromContext ? 'context object' : 'input'}`);
  return v as Json;
}

/** Whether a reference path selects a value (Choice rules on a missing variable fail, like readPath). */
export function hasPath(path: string, data: unknown): boolean {
  return walk(data, path.slice(1).split('.').filter(Boolean)) !== MISSING;
}

/** A payload template (Parameters, ItemSelector, ResultSelector): `"k.$": "$.path"` takes the value the path selects. */
export function payload(template: Json, data: unknown, ctx: ContextObject | undefined, field = 'Parameters'): Json {
  if (Array.isArray(template)) return template.map((t) => payload(t, data, ctx, field));
  if (template === null || typeof template !== 'object') return template;
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(template)) {
    if (k.endsWith('.$')) {
      if (typeof v !== 'string') throw new StatesError('States.Runtime', `The value of the field '${k}' in ${field} must be a path string`);
      out[k.slice(0, -2)] = readPath(v, data, ctx, k);
    } else out[k] = payload(v, data, ctx, field);
  }
  return out;
}

/** ResultPath: null keeps the input, `$` replaces it, `$.a.b` sets the value there (creating objects on the way). */
export function applyResultPath(resultPath: string | null | undefined, input: Json, result: Json): Json {
  if (resultPath === null) return input;
  if (resultPath === undefined || resultPath === '$') return result;
  const keys = resultPath.slice(2).split('.');
  if (input === null || typeof input !== 'object' || Array.isArray(input))
    throw new StatesError('States.ResultPathMatchFailure', `Unable to apply ResultPath '${resultPath}' to input ${JSON.stringify(input).slice(0, 200)}: it is not an object`);
  const root = structuredClone(input) as Record<string, Json>;
  let at = root;
  for (const k of keys.slice(0, -1)) {
    const next = at[k];
    if (next === undefined) at[k] = {};
    else if (next === null || typeof next !== 'object' || Array.isArray(next))
      throw new StatesError('States.ResultPathMatchFailure', `Unable to apply ResultPath '${resultPath}': '${k}' is not an object`);
    at = at[k] as Record<string, Json>;
  }
  at[keys.at(-1)!] = result;
  return root;
}
