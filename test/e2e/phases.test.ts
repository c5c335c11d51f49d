/**
 * A progressive cutover on the local runner (the deployed definition): phases after the smoke checks, each with its
 * actions and a soak polled by monitors in child executions. GO through every phase; a monitor that fails its
 * windows rolls back every applied phase in reverse order (each parameter back to its value before), and no later
 * phase is applied.
 */
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/commands';
import { EXIT } from '../../cli/io';
import { runLocal } from '../../cli/runner/run';
import { miniSpec, readJson, tempDir } from '../support/local-run';

const TRAFFIC = '/cloudbackup/prod/traffic';

async function phasedSpec(runId: string, fullMonitorSql: string) {
  const spec = await miniSpec({ runId });
  const params = path.join(await tempDir('cutline-params-'), 'parameters.json');
  await writeFile(params, JSON.stringify({ ...(await readJson(path.resolve(import.meta.dirname, '../../examples/agent-uuid/parameters.json'))), [TRAFFIC]: 'v4' }));
  spec.local.parameters = params;
  // CloudWatch alarms stand in as a file on a local run.
  spec.local.alarms = path.join(path.dirname(params), 'alarms.json');
  await writeFile(spec.local.alarms, JSON.stringify({ 'canary-p95-latency': 'OK' }));
  spec.checks.push(
    { name: 'every agent has a uuid', at: 'phase', sql: { sql: 'SELECT agent_id FROM s3_cloudbackup_agents WHERE agent_uuid IS NULL LIMIT 5' } },
    { name: 'canary error budget', at: 'phase', sql: { sql: 'SELECT 0 AS errors', expect: { max: 0 } } },
  );
  spec.phases = [
    {
      name: 'canary',
      exitChecks: ['canary error budget'],
      actions: [{ type: 'parameter', name: TRAFFIC, value: 'canary' }],
      soak: {
        seconds: 2,
        pollSeconds: 1,
        monitors: [
          { name: 'agents-healthy', sql: { sql: 'SELECT agent_id FROM s3_cloudbackup_agents WHERE agent_uuid IS NULL LIMIT 5' } },
          { name: 'canary-p95', alarm: { name: 'canary-p95-latency' } },
          { name: 'workers-up', command: { script: 'exit 0' } },
        ],
      },
    },
    {
      name: 'default',
      approval: { timeoutSeconds: 600 },
      actions: [{ type: 'parameter', name: TRAFFIC, value: 'default' }],
      soak: { seconds: 3, pollSeconds: 1, monitors: [{ name: 'errors', failAfter: 2, sql: { sql: fullMonitorSql, expect: { max: 0 } } }] },
    },
    // The key swap (the demo's contract files) only in the last phase: Cutover applies none of them.
    { name: 'full', entryChecks: ['every agent has a uuid'], actions: [{ type: 'parameter', name: TRAFFIC, value: 'v5' }], contract: ['4', '5'] },
  ];
  return spec;
}

async function run(spec: Record<string, any>) {
  const workDir = await tempDir('cutline-work-');
  const r = await runLocal({ spec, evidenceDir: await tempDir(), workDir, approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, out: () => {} });
  const params = await readJson(path.join(workDir, spec.runId, 'parameters.json'));
  return { ...r, params };
}

