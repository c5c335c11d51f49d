/**
 * The approval page in a real browser (Debian's Chromium driven by
 * playwright-core): GET shows the form and decides nothing; a valid POST
 * approves once and the run goes on; a replayed POST and a tampered signature
 * are refused; a reject stops the run. Screenshots are kept in test-artifacts/.
 */
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS, BROWSER_TESTS, launchChromium } from '../support/browser';
import { type LocalRunResult, runLocal } from '../../cli/runner/run';
import { exists, miniSpec, readJson, tempDir } from '../support/local-run';

let browser: Browser;

beforeAll(async () => {
  if (BROWSER_TESTS) browser = await launchChromium();
}, 60_000);
afterAll(() => browser?.close());

/** Start a run whose go/no-go waits for the page; resolves the signed link once it is sent. */
async function startRun(runId: string, approvers: string[] = []): Promise<{ link: string; links: Record<string, string>; done: Promise<LocalRunResult>; evidence: string }> {
  const evidenceDir = await tempDir();
  const spec = await miniSpec({ runId });
  // M of N only with named approvers: each gets a personal link whose signature names them.
  if (approvers.length) spec.approval = { ...spec.approval, approvers, required: approvers.length };
  const links: Record<string, string> = {};
  let resolveLinks!: () => void;
  const sent = new Promise<void>((r) => {
    resolveLinks = r;
  });
  const done = runLocal({
    spec,
    evidenceDir,
    workDir: await tempDir('cutline-work-'),
    approval: { kind: 'page-only' },
    out: (l) => {
      const m = /Go \/ no-go for \S+(?: \((\S+)\))?: open (http:\/\/127\.0\.0\.1:\d+\/approve\?\S+)/.exec(l);
      if (!m) return;
      links[m[1] ?? ''] = m[2]!;
      if (Object.keys(links).length >= Math.max(1, approvers.length)) resolveLinks();
    },
  });
  await sent;
  return { link: links[approvers[0] ?? '']!, links, done, evidence: path.join(evidenceDir, runId) };
}

describe.runIf(BROWSER_TESTS)('approval page in Chromium', () => {
  it('GET decides nothing; each approval counts once (2 of 2 needed); a replay and a tampered link are refused; the run goes on', async () => {
    const { link, links, done, evidence } = await startRun('browser-approve', ['alice@example.com', 'bob@example.com']);
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(link);
    expect(await page.locator('h1').textContent()).toMatch(/Go \/ no-go for run browser-approve/);
    expect(await page.locator('form button[value="approve"]').count()).toBe(1);
    await page.screenshot({ path: path.join(ARTIFACTS, 'approval-page.png'), fullPage: true });
    await page.reload(); // a mail scanner fetching the link twice
    expect(await exists(path.join(evidence, '09_approval.json'))).toBe(false);

    // a tampered signature: refused with a page and a 403
    const bad = new URL(link);
    bad.searchParams.set('sig', `${bad.searchParams.get('sig')!.slice(0, -2)}xx`);
    const tampered = await browser.newPage();
    const resp = await tampered.goto(bad.toString());
    expect(resp!.status()).toBe(403);
    expect(await tampered.locator('body').textContent()).toContain('the link signature does not match');

    // alice's own link: it names her; there is no name to type
    expect(await page.locator('input[name="approver"]').count()).toBe(0);
    expect(await page.locator('body').textContent()).toContain('You decide as alice@example.com');
    await page.fill('textarea[name="comment"]', 'looks good');
    const [post] = await Promise.all([page.waitForNavigation(), page.click('button[value="approve"]')]);
    expect(post!.status()).toBe(200);
    expect(await page.locator('h1').textContent()).toBe('Approval recorded: 1 of 2');

    // the same approver again (back, resubmit): single-use
    await page.goBack();
    const [replay] = await Promise.all([page.waitForNavigation(), page.click('button[value="approve"]')]);
    expect(replay!.status()).toBe(409);
    expect(await page.locator('body').textContent()).toContain('already decided');

    await page.goto(links['bob@example.com']!);
    const [second] = await Promise.all([page.waitForNavigation(), page.click('button[value="approve"]')]);
    expect(second!.status()).toBe(200);
    expect(await page.locator('h1').textContent()).toBe('Approved: GO');

    const r = await done;
    expect(r.outcome).toBe('GO');
    expect((await readJson(path.join(r.evidenceDir, '09_approval.json'))).details).toMatchObject({ approvers: ['alice@example.com', 'bob@example.com'], decision: 'approve', required: 2 });
    expect(errors).toEqual([]);
  }, 120_000);

  it('Reject stops the run: NO_GO / APPROVAL_REJECTED, no cutover', async () => {
    const { link, done } = await startRun('browser-reject');
    const page = await browser.newPage();
    await page.goto(link);
    await page.fill('input[name="approver"]', 'bob@example.com');
    await page.fill('textarea[name="comment"]', 'row counts look off');
    await Promise.all([page.waitForNavigation(), page.click('button[value="reject"]')]);
    expect(await page.locator('h1').textContent()).toBe('Rejected: NO-GO');
    await page.screenshot({ path: path.join(ARTIFACTS, 'approval-rejected.png') });
    const r = await done;
    expect([r.outcome, r.classification]).toEqual(['NO_GO', 'APPROVAL_REJECTED']);
    expect(await exists(path.join(r.evidenceDir, '10_cutover.json'))).toBe(false);
  }, 120_000);
});
