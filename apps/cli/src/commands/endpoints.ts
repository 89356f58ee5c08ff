import { type Endpoint, type EndpointEval, type Rollout, routes } from '@aicloud/contracts';
import { Command, InvalidArgumentError, Option } from 'commander';
import { client } from '../context.ts';
import { ago, duration, outputFormat, print, table } from '../output.ts';

const outputOption = () => new Option('-o, --output <format>', 'table or json').default('table');

function count(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError('must be a whole number');
  return parsed;
}

/** `10%` or `10`: a share of traffic in percent. */
function percent(value: string): number {
  const parsed = Number(value.replace(/%$/, ''));
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 100)
    throw new InvalidArgumentError('a whole percentage from 1 to 100, e.g. 10%');
  return parsed;
}

/** A number from `min` to `max` with an optional unit suffix (`5%`, `1.5x`): what a threshold flag takes. */
function bounded(min: number, max: number, allowed: string, suffix?: RegExp) {
  return (value: string): number => {
    const text = suffix ? value.trim().replace(suffix, '') : value.trim();
    const parsed = text === '' ? Number.NaN : Number(text);
    if (!Number.isFinite(parsed) || parsed < min || parsed > max) throw new InvalidArgumentError(allowed);
    return parsed;
  };
}

/** `--max-error-rate-increase 5` (points, `5%` too) as the API's fraction, 0.05. */
const errorPoints = (value: string) =>
  Number((bounded(0, 100, 'percentage points from 0 to 100, e.g. 5', /%$/)(value) / 100).toPrecision(12));

/** `50ms`, `0.2s` or `50` (milliseconds): the latency allowance, whole milliseconds up to 60 s. */
function milliseconds(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(value.trim());
  const parsed = match ? Number(match[1]) * (match[2] === 's' ? 1000 : 1) : Number.NaN;
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 60_000)
    throw new InvalidArgumentError('whole milliseconds from 0 to 60000, e.g. 50ms or 0.2s');
  return parsed;
}

/** `10,20,40,80` (a `%` on each allowed): every step's share of traffic, rising. */
function weights(value: string): number[] {
  const steps = value.split(',').map((part) => Number(part.trim().replace(/%$/, '')));
  if (
    steps.length > 10 ||
    steps.some(
      (weight, index) =>
        !Number.isInteger(weight) || weight < 1 || weight > 100 || weight <= (steps[index - 1] ?? 0),
    )
  )
    throw new InvalidArgumentError('1 to 10 rising whole percentages from 1 to 100, e.g. 10,20,40,80');
  return steps;
}

/** `+5.0 points`, `+12.5 points`: an error-rate fraction as points, as precise as it was set. */
const points = (rate: number) => {
  const value = Math.round(rate * 10_000) / 100;
  return Number.isInteger(value * 10) ? value.toFixed(1) : value.toString();
};

/** What each step is judged against: the rollout's thresholds, in words. */
const thresholdsText = ({ thresholds }: Rollout) =>
  `error rate at most +${points(thresholds.maxErrorRateIncrease)} points, p99 at most ${thresholds.maxLatencyRatio}x + ${thresholds.latencyAllowanceMs} ms, quality at most -${thresholds.maxQualityDrop.toFixed(3)}`;

/** `20% → 40% → 80% → promote`. */
const stepsText = (rollout: Rollout) =>
  `${rollout.steps.map((weight) => `${weight}%`).join(' → ')} → promote`;

