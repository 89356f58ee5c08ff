#!/usr/bin/env node
// Compiles the CLI to JavaScript in apps/cli/dist (`npm run build:cli`; the root's `prepare`, so `npm ci` runs it).
// Two parts, each checked against its own sources by bin/staleness.mjs before it runs:
//   - cli: apps/cli/src/main.ts with the workspace packages it imports (@aicloud/client, contracts, policy) and
//     commander, as ESM split at every dynamic import(): each command module is its own chunk, loaded when its
//     command runs; other packages from node_modules (zod, openai, Cedar's WASM…) stay external, so they load
//     only with the commands that import them;
//   - server: @aicloud/server with core and executors (what `aicloud up` runs) in dist/server/index.mjs, loaded
//     through dist/server.mjs, which falls back to the server's sources through tsx when they changed since.
// dist/manifest.json lists each part's sources with a hash of their contents, and when the build started.
// Decision: docs/decisions/2026-12-04-cli-startup.md.
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { build } from 'esbuild';

const cliDir = resolve(import.meta.dirname, '..');
const repoRoot = resolve(cliDir, '../..');
const outDir = join(cliDir, 'dist');
/** Packages from node_modules bundled too: every command loads commander, and one file loads faster than its CommonJS. */
const bundled = new Set(['commander']);
const builtins = new Set(builtinModules);

/** The package name of a bare import (`@scope/name/sub` → `@scope/name`). */
function packageName(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** The folder Node finds `name` in when importing it from `fromDir` (the node_modules lookup), or null. */
function packageDir(name, fromDir) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dirname(dir) === dir) return null;
  }
}

/**
 * Bundles the workspace's packages (and commander); keeps every other package external, by its bare name, after
 * checking that Node finds the same package from dist/ as from the source that imports it. In the cli part,
 * @aicloud/server becomes ./server.mjs.
 */
function externals(part, outdir) {
  return {
    name: 'aicloud-externals',
    setup(esbuild) {
      esbuild.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith('node:') || builtins.has(args.path))
          return { path: args.path, external: true };
        const name = packageName(args.path);
        if (part === 'cli' && args.path === '@aicloud/server')
          return { path: './server.mjs', external: true };
        if (bundled.has(name) || name.startsWith('@aicloud/')) return undefined;
        const fromSource = packageDir(name, args.resolveDir);
        const fromDist = packageDir(name, outdir);
        if (!fromSource || fromSource !== fromDist)
          return {
            errors: [
              {
                text: `${args.path} resolves to ${fromSource ?? 'nothing'} from ${relative(repoRoot, args.importer)} but to ${fromDist ?? 'nothing'} from ${relative(repoRoot, outdir)}`,
              },
            ],
          };
        return { path: args.path, external: true };
      });
    },
  };
}

/**
 * Keeps `import.meta.dirname`, `.filename` and `.url` meaning the source file's own location once bundled (the
 * server finds the shipped catalog/ and policies/ from it, demo.ts the bin).
 */
function sourceLocation(outdir) {
  return {
    name: 'aicloud-source-location',
    setup(esbuild) {
      esbuild.onLoad({ filter: /\.ts$/ }, (args) => {
        const source = readFileSync(args.path, 'utf8');
        if (!source.includes('import.meta.')) return undefined;
        const url = `new URL(${JSON.stringify(relative(outdir, args.path).split(sep).join('/'))}, import.meta.url)`;
        const located = {
          dirname: `__aicloudDirname(__aicloudFileURLToPath(${url}))`,
          filename: `__aicloudFileURLToPath(${url})`,
          url: `${url}.href`,
        };
        const contents = source.replace(
          /\bimport\.meta\.(dirname|filename|url)\b/g,
          (_, key) => located[key],
        );
        return {
          contents: `import { dirname as __aicloudDirname } from 'node:path';\nimport { fileURLToPath as __aicloudFileURLToPath } from 'node:url';\n${contents}`,
          loader: 'ts',
        };
      });
    },
  };
}

/**
 * commander requires node:child_process when it loads, for executable subcommands, which aicloud has none of:
 * loading it costs about a tenth of starting Node, so it is required on first use instead.
 */
