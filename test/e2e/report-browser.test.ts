/**
 * report.html in a real browser (Debian's Chromium via playwright-core), on a
 * phone-sized viewport and offline: a GO run (timeline, charts, approval) and a
 * NO_GO run with differing keys (classification, gate tables). No request may
 * leave the file, the console stays clean, nothing overflows sideways.
 * Screenshots are kept in test-artifacts/.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS, BROWSER_TESTS, launchChromium } from '../support/browser';
import { runLocal } from '../../cli/runner/run';
import { pgliteClient } from '../../lambdas/adapters/local/sql-postgres';
import { miniSpec, tempDir } from '../support/local-run';

let browser: Browser;

beforeAll(async () => {
  if (BROWSER_TESTS) browser = await launchChromium();
}, 60_000);
afterAll(() => browser?.close());

const auto = { kind: 'auto' as const, decision: 'approve' as const, approver: 'dba@example.com', comment: 'counts and hashes match' };

/** Open a report like an auditor on a phone; returns the page plus what went wrong in it. */
async function open(file: string, shot: string) {
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const page = await ctx.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => {
    if (!r.url().startsWith('file:')) requests.push(r.url());
  });
  await page.goto(pathToFileURL(file).toString());
  const overflow = (await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')) as number;
  await page.screenshot({ path: path.join(ARTIFACTS, shot), fullPage: true });
  return { page, ctx, errors, requests, overflow };
}

describe.runIf(BROWSER_TESTS)('report.html in headless Chromium', () => {
  it('GO run: outcome, stage timeline with durations, charts, counts and the approval record', async () => {
    const dir = await tempDir();
    const r = await runLocal({ spec: await miniSpec({ runId: 'report-go' }), evidenceDir: dir, workDir: await tempDir('cutline-work-'), approval: auto, out: () => {} });
    expect(r.outcome).toBe('GO');
    const { page, ctx, errors, requests, overflow } = await open(path.join(r.evidenceDir, 'report.html'), 'report-go.png');
    try {
      expect(await page.title()).toBe('cutline report-go: GO');
      expect(await page.locator('#outcome .b.ok').innerText()).toBe('GO');
      const steps = await page.locator('#timeline tbody tr td:first-child').allInnerTexts();
      expect(steps).toEqual(expect.arrayContaining(['01_validate', '02_preflight', '03_schema', '06_verify', '07_gates', '09_approval', '10_cutover', '99_summary']));
      expect(await page.locator('#timeline tbody tr td:nth-child(4)').first().innerText()).toMatch(/^\d+\.\d\d s$/);
      const charts = await page.locator('figure figcaption').allInnerTexts();
      expect(charts).toEqual(expect.arrayContaining(['Stage durations', 'Rows per table (after)', expect.stringMatching(/^Backfill rows\/s per chunk/)]));
      expect(await page.locator('figure svg rect').count()).toBeGreaterThan(10);
      expect(await page.locator('#gates tbody tr').first().innerText()).toMatch(/s3_cloudbackup_\w+\s+\d+\s+\d+\s+MATCH|PASS/);
      expect(await page.locator('#approval').innerText()).toContain('counts and hashes match');
      expect(await page.locator('#files').innerText()).toContain('manifest.json');
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
      expect(overflow).toBeLessThanOrEqual(0);
    } finally {
      await ctx.close();
    }
  }, 120_000);

  it('NO_GO run: classification, owner, retry time, unblock criteria and each differing key', async () => {
    const seed = `CREATE TABLE orders (id bigint PRIMARY KEY, note text);
INSERT INTO orders SELECT g, 'n' || g FROM generate_series(1, 3000) g;`;
    const src = await PGlite.create();
    const dst = await PGlite.create();
    try {
      for (const d of [src, dst]) await d.exec(seed);
      await dst.exec("DELETE FROM orders WHERE id = 1234; UPDATE orders SET note = 'x' WHERE id = 77");
      const spec = {
        version: 1,
        runId: 'report-nogo',
        owner: 'dba@example.com',
        tCutover: '2026-11-21T02:00:00Z',
        source: { engine: 'postgres', url: 'pglite://memory/src' },
        target: { engine: 'postgres', url: 'pglite://memory/dst' },
        verify: { tables: ['orders'] },
        gates: { methods: ['fast', 'exact'], tables: [{ table: 'orders' }], initialChunkRows: 500, maxChunkRows: 500 },
      };
      const clients = { 'pglite://memory/src': pgliteClient(src), 'pglite://memory/dst': pgliteClient(dst) };
      const r = await runLocal({ spec, evidenceDir: await tempDir(), workDir: await tempDir('cutline-work-'), clients, approval: auto, out: () => {} });
      expect([r.outcome, r.classification]).toEqual(['NO_GO', 'GATE_FAILED']);
      const { page, ctx, errors, requests, overflow } = await open(path.join(r.evidenceDir, 'report.html'), 'report-no-go.png');
      try {
        expect(await page.locator('#outcome .b.bad').allInnerTexts()).toEqual(['NO_GO', 'GATE_FAILED']);
        const header = await page.locator('header dl').innerText();
        for (const field of ['Stopped in', 'Owner', 'Retry at (UTC)', 'Unblock criteria']) expect(header).toContain(field);
        const diffs = await page.locator('#gates h3:has-text("Differing keys") + .t tbody tr').allInnerTexts();
        expect(diffs.map((d) => d.replace(/\s+/g, ' ').trim())).toEqual(['orders 77 changed note', 'orders 1234 missing']);
        expect(await page.locator('#approval').innerText()).toContain('No decision was asked for or given.');
        expect(errors).toEqual([]);
        expect(requests).toEqual([]);
        expect(overflow).toBeLessThanOrEqual(0);
      } finally {
        await ctx.close();
      }
    } finally {
      await src.close();
      await dst.close();
    }
  }, 120_000);
});