/** The detail view of a rollout: where it is, what it is judged on, and every decision with its figures. */
function rolloutText(rollout: Rollout): string {
  const state =
    rollout.status === 'progressing'
      ? `progressing (step ${rollout.step + 1} of ${rollout.steps.length}, ${rollout.weight}% of traffic)`
      : `${rollout.status.replace('_', ' ')} ${ago(rollout.endedAt) ?? ''}`.trim();
  const figures = (
    side: { requests: number; errorRate: number | null; latencyP99Ms: number | null } | undefined,
  ) =>
    side
      ? `${side.requests} req, ${side.errorRate === null ? '-' : `${(side.errorRate * 100).toFixed(1)}%`} err, p99 ${ms(side.latencyP99Ms)}`
      : '-';
  return [
    `${rollout.endpoint}: ${rollout.model} version ${rollout.fromVersion} → ${rollout.toVersion}, ${state}`,
    `  steps        ${stepsText(rollout)}, ${duration(rollout.analysisWindowSeconds)} each, at least ${rollout.minRequests} canary requests`,
    `  thresholds   ${thresholdsText(rollout)} (vs the serving version)`,
    ...(rollout.waiting ? [`  waiting      ${rollout.waiting}`] : []),
    `  started      by ${rollout.createdBy} ${ago(rollout.createdAt)}`,
    ...(rollout.decisions.length
      ? [
          '',
          table(
            ['WHEN', 'STEP', 'WEIGHT', 'DECISION', 'BY', 'CANARY', 'STABLE', 'REASON'],
            rollout.decisions.map((decision) => [
              ago(decision.at),
              decision.step + 1,
              `${decision.weight}%`,
              decision.decision,
              decision.actor,
              figures(decision.figures.canary),
              figures(decision.figures.stable),
              decision.reason,
            ]),
          ),
        ]
      : []),
  ].join('\n');
}

const ms = (value: number | null) => (value === null ? '-' : `${value.toFixed(1)} ms`);

/** The detail view of one endpoint. */
export function endpointText(endpoint: Endpoint): string {
  const { stats } = endpoint;
  return [
    `${endpoint.name}: ${endpoint.model} version ${endpoint.version} (${endpoint.runtime}) for ${endpoint.team}`,
    `  status           ${endpoint.status}`,
    `  replicas         ${endpoint.replicas.length} (min ${endpoint.minReplicas}, max ${endpoint.maxReplicas}, target concurrency ${endpoint.targetConcurrency}, idle stop after ${duration(endpoint.idleTimeoutSeconds)})`,
    `  requests         ${stats.requests} (${stats.errors} errors, ${stats.inFlight} in flight)`,
    `  latency          p50 ${ms(stats.latencyP50Ms)}, p99 ${ms(stats.latencyP99Ms)}`,
    `  first token      p50 ${ms(stats.timeToFirstTokenP50Ms)}`,
    `  tokens           ${stats.tokensIn} in, ${stats.tokensOut} out, ${stats.tokensPerSecond === null ? '-' : stats.tokensPerSecond.toFixed(1)} tokens/s`,
    `  cold starts      ${stats.coldStarts}${stats.lastColdStartMs === null ? '' : ` (last ${(stats.lastColdStartMs / 1000).toFixed(2)} s)`}`,
    `  drift            ${driftText(stats.drift)}`,
    ...(endpoint.rollout?.status === 'progressing'
      ? [
          `  rollout          version ${endpoint.rollout.toVersion} takes ${endpoint.rollout.weight}% (aicloud endpoints rollout status ${endpoint.name})`,
        ]
      : []),
    `  base URL         ${endpoint.url}  (model: "${endpoint.name}")`,
  ].join('\n');
}

/** `stable (PSI prompt_tokens 0.03, …)`, or how far the baseline and the first window are. */
function driftText(drift: Endpoint['stats']['drift']): string {
  if (drift.status === 'collecting')
    return `collecting (baseline ${drift.baselineSize}, window ${drift.windowSize} requests)`;
  const scores = Object.entries(drift.features).map(
    ([feature, score]) => `${feature} ${score.psi.toFixed(2)}`,
  );
  return `${drift.status} (PSI ${scores.join(', ')})`;
}

