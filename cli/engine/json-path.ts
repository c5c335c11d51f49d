/**
 * The JSONPath subset of the Amazon States Language cutline's definition uses: reference paths (`$`, `$.a.b`, and
 * `$$.A.B` into the context object), payload templates (`"key.$": path` or an intrinsic of INTRINSICS), and ResultPath. Anything else is refused
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

/** The intrinsic functions the engine executes, by name: their argument count. */
export const INTRINSICS: Readonly<Record<string, number>> = { 'States.ArrayGetItem': 2, 'States.ArrayLength': 1, 'States.MathAdd': 2 };

type Arg = { path: string } | { value: Json } | Call;
interface Call {
  readonly fn: string;
  readonly args: readonly Arg[];
}

/** Parse `States.Name(arg, …)`: arguments are reference paths, numbers, 'strings' or intrinsics; throws with what is wrong. */
export function parseIntrinsic(text: string): Call {
  let i = 0;
  const ws = () => {
    while (text[i] === ' ') i++;
  };
  const call = (): Call => {
    const name = /^States\.[A-Za-z]+/.exec(text.slice(i))?.[0];
    if (!name) throw new Error(`expected States.<Name>( at character ${i}`);
    if (!(name in INTRINSICS)) throw new Error(`${name} is not executed`);
    i += name.length;
    if (text[i++] !== '(') throw new Error(`expected ( after ${name}`);
    const args: Arg[] = [];
    ws();
    while (text[i] !== ')') {
      args.push(arg());
      ws();
      if (text[i] === ',') {
        i++;
        ws();
      } else if (text[i] !== ')') throw new Error(`expected , or ) at character ${i}`);
    }
    i++;
    if (args.length !== INTRINSICS[name]) throw new Error(`${name} takes ${INTRINSICS[name]} argument(s), got ${args.length}`);
    return { fn: name, args };
  };
  const arg = (): Arg => {
    const rest = text.slice(i);
    if (rest.startsWith('States.')) return call();
    const path = /^\$\$?(\.[A-Za-z_][A-Za-z0-9_]*)*/.exec(rest)?.[0];
    if (rest.startsWith('$') && path) {
      i += path.length;
      return { path };
    }
    const num = /^-?\d+(\.\d+)?/.exec(rest)?.[0];
    if (num) {
      i += num.length;
      return { value: Number(num) };
    }
    const str = /^'((?:[^'\\]|\\.)*)'/.exec(rest);
    if (str) {
      i += str[0].length;
      return { value: str[1]!.replace(/\\(.)/g, '$1') };
    }
    throw new Error(`unexpected argument at character ${i}`);
  };
  const c = call();
  ws();
  if (i !== text.length) throw new Error(`unexpected text after the call at character ${i}`);
  return c;
}

/** Evaluate an intrinsic; a failure is States.IntrinsicFailure, which a Catch may take (AWS's error name). */
function evaluate(c: Call, data: unknown, ctx: ContextObject | undefined, field: string): Json {
  const v = c.args.map((a) => ('fn' in a ? evaluate(a, data, ctx, field) : 'path' in a ? readPath(a.path, data, ctx, field) : a.value));
  const fail = (why: string): never => {
    throw new StatesError('States.IntrinsicFailure', `Invalid arguments in ${c.fn} for the field '${field}': ${why}`);
  };
  const int = (x: Json, what: string) => (typeof x === 'number' && Number.isInteger(x) ? x : fail(`${what} ${JSON.stringify(x)} is not an integer`));
  if (c.fn === 'States.ArrayLength') return Array.isArray(v[0]) ? v[0].length : fail('the argument is not an array');
  if (c.fn === 'States.MathAdd') return int(v[0]!, 'the first argument') + int(v[1]!, 'the second argument');
  // States.ArrayGetItem
  const arr = Array.isArray(v[0]) ? v[0] : fail('the first argument is not an array');
  const at = int(v[1]!, 'the index');
  return at >= 0 && at < arr.length ? arr[at]! : fail(`index ${at} is outside the array's ${arr.length} item(s)`);
}

/** A payload template (Parameters, ItemSelector, ResultSelector): `"k.$"` takes the value a path selects or an intrinsic returns. */
export function payload(template: Json, data: unknown, ctx: ContextObject | undefined, field = 'Parameters'): Json {
  if (Array.isArray(template)) return template.map((t) => payload(t, data, ctx, field));
  if (template === null || typeof template !== 'object') return template;
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(template)) {
    if (k.endsWith('.$')) {
      if (typeof v !== 'string') throw new StatesError('States.Runtime', `The value of the field '${k}' in ${field} must be a path string`);
      out[k.slice(0, -2)] = v.startsWith('States.') ? evaluate(parseIntrinsic(v), data, ctx, k) : readPath(v, data, ctx, k);
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