describe('phases', () => {
  it('GO through every phase: each applied, soaked and recorded, the selector at its last value', async () => {
    const r = await run(await phasedSpec('phases-go', 'SELECT 0 AS errors'));
    expect([r.outcome, r.classification], r.reason).toEqual(['GO', 'GO']);
    expect(r.params[TRAFFIC]).toBe('v5');
    const canary = await readJson(path.join(r.evidenceDir, '13_phases/01_canary.json'));
    expect(canary).toMatchObject({ phase: 'canary', result: 'PASS', decision: 'NEXT', soak: { seconds: 2, pollSeconds: 1, polls: 3 } });
    expect(canary.actions[0]).toMatchObject({ ok: true, previous: 'v4', detail: `${TRAFFIC}: "v4" -> "canary"` });
    expect((await readdir(path.join(r.evidenceDir, '13_phases/01_canary/polls'))).sort()).toEqual(['000001.json', '000002.json', '000003.json']);
    expect((await readJson(path.join(r.evidenceDir, '13_phases/01_canary/polls/000003.json'))).windows.map((w: { monitor: string; ok: boolean; detail: string }) => [w.monitor, w.ok, w.detail])).toEqual([
      ['agents-healthy', true, 'no rows, as expected'],
      ['canary-p95', true, 'alarm canary-p95-latency is OK'],
      ['workers-up', true, 'exit 0'],
    ]);
    expect((await readJson(path.join(r.evidenceDir, '13_phases/02_default/polls/000004.json'))).windows).toEqual([{ monitor: 'errors', ok: true, detail: 'value 0 within -∞ <= value <= 0', value: 0 }]);
    const full = await readJson(path.join(r.evidenceDir, '13_phases/03_full.json'));
    expect(full).toMatchObject({ result: 'PASS', decision: 'DONE', soak: null });
    // The phase applied the contract versions it names, with the migration history; Cutover applied none.
    expect(full.contract.applied.map((a: { script: string }) => a.script)).toEqual(['V4__uuid_swap_group_1.sql', 'V5__uuid_validate_group_1.sql']);
    expect((await readJson(path.join(r.evidenceDir, '10_cutover.json'))).details.contract.files).toEqual([]);
    // The default phase's own sign-off, before its actions: requested, decided, recorded in the phase's folder and record.
    const asked = await readJson(path.join(r.evidenceDir, '13_phases/02_default/approval_request.json'));
    expect(asked).toMatchObject({ summary: 'sign-off for phase 2 of 3, default: phase 1 (canary) applied and soaked without a tripped monitor', goActions: [`set parameter ${TRAFFIC} = "default"`] });
    const signed = await readJson(path.join(r.evidenceDir, '13_phases/02_default/approval.json'));
    expect(signed).toMatchObject({ result: 'PASS', command: 'phase default sign-off approve via auto-approve flag', details: { approvers: ['a'] } });
    expect((await readJson(path.join(r.evidenceDir, '13_phases/02_default.json'))).signedOff).toMatchObject({ result: 'PASS', approvers: ['a'] });
    expect(canary.signedOff).toBeUndefined();
    // Exit criteria after the soak, entry checks before the actions, in the phases' records.
    expect(canary.exitChecks.map((c: { name: string; ok: boolean }) => [c.name, c.ok])).toEqual([['canary error budget', true]]);
    expect((await readJson(path.join(r.evidenceDir, '13_phases/03_full.json'))).entryChecks.map((c: { name: string; ok: boolean }) => [c.name, c.ok])).toEqual([['every agent has a uuid', true]]);
    // The approver saw every phase in "GO will".
    const request = await readJson(path.join(r.evidenceDir, '09_approval_request.json'));
    expect(request.goActions.slice(-3)).toEqual([
      `phase 1 of 3, canary: set parameter ${TRAFFIC} = "canary"; then soak 2 s watching agents-healthy (rolls back after 3 failing window(s)), canary-p95 (rolls back after 3 failing window(s)), workers-up (rolls back after 3 failing window(s))`,
      `phase 2 of 3, default: set parameter ${TRAFFIC} = "default"; then soak 3 s watching errors (rolls back after 2 failing window(s))`,
      `phase 3 of 3, full: set parameter ${TRAFFIC} = "v5"`,
    ]);
    // The report: the phase timeline, the checklist and each monitor's windows.
    const report = await readFile(path.join(r.evidenceDir, 'report.html'), 'utf8');
    expect(report).toContain('<section id="phases"><h2>Phases</h2>');
    expect(report).toMatch(/<td data-label="phase">default<\/td><td data-label="item">sign-off<\/td><td data-label="result"><span class="b ok">PASS<\/span>/);
    expect(report).toMatch(/<td data-label="item">monitor: errors<\/td><td data-label="result"><span class="b ok">PASS<\/span><\/td><td data-label="measured">held through the soak/);
    expect(report).toContain('<figcaption>errors: 4 window(s), 0 failing</figcaption>');
    expect(r.reason).toBe('every gate passed, approved, cut over, smoke checks passed, 3 phase(s) applied and soaked');
    const record = await readJson(path.join(r.evidenceDir, '13_phases.json'));
    expect(record.details.phases.map((p: { phase: string }) => p.phase)).toEqual(['canary', 'default', 'full']);
  }, 180_000);

  it('a monitor failing 2 windows in a row during the default soak: ROLLED_BACK (cause MONITOR_TRIPPED), both phases undone in reverse, full never applied', async () => {
    const r = await run(await phasedSpec('phases-trip', 'SELECT 3 AS errors'));
    expect([r.outcome, r.classification], r.reason).toEqual(['NO_GO', 'ROLLED_BACK']);
    const classify = await readJson(path.join(r.evidenceDir, '90_classify.json'));
    expect(classify.details).toMatchObject({ cause_classification: 'MONITOR_TRIPPED', stage: 'Phase' });
    expect(classify.details.reason).toContain('phase "default" (2 of 3): monitor "errors" failed 2 window(s) in a row');
    const tripped = await readJson(path.join(r.evidenceDir, '13_phases/02_default/tripped.json'));
    expect(tripped).toMatchObject({ phase: 'default', monitor: 'errors', failAfter: 2, poll: 2 });
    expect(tripped.windows.map((w: { poll: number; value: number; ok: boolean }) => [w.poll, w.value, w.ok])).toEqual([
      [1, 3, false],
      [2, 3, false],
    ]);
    // Undone last applied first, then the run's own rollback; the selector is back where it was before the phases.
    const rb = await readJson(path.join(r.evidenceDir, '12_rollback.json'));
    expect(rb.details.actions.slice(0, 2).map((a: { description: string; ok: boolean }) => [a.description, a.ok])).toEqual([
      [`phase default: ${TRAFFIC} back to "canary"`, true],
      [`phase canary: ${TRAFFIC} back to "v4"`, true],
    ]);
    expect(r.params[TRAFFIC]).toBe('v4');
    expect(r.params['/cloudbackup/prod/agent-identity']).toBe('agent_id');
    await expect(readdir(path.join(r.evidenceDir, '13_phases/03_full'))).rejects.toThrow();
    expect((await readJson(path.join(r.evidenceDir, '13_phases/02_default.json'))).result).toBe('FAIL');
    // The last phase's key swap never ran: nothing of it to undo.
    expect((await readJson(path.join(r.evidenceDir, '10_cutover.json'))).details.contract.applied).toEqual([]);
    const report = await readFile(path.join(r.evidenceDir, 'report.html'), 'utf8');
    expect(report).toMatch(/<td data-label="item">monitor: errors<\/td><td data-label="result"><span class="b bad">FAIL<\/span><\/td><td data-label="measured">tripped at poll 2 \(2 failing window\(s\) in a row\)/);
    expect(report).toContain('<figcaption>errors: 2 window(s), 2 failing</figcaption>');
  }, 180_000);

  it('exit criteria that fail after the canary soak: ROLLED_BACK (cause SMOKE_FAILED), the canary undone, no later phase applied', async () => {
    const spec = await phasedSpec('phases-exit', 'SELECT 0 AS errors');
    spec.checks.find((c: { name: string }) => c.name === 'canary error budget').sql.sql = 'SELECT 7 AS errors';
    spec.phases[0].soak.seconds = 1;
    const r = await run(spec);
    expect([r.outcome, r.classification], r.reason).toEqual(['NO_GO', 'ROLLED_BACK']);
    expect((await readJson(path.join(r.evidenceDir, '90_classify.json'))).details.cause_classification).toBe('SMOKE_FAILED');
    const canary = await readJson(path.join(r.evidenceDir, '13_phases/01_canary.json'));
    expect(canary).toMatchObject({ result: 'FAIL', decision: 'ROLLBACK' });
    expect(canary.exitChecks[0]).toMatchObject({ name: 'canary error budget', ok: false, detail: 'got 7; expected a number with -∞ <= value <= 0' });
    expect(r.params[TRAFFIC]).toBe('v4');
    await expect(readdir(path.join(r.evidenceDir, '13_phases/02_default'))).rejects.toThrow();
  }, 180_000);

  // The operator's word during a soak: `cutline abort|promote <runId>` while the canary soaks (60 s of polls each second).
  async function withWord(runId: string, action: 'abort' | 'promote') {
    const spec = await phasedSpec(runId, 'SELECT 0 AS errors');
    spec.phases[0].soak.seconds = 60;
    const workDir = await tempDir('cutline-work-');
    const evidenceRoot = await tempDir();
    const running = runLocal({ spec, evidenceDir: evidenceRoot, workDir, approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, out: () => {} });
    // Bounded: the first poll's record appears within the run's first minute, or the test fails.
    const firstPoll = path.join(evidenceRoot, runId, '13_phases/01_canary/polls/000001.json');
    for (let i = 0; i < 600 && !(await stat(firstPoll).catch(() => undefined)); i++) await new Promise((r) => setTimeout(r, 100));
    const t = { out: [] as string[], err: [] as string[] };
    const code = await main([action, runId, '--comment', `${action} from the test`, '--evidence-dir', evidenceRoot], { out: (l) => t.out.push(l), err: (l) => t.err.push(l), env: {} });
    expect(code, t.err.join('\n')).toBe(EXIT.OK);
    expect(t.out[0]).toMatch(new RegExp(`^${action} of phase canary of run ${runId} recorded as .+; the soak takes it at its next poll$`));
    // A second word on the same phase is refused: the first stands.
    const again = { out: [] as string[], err: [] as string[] };
    expect(await main(['abort', runId, '--comment', 'again', '--evidence-dir', evidenceRoot], { out: (l) => again.out.push(l), err: (l) => again.err.push(l), env: {} })).toBe(EXIT.BAD_INPUT);
    expect(again.err[0]).toContain(`phase canary of run ${runId} already has an operator's word: ${action} by`);
    const r = await running;
    const params = await readJson(path.join(workDir, runId, 'parameters.json'));
    const canary = await readJson(path.join(r.evidenceDir, '13_phases/01_canary.json'));
    const polls = (await readdir(path.join(r.evidenceDir, '13_phases/01_canary/polls'))).length;
    return { r, params, canary, polls };
  }

  it('cutline promote during the canary soak: the soak ends early, recorded with who, and the run goes on to GO', async () => {
    const { r, params, canary, polls } = await withWord('phases-promote', 'promote');
    expect([r.outcome, r.classification], r.reason).toEqual(['GO', 'GO']);
    expect(canary).toMatchObject({ result: 'PASS', operator: { action: 'promote', comment: 'promote from the test', via: 'cli (local login)' } });
    expect(polls).toBeLessThan(61);
    expect(params[TRAFFIC]).toBe('v5');
  }, 180_000);

  it('cutline abort during the canary soak: ROLLED_BACK (cause APPROVAL_REJECTED, naming who), the canary undone, nothing later applied', async () => {
    const { r, params, canary } = await withWord('phases-abort', 'abort');
    expect([r.outcome, r.classification], r.reason).toEqual(['NO_GO', 'ROLLED_BACK']);
    const classify = await readJson(path.join(r.evidenceDir, '90_classify.json'));
    expect(classify.details.cause_classification).toBe('APPROVAL_REJECTED');
    expect(classify.details.reason).toMatch(/^phase "canary" aborted by .+ via cli \(local login\) during its soak: abort from the test$/);
    expect(canary).toMatchObject({ result: 'FAIL', decision: 'ROLLBACK', operator: { action: 'abort' } });
    expect(params[TRAFFIC]).toBe('v4');
    await expect(readdir(path.join(r.evidenceDir, '13_phases/02_default'))).rejects.toThrow();
  }, 180_000);
});