/** `aicloud deploy model …`. */
export function deployCommand(): Command {
  const deploy = new Command('deploy').description('deploy models as private OpenAI-compatible endpoints');
  deploy
    .command('model')
    .description('scan-checked, policy-checked deployment of a model version behind keys')
    .requiredOption('--name <model>', 'the registered model')
    .requiredOption('--version <version>', 'a version number or an alias (champion)')
    .option('--endpoint <name>', 'endpoint name (default: the model name)')
    .addOption(
      new Option('--endpoint-type <type>', 'real-time endpoint product')
        .choices(['real-time'])
        .default('real-time'),
    )
    .option('--scale-to-zero', 'no replica while idle; the first request waits for one to start', false)
    .option('--min-replicas <n>', 'replicas kept running (0 with --scale-to-zero)', count)
    .option('--max-replicas <n>', 'the most replicas under load', count, 1)
    .option('--target-concurrency <n>', 'requests per replica before another starts', count, 4)
    .option('--idle-timeout <duration>', 'stop idle replicas after this long (default: the product’s, 15m)')
    .option('--team <team>', 'the model’s team, if you are in several')
    .option(
      '--canary <percent>',
      'onto an endpoint that serves a version: the share of traffic the new one takes first (default 10%; it doubles at each step that passes, then the version is promoted)',
      percent,
    )
    .option('--analysis-window <duration>', 'how long each canary step is analysed (default 5m)')
    .option('--min-requests <n>', 'canary requests a step needs before it is judged (default 20)', count)
    .option(
      '--canary-steps <weights>',
      "instead of --canary: every step's share of traffic, rising (e.g. 10,20,40,80; promoted after the last)",
      weights,
    )
    .option(
      '--max-error-rate-increase <points>',
      "how many percentage points the canary's error rate may exceed the serving version's (default 5)",
      errorPoints,
    )
    .option(
      '--max-latency-ratio <ratio>',
      "how many times the serving version's p99 latency the canary's may reach, at least 1 (default 1.5)",
      bounded(1, 100, 'a ratio from 1 to 100, e.g. 1.5', /x$/i),
    )
    .option(
      '--latency-allowance <duration>',
      'milliseconds the canary p99 may exceed that ratio by: noise, not a regression (default 50ms)',
      milliseconds,
    )
    .option(
      '--max-quality-drop <score>',
      "how much lower the canary's F1 or judge score (0-1) may be than the serving version's (default 0.05)",
      bounded(0, 1, 'a score drop from 0 to 1, e.g. 0.05'),
    )
    .addOption(outputOption())
    .action(
      async (options: {
        canary?: number;
        canarySteps?: number[];
        analysisWindow?: string;
        minRequests?: number;
        maxErrorRateIncrease?: number;
        maxLatencyRatio?: number;
        latencyAllowance?: number;
        maxQualityDrop?: number;
        name: string;
        version: string;
        endpoint?: string;
        scaleToZero: boolean;
        minReplicas?: number;
        maxReplicas: number;
        targetConcurrency: number;
        idleTimeout?: string;
        team?: string;
        output: string;
      }) => {
        const format = outputFormat(options.output);
        const endpoint = await client().endpoints.deploy({
          model: options.name,
          version: /^\d+$/.test(options.version) ? Number(options.version) : options.version,
          ...(options.endpoint ? { name: options.endpoint } : {}),
          scaleToZero: options.scaleToZero,
          minReplicas: options.scaleToZero ? 0 : (options.minReplicas ?? 1),
          maxReplicas: options.maxReplicas,
          targetConcurrency: options.targetConcurrency,
          ...(options.idleTimeout ? { idleTimeout: options.idleTimeout } : {}),
          ...(options.team ? { team: options.team } : {}),
          ...(options.canary ? { canary: options.canary } : {}),
          ...(options.analysisWindow ? { analysisWindow: options.analysisWindow } : {}),
          ...(options.minRequests ? { minRequests: options.minRequests } : {}),
          ...(options.canarySteps ? { canarySteps: options.canarySteps } : {}),
          // Thresholds may be 0 (no error-rate increase, no quality drop): passed whenever given.
          ...(options.maxErrorRateIncrease === undefined
            ? {}
            : { maxErrorRateIncrease: options.maxErrorRateIncrease }),
          ...(options.maxLatencyRatio === undefined ? {} : { maxLatencyRatio: options.maxLatencyRatio }),
          ...(options.latencyAllowance === undefined ? {} : { latencyAllowanceMs: options.latencyAllowance }),
          ...(options.maxQualityDrop === undefined ? {} : { maxQualityDrop: options.maxQualityDrop }),
        });
        const rollout = endpoint.rollout;
        if (rollout?.status === 'progressing' && rollout.toVersion !== endpoint.version) {
          print(format, endpoint, () =>
            [
              `Rolling out ${rollout.model} version ${rollout.toVersion} onto ${endpoint.name} (serving version ${rollout.fromVersion}): ${stepsText(rollout)}.`,
              `Each step is analysed for ${duration(rollout.analysisWindowSeconds)} against the serving version (at least ${rollout.minRequests} canary requests; ${thresholdsText(rollout)} on the evaluation set); a failing step rolls back.`,
              'Next:',
              `  aicloud endpoints rollout status ${endpoint.name}`,
              `  aicloud endpoints rollout promote ${endpoint.name}   (or abort)`,
            ].join('\n'),
          );
          return;
        }
        print(format, endpoint, () =>
          [
            `Deployed ${endpoint.model} version ${endpoint.version} as endpoint ${endpoint.name}${endpoint.minReplicas === 0 ? ' (scaled to zero until the first request)' : ''}.`,
            'Next:',
            `  aicloud keys create --endpoint ${endpoint.name}`,
            `  curl ${endpoint.url}/chat/completions -H "Authorization: Bearer $KEY" -H 'content-type: application/json' -d '{"model":"${endpoint.name}","messages":[{"role":"user","content":"What is a force majeure clause?"}]}'`,
            `  aicloud endpoints show ${endpoint.name}`,
          ].join('\n'),
        );
      },
    );
  return deploy;
}