const lazyChildProcess = {
  name: 'aicloud-lazy-child-process',
  setup(esbuild) {
    esbuild.onLoad({ filter: /[\\/]node_modules[\\/]commander[\\/]lib[\\/]command\.js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      const eager = "const childProcess = require('node:child_process');";
      if (!source.includes(eager))
        return { contents: source, loader: 'js', warnings: [{ text: `no '${eager}' to make lazy` }] };
      const lazy =
        "const childProcess = { spawn: (...args) => require('node:child_process').spawn(...args) };";
      return { contents: source.replace(eager, lazy), loader: 'js' };
    });
  },
};

/** Builds one part into `outdir`; its sources, relative to the repository, and a hash of their contents. */
async function buildPart(part, entryPoints, outdir, options) {
  const result = await build({
    absWorkingDir: repoRoot,
    entryPoints,
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20.19',
    outExtension: { '.js': '.mjs' },
    chunkNames: '[name]-[hash]',
    // Function and class names as in the sources (bundling renames clashing top-level names).
    keepNames: true,
    sourcemap: 'linked',
    sourcesContent: false,
    legalComments: 'none',
    // Bundled CommonJS (commander) calls require() for Node's modules: give it Node's.
    banner: {
      js: "import { createRequire as __aicloudCreateRequire } from 'node:module';\nconst require = __aicloudCreateRequire(import.meta.url);",
    },
    metafile: true,
    logLevel: 'warning',
    plugins: [externals(part, outdir), sourceLocation(outdir), lazyChildProcess],
    ...options,
  });
  const inputs = Object.keys(result.metafile.inputs)
    .filter((input) => !input.includes(':'))
    .map((input) => input.split(sep).join('/'))
    .sort();
  const hash = createHash('sha256');
  for (const input of inputs)
    hash
      .update(input)
      .update('\0')
      .update(readFileSync(join(repoRoot, input)))
      .update('\0');
  return { inputs, hash: hash.digest('hex'), metafile: result.metafile };
}

const startedAt = Date.now();
const staging = `${outDir}.${process.pid}.tmp`;
rmSync(staging, { recursive: true, force: true });
const cli = await buildPart('cli', { main: join(cliDir, 'src/main.ts') }, staging, { splitting: true });
const server = await buildPart(
  'server',
  { index: join(repoRoot, 'apps/server/src/index.ts') },
  join(staging, 'server'),
  // The server knows it runs compiled: its gateway workers then load this build too, not the sources.
  { define: { __AICLOUD_SERVER_BUNDLE__: 'true' } },
);
// @aicloud/server for the compiled CLI: the compiled server while it is up to date, else its sources (tsx).
const serverExports =
  Object.values(server.metafile.outputs).find((output) => output.entryPoint)?.exports ?? [];
writeFileSync(
  join(staging, 'server.mjs'),
  `// Generated by apps/cli/scripts/build.mjs: @aicloud/server for the compiled CLI. The compiled server
// (./server/index.mjs) while it is up to date with its sources, else the sources through tsx.
import { staleness } from '../bin/staleness.mjs';

const stale = await staleness('server');
if (stale && process.env.AICLOUD_CLI_DEBUG)
  process.stderr.write(\`aicloud: running the server's sources through tsx (\${stale})\\n\`);
if (stale) (await import('tsx/esm/api')).register();
const server = stale ? await import('@aicloud/server') : await import('./server/index.mjs');
export const { ${serverExports.join(', ')} } = server;
`,
);
writeFileSync(
  join(staging, 'manifest.json'),
  `${JSON.stringify(
    {
      builtAt: startedAt,
      parts: {
        cli: { hash: cli.hash, inputs: cli.inputs },
        server: { hash: server.hash, inputs: server.inputs },
      },
    },
    null,
    2,
  )}\n`,
);
// Swap the new build in whole: a CLI starting meanwhile finds the old dist, the new one, or none (and runs the sources).
mkdirSync(outDir, { recursive: true });
const previous = `${outDir}.${process.pid}.old`;
renameSync(outDir, previous);
renameSync(staging, outDir);
rmSync(previous, { recursive: true, force: true });
const files = [cli, server]
  .flatMap((part) => Object.keys(part.metafile.outputs))
  .filter((file) => file.endsWith('.mjs'));
process.stdout.write(
  `aicloud CLI built: apps/cli/dist, ${files.length} files from ${cli.inputs.length} sources (cli) and ${server.inputs.length} (server) in ${Date.now() - startedAt} ms\n`,
);
