/** $.results typed: what a later stage reads is checked at the boundary, and nothing a stage wrote is dropped. */
import { describe, expect, it } from 'vitest';
import { PayloadParseError } from '../../lambdas/core/errors';
import { parsePayload } from '../../lambdas/core/payloads';
import { required, Results } from '../../lambdas/core/stage-results';

const verify = { mode: 'source-vs-target', tables: [{ table: 'orders', expected: '10', actual: '10' }], assertions: [], backfill: [{ task: 't', chunks: 2, skipped: 0, rows: 10 }] };

describe('stage results', () => {
  it('keeps every field a stage wrote, named by a schema or not (the history and evidence see the state as written)', () => {
    const raw = { verify: { ...verify, newField: { x: 1 } }, backfillPlan: { chunks: 12 }, smoke: { ok: true } };
    expect(parsePayload(Results, 'Gates', raw)).toEqual(raw);
  });

  it('a result a later stage would misread fails at the boundary, naming the field and what was expected', () => {
    const bad = { verify: { ...verify, tables: [{ table: 'orders', expected: 10, actual: '10' }] } };
    expect(() => parsePayload(Results, 'Gates', bad)).toThrow(PayloadParseError);
    expect(() => parsePayload(Results, 'Gates', bad)).toThrow(/verify\.tables\[0\]\.expected/);
  });

  it('a stage that needs an earlier result and does not find it says which one', () => {
    expect(() => required(parsePayload(Results, 'Decide', { verify }), 'gates', 'Decide')).toThrow('Decide needs the result of gates at $.results.gates; expected the state machine to run gates first');
    expect(required(parsePayload(Results, 'Decide', { verify }), 'verify', 'Decide').tables[0]!.table).toBe('orders');
  });
});