/** `aicloud endpoints list|show|scale|delete`. */
export function endpointsCommand(): Command {
  const endpoints = new Command('endpoints').description('deployed endpoints');
  endpoints
    .command('list')
    .description("your teams' endpoints")
    .addOption(outputOption())
    .action(async (options: { output: string }) => {
      const format = outputFormat(options.output);
      const { items } = await client().endpoints.list();
      print(format, items, () =>
        table(
          ['NAME', 'MODEL', 'VERSION', 'TEAM', 'STATUS', 'REPLICAS', 'REQUESTS', 'P50', 'P99', 'COLD STARTS'],
          items.map((item) => [
            item.name,
            item.model,
            item.version,
            item.team,
            item.status,
            `${item.replicas.length}/${item.minReplicas}-${item.maxReplicas}`,
            item.stats.requests,
            ms(item.stats.latencyP50Ms),
            ms(item.stats.latencyP99Ms),
            item.stats.coldStarts,
          ]),
        ),
      );
    });
  endpoints
    .command('show')
    .description('one endpoint with its live numbers')
    .argument('<name>')
    .addOption(outputOption())
    .action(async (name: string, options: { output: string }) => {
      const format = outputFormat(options.output);
      const endpoint = await client().endpoints.get(name);
      print(format, endpoint, () => endpointText(endpoint));
    });
  endpoints
    .command('scale')
    .description('change min/max replicas (min 0: scale to zero when idle)')
    .argument('<name>')
    .option('--min-replicas <n>', 'replicas kept running', count)
    .option('--max-replicas <n>', 'the most replicas under load', count)
    .addOption(outputOption())
    .action(async (name: string, options: { minReplicas?: number; maxReplicas?: number; output: string }) => {
      const format = outputFormat(options.output);
      const endpoint = await client().endpoints.scale(name, {
        minReplicas: options.minReplicas,
        maxReplicas: options.maxReplicas,
      });
      print(
        format,
        endpoint,
        () => `Endpoint ${endpoint.name}: min ${endpoint.minReplicas}, max ${endpoint.maxReplicas} replicas.`,
      );
    });
  endpoints
    .command('delete')
    .description('delete an endpoint: replicas stop, keys are revoked')
    .argument('<name>')
    .addOption(outputOption())
    .action(async (name: string, options: { output: string }) => {
      const format = outputFormat(options.output);
      const endpoint = await client().endpoints.delete(name);
      print(format, endpoint, () => `Deleted endpoint ${endpoint.name}; its keys are revoked.`);
    });
  const rollout = endpoints
    .command('rollout')
    .description(
      'canary rollouts: a new version deployed onto an endpoint takes a share of traffic, step by step',
    );
  rollout
    .command('status')
    .description(
      "the endpoint's newest rollout: weight, step, thresholds and every decision with its figures",
    )
    .argument('<name>')
    .addOption(outputOption())
    .action(async (name: string, options: { output: string }) => {
      const format = outputFormat(options.output);
      const current = await client().endpoints.rollout(name);
      print(format, current, () => rolloutText(current));
    });
  rollout
    .command('promote')
    .description('promote the canary now, without waiting for its analysis')
    .argument('<name>')
    .addOption(outputOption())
    .action(async (name: string, options: { output: string }) => {
      const format = outputFormat(options.output);
      const promoted = await client().endpoints.promote(name);
      print(
        format,
        promoted,
        () =>
          `Promoted ${promoted.endpoint} to version ${promoted.toVersion}; version ${promoted.fromVersion}'s replicas stop.`,
      );
    });
  rollout
    .command('abort')
    .description('abort the canary: all traffic back to the serving version')
    .argument('<name>')
    .addOption(outputOption())
    .action(async (name: string, options: { output: string }) => {
      const format = outputFormat(options.output);
      const aborted = await client().endpoints.abort(name);
      print(
        format,
        aborted,
        () =>
          `Aborted the rollout of ${aborted.endpoint} to version ${aborted.toVersion}; version ${aborted.fromVersion} serves all traffic.`,
      );
    });
  endpoints
    .command('eval')
    .description(
      'evaluate an endpoint now on a registered JSONL dataset ({"prompt", "reference"} lines): exact match, token F1, optionally a judge endpoint',
    )
    .argument('<name>')
    .requiredOption('--dataset <path>', 'a dataset of the team: projects/<team>/datasets/<name>')
    .option('--every <duration>', 'run it again this often (e.g. 1h)')
    .option('--judge <endpoint>', 'another endpoint of the team that grades each answer 0-10')
    .addOption(outputOption())
    .action(
      async (name: string, options: { dataset: string; every?: string; judge?: string; output: string }) => {
        const format = outputFormat(options.output);
        const evaluation = await client().call(routes.evaluateEndpoint, {
          params: { name },
          body: { dataset: options.dataset, every: options.every, judge: options.judge },
        });
        print(format, evaluation, () =>
          [
            `Evaluated ${evaluation.endpoint} (${evaluation.model} v${evaluation.version}) on ${evaluation.samples} samples${evaluation.failed ? `, ${evaluation.failed} unanswered` : ''}:`,
            `  exact match ${score(evaluation.exactMatch)}, F1 ${score(evaluation.f1)}, judge ${score(evaluation.judgeScore)}`,
            ...(options.every ? [`Runs again every ${options.every}.`] : []),
          ].join('\n'),
        );
      },
    );
  endpoints
    .command('evals')
    .description("an endpoint's quality evaluations per version, newest first")
    .argument('<name>')
    .addOption(outputOption())
    .action(async (name: string, options: { output: string }) => {
      const format = outputFormat(options.output);
      const evals = await client().call(routes.listEndpointEvals, { params: { name } });
      print(format, evals, () => {
        const schedule = evals.schedule
          ? `Evaluation set ${evals.schedule.dataset}${evals.schedule.judge ? `, judge ${evals.schedule.judge}` : ''}${evals.schedule.everySeconds ? `, every ${duration(evals.schedule.everySeconds)} (next ${evals.schedule.nextRunAt})` : ', not scheduled'}.\n`
          : '';
        if (evals.items.length === 0)
          return `${schedule}No evaluation yet: aicloud endpoints eval ${name} --dataset PATH`;
        return `${schedule}${table(
          ['VERSION', 'MODEL', 'SAMPLES', 'FAILED', 'EXACT', 'F1', 'JUDGE', 'TRIGGER', 'FINISHED'],
          evals.items.map((item: EndpointEval) => [
            item.version,
            item.model,
            item.samples,
            item.failed,
            score(item.exactMatch),
            score(item.f1),
            score(item.judgeScore),
            item.trigger,
            ago(item.finishedAt),
          ]),
        )}`;
      });
    });
  return endpoints;
}

