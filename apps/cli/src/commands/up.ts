import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { UsageError } from '../output.ts';

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535)
    throw new InvalidArgumentError('must be a port number 0-65535');
  return parsed;
}

function count(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 64)
    throw new InvalidArgumentError('must be a whole number 0-64');
  return parsed;
}

/** `--import-root TEAM=DIR`, repeatable: the directories a team may register `path:` model sources from. */
function importRoot(value: string, previous: Record<string, string[]>): Record<string, string[]> {
  const index = value.indexOf('=');
  const team = value.slice(0, index);
  if (index <= 0 || index === value.length - 1 || !/^[a-z][a-z0-9-]{0,39}$/.test(team))
    throw new InvalidArgumentError(`takes TEAM=DIR, e.g. legal-rag=/srv/models/legal-rag; got '${value}'`);
  return { ...previous, [team]: [...(previous[team] ?? []), resolve(value.slice(index + 1))] };
}

/** `--slurm-account TEAM=ACCOUNT`, repeatable: the Slurm account a team's jobs are charged to (default: the team's name). */
function slurmAccount(value: string, previous: Record<string, string>): Record<string, string> {
  const match = /^([a-z][a-z0-9-]{0,39})=([A-Za-z0-9_.-]+)$/.exec(value);
  if (!match)
    throw new InvalidArgumentError(
      `takes TEAM=ACCOUNT, the account being letters, digits, '_', '.' or '-', e.g. legal-rag=ml-legal; got '${value}'`,
    );
  return { ...previous, [match[1]!]: match[2]! };
}

/** A byte count: digits with an optional K, M, G or T (binary) suffix. */
function byteCount(value: string): number {
  const match = /^(\d+)\s*([KMGT]i?B?)?$/i.exec(value.trim());
  if (!match) throw new InvalidArgumentError('must be a size such as 20G, 500M or 1048576');
  const power = match[2] ? 'KMGT'.indexOf(match[2][0]!.toUpperCase()) + 1 : 0;
  const bytes = Number(match[1]) * 1024 ** power;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new InvalidArgumentError('must be a positive size');
  return bytes;
}

