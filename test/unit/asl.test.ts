/** The one ASL definition: valid ASL, names from the shared state map, errors caught by name. */
import { readFileSync } from 'node:fs';
import aslValidator from 'asl-validator';
import { describe, expect, it } from 'vitest';
import { ASL_FILE, substitutedDefinition as loadLocalDefinition } from '../../cli/runner/definition';
import * as errors from '../../lambdas/core/errors';
import { CAUGHT_ERRORS, STILL_RUNNING_RETRY, TRANSIENT_ERRORS, WORK_STILL_RUNNING_RETRY } from '../../lambdas/core/errors';
import { functionSubstitution, OTHER_SUBSTITUTIONS, STATES, TASK_KEYS } from '../../lambdas/core/states';

import { withErrorPolicy } from '../../lib/error-policy';


type State = Record<string, any>;
function allStates(def: { States: Record<string, State> }): Record<string, State> {
  const out: Record<string, State> = {};
  const walk = (states: Record<string, State>) => {
    for (const [n, s] of Object.entries(states)) {
      out[n] = s;
      if (s.ItemProcessor) walk(s.ItemProcessor.States);
    }
  };
  walk(def.States);
  return out;
}

describe('statemachines/cutover.asl.json', () => {
  it('is valid ASL (asl-validator, paths and ARNs checked)', async () => {
    const def = await loadLocalDefinition();
    const r = aslValidator(def as any, { checkPaths: true, checkArn: true });
    expect(r.errors).toEqual([]);
    expect(r.isValid).toBe(true);
  });

  it('the validator rejects a broken definition (the check can fail)', async () => {
    const def = structuredClone(await loadLocalDefinition()) as any;
    def.States[STATES.preflight].Next = 'NoSuchState';
    expect(aslValidator(def, { checkPaths: true, checkArn: true }).isValid).toBe(false);
  });

  it('has exactly the states of the shared STATES map', async () => {
    const states = allStates((await loadLocalDefinition()) as any);
    expect(Object.keys(states).sort()).toEqual(Object.values(STATES).sort());
  });

  it('runs every Distributed Map as a state of the top level, never inside another Map: the backfill phases loop there', async () => {
    const def = (await loadLocalDefinition()) as any;
    const nested: string[] = [];
    const walk = (states: Record<string, State>, inside: boolean) => {
      for (const [n, s] of Object.entries(states)) {
        if (!s.ItemProcessor) continue;
        if (inside && s.ItemProcessor.ProcessorConfig?.Mode === 'DISTRIBUTED') nested.push(n);
        walk(s.ItemProcessor.States, true);
      }
    };
    walk(def.States, false);
    expect(nested).toEqual([]);
    const top = Object.entries(def.States as Record<string, State>).filter(([, s]) => s.ItemProcessor?.ProcessorConfig?.Mode === 'DISTRIBUTED');
    expect(top.map(([n]) => n).sort()).toEqual([STATES.backfillChunksDistributed, STATES.gateChunksDistributed, STATES.soak].sort());
  });

  it('names every task function by a ${Substitution} from the task list, and nothing else', () => {
    const text = readFileSync(ASL_FILE, 'utf8');
    const used = [...text.matchAll(/\$\{([A-Za-z]+)\}/g)].map((m) => m[1]).sort();
    expect([...new Set(used)]).toEqual([...TASK_KEYS.map(functionSubstitution), ...OTHER_SUBSTITUTIONS].sort());
  });

  it('retries transient errors on every Task and routes failures to Classify (cutover, smoke and phases through Rollback)', async () => {
    const states = allStates((await loadLocalDefinition()) as any);
    for (const [name, s] of Object.entries(states).filter(([, s]) => s.Type === 'Task')) {
      expect(s.Retry?.[0]?.ErrorEquals, name).toEqual([...TRANSIENT_ERRORS]);
      expect(s.TimeoutSeconds ?? s.TimeoutSecondsPath, name).toBeDefined();
      if (([STATES.backfillChunk, STATES.backfillChunkDistributed, STATES.gateChunk, STATES.gateChunkDistributed, STATES.commandSend, STATES.commandPoll, STATES.soakPoll] as string[]).includes(name)) continue; // caught by the enclosing Map
      const targets = new Set((s.Catch ?? []).map((c: any) => c.Next));
      const expected = ([STATES.cutover, STATES.smoke, STATES.phase, STATES.phaseGoNoGo] as string[]).includes(name) ? STATES.rollback : name === STATES.summary ? STATES.summaryFailed : name === STATES.rollback || name === STATES.classify ? null : STATES.classify;
      if (expected === null) expect([...targets].every((t) => t === STATES.classify || t === STATES.summary), name).toBe(true);
      else expect([...targets], name).toEqual([expected]);
    }
    for (const m of [STATES.backfillChunks, STATES.backfillChunksDistributed]) expect(states[m]!.Catch.map((c: any) => c.Next), m).toEqual([STATES.classify, STATES.classify]);
    expect(states[STATES.soak]!.Catch.map((c: any) => c.Next)).toEqual([STATES.rollback, STATES.rollback]);
    // The states that apply migrations follow a build that outlives an invocation (MigrationStillRunning) with invocations of their own;
    // GatePlan and the gate chunk tasks go on from what the last invocation kept (WorkStillRunning).
    const goesOn: string[] = [STATES.gatePlan, STATES.gateChunk, STATES.gateChunkDistributed];
    for (const [name, s] of Object.entries(states).filter(([, s]) => s.Type === 'Task'))
      expect(s.Retry?.[1], name).toEqual(name === STATES.schema || name === STATES.cutover || name === STATES.phase ? STILL_RUNNING_RETRY : goesOn.includes(name) ? WORK_STILL_RUNNING_RETRY : undefined);
  });

  it('holds exactly the Retry and Catch blocks generated from the error tables (npm run asl writes them)', () => {
    const def = JSON.parse(readFileSync(ASL_FILE, 'utf8'));
    expect(withErrorPolicy(def)).toEqual(def);
    // The check can fail: a Retry edited by hand, or a Catch on an iteration's Task, differs from the tables.
    const edited = structuredClone(def);
    edited.States[STATES.verify].Retry[0].MaxAttempts = 2;
    expect(withErrorPolicy(edited)).not.toEqual(edited);
    const inner = structuredClone(def);
    inner.States[STATES.backfillChunks].ItemProcessor.States[STATES.backfillChunk].Catch = [{ ErrorEquals: ['States.ALL'], Next: 'X' }];
    expect(withErrorPolicy(inner)).not.toEqual(inner);
  });

  it('waits at GoNoGo for a task token with a timeout from the spec', async () => {
    const s = JSON.parse(readFileSync(ASL_FILE, 'utf8')).States[STATES.goNoGo];
    expect(s.Resource).toBe('arn:aws:states:::lambda:invoke.waitForTaskToken');
    expect(s.TimeoutSecondsPath).toBe('$.spec.approval.timeoutSeconds');
    expect(s.HeartbeatSecondsPath).toBe('$.spec.approval.heartbeatSeconds');
    expect(s.Parameters.Payload['taskToken.$']).toBe('$$.Task.Token');
  });

  it('catches exactly the named errors whose classes carry those names', () => {
    const def = JSON.parse(readFileSync(ASL_FILE, 'utf8'));
    const caught = new Set<string>(def.States[STATES.preflight].Catch[0].ErrorEquals);
    expect([...caught].sort()).toEqual([...CAUGHT_ERRORS].sort());
    for (const name of CAUGHT_ERRORS) {
      const Cls = (errors as Record<string, any>)[name];
      expect(new Cls('x').name).toBe(name);
    }
  });
});
