// Headless Chromium for the dashboard's browser tests: the machine's Debian build, driven by playwright-core.
import { type Browser, chromium } from 'playwright-core';

/**
 * Launches the Debian Chromium headless, with a fresh profile; close it in `afterAll`.
 *
 * @example
 * ```ts
 * const browser = await launchChromium();
 * const page = await (await browser.newContext()).newPage();
 * ```
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
    ],
  });
}
