import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** Launches Debian's headless Chromium with the flags that work on these machines (no downloads); Playwright gives each launch a fresh, empty profile. */
export function launchChromium(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath))
    throw new Error(
      `Chromium is missing (${executablePath}): run \`npm test\` as root (its pretest installs Debian's ` +
        'chromium) or `sudo apt-get install chromium`',
    );
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