/** A repeatable option's values, in order. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `aicloud up`: the whole platform in the foreground on the embedded default. */
export function upCommand(): Command {
  return new Command('up')
    .description('start the platform in the foreground: API, portal and controllers in one process')
    .option('--data-dir <dir>', 'where the SQLite store, credentials and workloads live', './.aicloud')
    .option('--port <n>', 'port to listen on', port, 8787)
    .option('--host <host>', 'address to listen on (loopback unless you mean it)', '127.0.0.1')
    .option('--database-url <url>', 'use PostgreSQL (postgres://user:pass@host:5432/db) instead of SQLite')
    .option('--no-seed', 'do not seed the demo organisation on first start')
    .option('--log', 'log every request as JSON lines')
    .option(
      '--slurm-partition <name>',
      'also run jobs on the Slurm cluster this host reaches (jobs with --executor slurm)',
    )
    .option(
      '--slurm-account <team=account>',
      'the Slurm account (--account) TEAM’s jobs are charged to, instead of the account named like the team (repeatable)',
      slurmAccount,
      {},
    )
    .option(
      '--seed-file <file>',
      'the organisation to seed on first start (default: the demo, seed/demo.yaml)',
    )
    .option('--catalog-dir <dir>', 'folder of product YAML files (default: the shipped catalog/)')
    .option('--policies-dir <dir>', 'folder of Cedar policies and schema (default: the shipped policies/)')
    .option(
      '--webhook-allow-host <host>',
      'a host budget webhooks may go to: a name (*.example.com for subdomains), an IP address or a CIDR range; loopback and private addresses only when listed as addresses (repeatable; default: none)',
      collect,
      [],
    )
    .option(
      '--import-root <team=dir>',
      'a directory TEAM may register path: model sources from, besides DATA_DIR/imports/TEAM (repeatable)',
      importRoot,
      {},
    )
    .option('--import-max-bytes <size>', 'cap on what one model registration copies (default 20G)', byteCount)
    .option(
      '--otlp-endpoint <url>',
      'export OpenTelemetry metrics and traces over OTLP/HTTP to this collector (http://host:4318); /metrics serves them either way',
    )
    .option(
      '--gateway-workers <n>',
      'serve the OpenAI data plane from N worker processes on --gateway-port (keys, limits, quotas and metering stay exact: this process admits every request)',
      count,
      0,
    )
    .option('--gateway-port <n>', 'port the gateway workers listen on', port, 8788)
    .option(
      '--allow-shared-uid',
      "where workloads cannot be sandboxed (not root, no bubblewrap), run several teams' workloads as the server's own user anyway",
    )
    .action(
      async (options: {
        dataDir: string;
        port: number;
        host: string;
        databaseUrl?: string;
        seed: boolean;
        seedFile?: string;
        slurmPartition?: string;
        slurmAccount: Record<string, string>;
        catalogDir?: string;
        policiesDir?: string;
        webhookAllowHost: string[];
        log?: boolean;
        importRoot: Record<string, string[]>;
        importMaxBytes?: number;
        allowSharedUid?: boolean;
        otlpEndpoint?: string;
        gatewayWorkers: number;
        gatewayPort: number;
      }) => {
        if (!options.slurmPartition && Object.keys(options.slurmAccount).length > 0)
          throw new UsageError('--slurm-account needs --slurm-partition');
        const { startServer, ensurePortalBuilt, shipped } = await import('@aicloud/server');
        const say = (line: string) => process.stdout.write(`${line}\n`);
        if (!existsSync('/usr/bin/jupyter-notebook'))
          process.stderr.write(
            'warning: notebooks need Jupyter, and /usr/bin/jupyter-notebook is missing: install it with `sudo apt-get install jupyter-notebook`\n',
          );
        const banner: string[] = [];
        const webRoot = await ensurePortalBuilt(say);
        const seedFile = options.seedFile ? resolve(options.seedFile) : shipped.seedFile;
        const server = await startServer({
          host: options.host,
          port: options.port,
          dataDir: options.dataDir,
          databaseUrl: options.databaseUrl,
          seedFile: options.seed && existsSync(seedFile) ? seedFile : null,
          ...(options.catalogDir ? { catalogDir: resolve(options.catalogDir) } : {}),
          ...(options.slurmPartition
            ? { slurm: { partition: options.slurmPartition, accounts: options.slurmAccount } }
            : {}),
          ...(options.policiesDir ? { policiesDir: resolve(options.policiesDir) } : {}),
          webhookAllowedHosts: options.webhookAllowHost,
          importRoots: options.importRoot,
          ...(options.importMaxBytes ? { importMaxBytes: options.importMaxBytes } : {}),
          webRoot,
          logger: options.log ?? false,
          allowSharedUid: options.allowSharedUid ?? false,
          ...(options.otlpEndpoint ? { telemetry: { otlpEndpoint: options.otlpEndpoint } } : {}),
          gatewayWorkers: options.gatewayWorkers,
          gatewayPort: options.gatewayPort,
        });
        const credentials = join(options.dataDir, 'credentials.json');
        const relativePath = relative(process.cwd(), credentials);
        const shown = relativePath.startsWith('..') ? resolve(credentials) : `./${relativePath}`;
        banner.push(`aicloud is up at ${server.url}`);
        banner.push(`  portal  ${server.url}/`);
        banner.push(`  api     ${server.url}/v1  (OpenAPI: ${server.url}/v1/openapi.json)`);
        if (server.gatewayUrl)
          banner.push(
            `  openai  ${server.gatewayUrl}/v1  (${options.gatewayWorkers} gateway workers; the OpenAI API, at line rate)`,
          );
        banner.push(`  store   ${server.platform.store.describe}`);
        banner.push(`  ${server.isolation}`);
        if (server.platform.seed.seeded)
          banner.push(`  seeded the demo organisation: ${server.platform.seed.users.join(', ')}`);
        if (existsSync(credentials)) {
          banner.push(
            'Sign in: open the portal and paste a token from the credentials file, or from a shell:',
          );
          banner.push(
            `  npx aicloud login --url ${server.url} --token "$(node -p "require('${shown}').alice.token")"`,
          );
        }
        banner.push(
          'Stop with Ctrl-C (or SIGTERM): jobs, notebooks and model replicas keep running and are re-attached on the next start; `aicloud down` stops them too.',
        );
        // One write, so whoever watches the output sees the whole banner at once.
        say(banner.join('\n'));
        let stopping = false;
        const stop = (signal: string) => {
          if (stopping) return;
          stopping = true;
          say(
            server.downRequested()
              ? `${signal} from aicloud down: stopping running jobs, notebooks and model replicas, then closing the store…`
              : `${signal}: finishing in-flight requests and closing the store; running jobs, notebooks and model replicas keep running and are re-attached on the next start (aicloud down stops them too)…`,
          );
          server.stop().then(
            () => process.exit(0),
            (error: unknown) => {
              process.stderr.write(`error while stopping: ${(error as Error).message}\n`);
              process.exit(1);
            },
          );
        };
        process.on('SIGTERM', () => stop('SIGTERM'));
        process.on('SIGINT', () => stop('SIGINT'));
      },
    );
}