const score = (value: number | null) => (value === null ? '-' : value.toFixed(3));

/** `aicloud keys create|list|revoke`. */
export function keysCommand(): Command {
  const keys = new Command('keys').description('API keys of endpoints, with rate limits and token quotas');
  keys
    .command('create')
    .description('create a key; the secret is shown once')
    .requiredOption('--endpoint <name>', 'the endpoint it may call')
    .option('--name <name>', 'a name to recognise it by', 'default')
    .option('--rpm <n>', 'requests per minute', count)
    .option('--tpm <n>', 'tokens per minute', count)
    .option(
      '--max-tokens-per-period <n>',
      'token quota per period: each request reserves its prompt and max_tokens (1024 when not given, also sent as its cap) until it ends, and is refused (429) when that does not fit',
      count,
    )
    .option('--period <period>', 'quota period, e.g. 30d')
    .addOption(outputOption())
    .action(
      async (options: {
        endpoint: string;
        name: string;
        rpm?: number;
        tpm?: number;
        maxTokensPerPeriod?: number;
        period?: string;
        output: string;
      }) => {
        const format = outputFormat(options.output);
        const key = await client().keys.create({
          endpoint: options.endpoint,
          name: options.name,
          ...(options.rpm ? { rpm: options.rpm } : {}),
          ...(options.tpm ? { tpm: options.tpm } : {}),
          ...(options.maxTokensPerPeriod ? { maxTokensPerPeriod: options.maxTokensPerPeriod } : {}),
          ...(options.period ? { period: options.period } : {}),
        });
        print(
          format,
          key,
          () =>
            `Created key ${key.id} for ${key.endpoint}. Copy it now: it is not shown again.\n\n${key.key}`,
        );
      },
    );
  keys
    .command('list')
    .description('keys of your teams (never their secrets)')
    .option('--endpoint <name>', 'only this endpoint')
    .addOption(outputOption())
    .action(async (options: { endpoint?: string; output: string }) => {
      const format = outputFormat(options.output);
      const { items } = await client().keys.list(options.endpoint);
      print(format, items, () =>
        table(
          ['ID', 'ENDPOINT', 'NAME', 'PREFIX', 'RPM', 'TPM', 'QUOTA', 'REVOKED'],
          items.map((key) => [
            key.id,
            key.endpoint,
            key.name,
            `${key.prefix}…`,
            key.rpm,
            key.tpm,
            key.maxTokensPerPeriod ? `${key.maxTokensPerPeriod}/${key.period}` : null,
            ago(key.revokedAt),
          ]),
        ),
      );
    });
  keys
    .command('revoke')
    .description('revoke a key at once')
    .argument('<id>')
    .action(async (id: string) => {
      const key = await client().keys.revoke(id);
      process.stdout.write(`Revoked key ${key.id} of ${key.endpoint}.\n`);
    });
  return keys;
}
