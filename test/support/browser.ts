/** Debian's Chromium driven by playwright-core, for the browser tests; screenshots go to test-artifacts/. */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = process.env.CUTLINE_CHROMIUM ?? '/usr/bin/chromium';
/** Browser tests run where Chromium is installed, and always in CI (where a missing Chromium is a failure, not a skip). */
export const BROWSER_TESTS = existsSync(CHROMIUM) || !!process.env.CI;
export const ARTIFACTS = path.resolve(import.meta.dirname, '../../test-artifacts');

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}; expected the Debian package chromium (.ci/run installs it)`);
  await mkdir(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
