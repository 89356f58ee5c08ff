import type { CommandRunner } from '@aicloud/executors';
import { Registry } from 'prom-client';
import { type AlertEvaluator, createAlertEvaluator } from '../alerts/alert-evaluator.ts';
import { type AlertRule, loadAlertRules } from '../alerts/alert-rules.ts';
import { createWebhookQueue, type WebhookQueueOptions } from '../billing/budget-webhook.ts';
import type { Clock } from '../clock.ts';
import type { Platform } from '../platform.ts';
import { registerQualityGauge } from '../quality/quality-gauge.ts';
import { qualityOf } from '../quality/quality-service.ts';
import { registerBudgetGauge } from './budget-gauge.ts';
import { registerDriftGauges } from './drift-gauge.ts';
import { createGpuSampler, type GpuSampler } from './gpu-sampler.ts';

/** How GPU telemetry and alerting run. */
export interface ObservabilityOptions {
  /** The alert rules (already loaded), or the folder of `*.yaml` rules to load; none when both are absent. */
  rules?: readonly AlertRule[];
  alertsDir?: string | null;
  /** Where alert webhooks may go (the platform's `webhookAllowedHosts`). */
  webhookAllowedHosts?: readonly string[];
  /** Between two GPU samples (default 5 s). */
  gpuSampleIntervalMs?: number;
  /**
   * A held GPU under 5 % for this many minutes raises `gpu.idle` (default 30); from then on the policies are
   * asked each idle minute whether an idle notebook stops (`stop_idle_gpu_notebook`).
   */
  gpuIdleMinutes?: number;
  /** Runs nvidia-smi (default: the one on PATH). */
  gpuCommand?: CommandRunner;
  /** Between two looks for scheduled quality evaluations that are due (default 30 s). */
  qualityIntervalMs?: number;
  /** Between two alert evaluations (default 15 s). */
  evaluationIntervalMs?: number;
  /** Webhook delivery tuning (tries, backoff, timeout): tests shorten it. */
  webhook?: Pick<WebhookQueueOptions, 'tries' | 'backoffMs' | 'timeoutMs'>;
  log?: (message: string) => void;
  /** The clock samples and evaluations read (default: the platform's). */
  clock?: Clock;
}

/** GPU telemetry and alerting of one platform. */
export interface Observability {
  /** The gauges beside the gateway's metrics (GPU, budgets, drift, quality). */
  registry: Registry;
  gpu: GpuSampler;
  alerts: AlertEvaluator;
  /** Everything `/metrics` serves, in the Prometheus text format. */
  metricsText(): Promise<string>;
  /** Starts sampling and evaluating on their intervals. */
  start(): void;
  stop(): Promise<void>;
}

type Deps = Pick<Platform, 'store' | 'audit' | 'clock' | 'gateway' | 'replicas' | 'config' | 'notebooks'>;

const instances = new WeakMap<object, Observability>();

/** Creates the observability of a platform; nothing runs until `start()`. */
export function createObservability(platform: Deps, options: ObservabilityOptions = {}): Observability {
  const { store, audit, gateway, replicas, notebooks } = platform;
  const clock = options.clock ?? platform.clock;
  const log = options.log ?? (() => {});
  const allowedHosts = options.webhookAllowedHosts ?? [];
  const rules = options.rules ?? (options.alertsDir ? loadAlertRules(options.alertsDir, allowedHosts) : []);
  const registry = new Registry();
  registerBudgetGauge(registry, store, clock);
  registerDriftGauges(registry, store, replicas);
  const quality = qualityOf(platform);
  registerQualityGauge(registry, quality);
  const gpu = createGpuSampler({
    store,
    audit,
    clock,
    registry,
    run: options.gpuCommand,
    intervalMs: options.gpuSampleIntervalMs,
    idleMinutes: options.gpuIdleMinutes,
    log,
    // Idle notebooks may be stopped early, as the policies decide; jobs and replicas are only reported.
    onNotebookIdle: (idle) => notebooks.stopIfGpuIdle(idle),
  });
  const metricsText = async () => `${await gateway.metrics.text()}${await registry.metrics()}`;
  const alerts = createAlertEvaluator({
    store,
    audit,
    clock,
    rules,
    scrape: metricsText,
    webhooks: createWebhookQueue({ allowedHosts, ...options.webhook }),
  });
  let timer: NodeJS.Timeout | undefined;
  let qualityTimer: NodeJS.Timeout | undefined;
  let evaluating: Promise<unknown> = Promise.resolve();
  let evaluatingQuality: Promise<unknown> = Promise.resolve();
  return {
    registry,
    gpu,
    alerts,
    metricsText,
    start() {
      gpu.start();
      if (!qualityTimer) {
        // Scheduled evaluations (`aicloud endpoints eval --every`); one pass at a time.
        qualityTimer = setInterval(() => {
          evaluatingQuality = evaluatingQuality.then(() =>
            quality.tick().catch((error: Error) => log(`quality evaluation failed: ${error.message}`)),
          );
        }, options.qualityIntervalMs ?? 30_000);
        qualityTimer.unref();
      }
      if (timer || rules.length === 0) return;
      timer = setInterval(() => {
        evaluating = evaluating.then(() =>
          alerts.evaluate().catch((error: Error) => log(`alert evaluation failed: ${error.message}`)),
        );
      }, options.evaluationIntervalMs ?? 15_000);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      clearInterval(qualityTimer);
      timer = undefined;
      qualityTimer = undefined;
      await gpu.stop();
      await evaluating;
      await evaluatingQuality;
    },
  };
}

/** The platform's observability: the one the server started, else one with no rules that is not running. */
export function observabilityOf(platform: Deps): Observability {
  let instance = instances.get(platform);
  if (!instance) {
    instance = createObservability(platform);
    instances.set(platform, instance);
  }
  return instance;
}

/**
 * Loads the alert rules (a bad file throws, naming the file and the field), then starts GPU sampling and
 * alert evaluation for the platform; `observabilityOf(platform)` answers this instance from then on.
 */
export function startObservability(platform: Deps, options: ObservabilityOptions): Observability {
  const instance = createObservability(platform, options);
  instances.set(platform, instance);
  instance.start();
  return instance;
}
