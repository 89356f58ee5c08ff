#!/usr/bin/env node
// The `aicloud` command. Start-up is most of what a CLI call costs, so this file loads as little as it can:
// `--version` is answered before anything else; otherwise it runs the compiled CLI in ../dist (built at
// `npm ci` by the root's `prepare`, or `npm run build:cli`) when that build is up to date with the sources it
// was made from, and else the TypeScript sources through tsx, so `npx aicloud` works right after a checkout
// and while the sources are being edited. AICLOUD_CLI_SOURCES=1 always runs the sources; AICLOUD_CLI_DEBUG=1
// says on stderr which way it went and why. Decision: docs/decisions/2026-12-04-cli-startup.md.
import { readFileSync } from 'node:fs';

const command = process.argv[2];
if (command === '--version' || command === '-V') {
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`${version}\n`);
} else {
  const stale = process.env.AICLOUD_CLI_SOURCES
    ? 'AICLOUD_CLI_SOURCES is set'
    : await (await import('./staleness.mjs')).staleness('cli');
  if (process.env.AICLOUD_CLI_DEBUG)
    process.stderr.write(
      `aicloud: ${stale ? `running the sources through tsx (${stale})` : 'running dist/'}\n`,
    );
  if (stale) {
    const { register } = await import('tsx/esm/api');
    register();
    const { main } = await import('../src/main.ts');
    await main(process.argv);
  } else {
    const { main } = await import('../dist/main.mjs');
    await main(process.argv);
  }
}
