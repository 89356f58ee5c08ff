// Package boundaries (docs/decisions/2026-12-04-contract-routes.md), checked by `npm run lint:boundaries`
// (part of `npm run lint` and `npm run check`). Allowed edges between workspaces:
//   contracts            ← everything (zod only; browser-safe)
//   core                 → contracts, policy, executors (never fastify, the client or an app)
//   policy, executors    → contracts
//   client               → contracts (browser-safe)
//   sdk                  → client
//   apps/server          → any package
//   apps/cli             → client, contracts, policy, and the server for `aicloud up` (never core or executors)
//   apps/web             → client, contracts
// for each workspace's src/ (tests may start a server or open a store); nothing under packages/ imports apps/;
// no module cycles anywhere.
/** A workspace's sources (its tests may start a server or open a store to test against). */
const workspace = (name) => `^(packages|apps)/${name}/src/`;
const builtins = '^(node:|fs$|path$|os$|child_process$|crypto$|http$|https$|net$|stream$|url$|util$)';

/** Tests beside the sources may start a server or open a store to test against. */
const tests = '\\.test\\.tsx?$';

/** A forbidden edge: `from` a workspace's sources `to` any of the paths given. */
const forbid = (name, comment, from, to) => ({
  name,
  comment,
  severity: 'error',
  from: { path: from, pathNot: tests },
  to,
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'a module cycle: split the shared part out',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    forbid(
      'packages-not-to-apps',
      'a package imports an app: apps depend on packages, never back',
      '^packages/[^/]+/src/',
      {
        path: '^apps/',
      },
    ),
    forbid(
      'contracts-only-zod',
      'contracts are schemas and plain values: they import nothing of the workspace',
      workspace('contracts'),
      { path: '^(packages|apps)/(?!contracts/)' },
    ),
    forbid(
      'contracts-browser-safe',
      'contracts run in the browser: no Node modules',
      workspace('contracts'),
      {
        path: builtins,
        dependencyTypes: ['core'],
      },
    ),
    forbid(
      'core-inward',
      'core depends on contracts, policy and executors only (never the client, the sdk or an app)',
      workspace('core'),
      { path: '^(packages/(client|sdk)|apps)/' },
    ),
    forbid('core-no-fastify', 'core is HTTP-free: fastify belongs to apps/server', workspace('core'), {
      path: '(^|/)node_modules/(fastify|@fastify/)',
    }),
    forbid(
      'policy-executors-contracts-only',
      'policy and executors depend on contracts only',
      '^packages/(policy|executors)/src/',
      { path: '^(packages/(core|client|sdk|policy|executors)|apps)/', pathNot: '^packages/$1/' },
    ),
    forbid('client-contracts-only', 'the client depends on contracts only', workspace('client'), {
      path: '^(packages/(core|policy|executors|sdk)|apps)/',
    }),
    forbid('client-browser-safe', 'the client runs in the browser: no Node modules', workspace('client'), {
      path: builtins,
      dependencyTypes: ['core'],
    }),
    forbid('sdk-client-only', 'the sdk depends on the client (and contracts) only', workspace('sdk'), {
      path: '^(packages/(core|policy|executors)|apps)/',
    }),
    forbid(
      'cli-not-core',
      'the CLI talks to the API through the client; it never opens core or executors (aicloud up loads the server)',
      '^apps/cli/src/',
      { path: '^(packages/(core|executors|sdk)|apps/web)/' },
    ),
    forbid(
      'web-client-contracts-only',
      'the portal imports the client and contracts only',
      '^apps/web/src/',
      { path: '^(packages/(core|policy|executors|sdk)|apps/(server|cli))/' },
    ),
    forbid('server-not-faces', 'the server does not import the CLI or the portal', '^apps/server/src/', {
      path: '^apps/(cli|web)/',
    }),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)dist/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    combinedDependencies: false,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.tsx', '.js', '.mjs', '.cjs', '.json'],
    },
    skipAnalysisNotInRules: true,
  },
};
