import type { CommandRunner } from '@aicloud/executors';
import { Gauge, type Registry } from 'prom-client';
import type { AuditService } from '../audit/audit-service.ts';
import type { Clock } from '../clock.ts';
import type { NotebookGpuIdle, NotebookGpuIdleOutcome } from '../notebooks/notebook-gpu-idle.ts';
import type { Store } from '../store/open-store.ts';
import { attributeGpus, type GpuSample, type ParentOf } from './gpu-attribution.ts';
import { localGpuHolders, procParentOf, runOnPath } from './gpu-holders.ts';
import { readGpus } from './gpu-query.ts';

/** What the GPU sampler needs. */
export interface GpuSamplerDeps {
  store: Store;
  audit: AuditService;
  clock: Clock;
  /** Where the gauges go (the registry `/metrics` serves). */
  registry: Registry;
  /** Runs nvidia-smi (default: the one on PATH). */
  run?: CommandRunner;
  /** A process's parent (default: /proc). */
  parentOf?: ParentOf;
  /** Between two samples (default 5 s). */
  intervalMs?: number;
  /** A held GPU below `idlePercent` for this long is idle (default 30 min). */
  idleMinutes?: number;
  /** Utilisation under which a GPU counts as idle (default 5 %). */
  idlePercent?: number;
  /** How long samples are kept (default 14 days). */
  retentionDays?: number;
  /** Where the one-line notices go (sampler off, nvidia-smi failing). */
  log?: (message: string) => void;
  /**
   * Asked about a notebook whose GPUs have all been idle for `idleMinutes` or more: once when `gpu.idle` is
   * raised, then again each new whole idle minute until it answers `stopped` or a GPU is used again (the
   * platform asks the policies whether to stop it: `NotebookService.stopIfGpuIdle`). Jobs and replicas
   * are only reported.
   */
  onNotebookIdle?: (idle: NotebookGpuIdle) => Promise<NotebookGpuIdleOutcome>;
}

/**
 * Samples nvidia-smi, stores figures per workload, exports gauges, raises `gpu.idle` events and asks
 * whether idle notebooks stop early.
 */
export interface GpuSampler {
  /** One sample now; null when nvidia-smi gave nothing (the sampler is then off, or the sample failed). */
  sample(): Promise<GpuSample[] | null>;
  /** Samples every `intervalMs` until stopped; stops by itself when there is no nvidia-smi. */
  start(): void;
  stop(): Promise<void>;
  /** `on` after a good sample, `off` when nvidia-smi was never there, `unknown` before the first. */
  readonly state: 'unknown' | 'on' | 'off';
}

const MiB = 1024 * 1024;
const WORKLOAD_LABELS = ['gpu', 'uuid', 'workload_kind', 'workload_id', 'team'] as const;

/** Creates the GPU sampler; nothing runs until `start()` or `sample()`. */
export function createGpuSampler(deps: GpuSamplerDeps): GpuSampler {
  const { store, audit, clock, registry } = deps;
  const run = deps.run ?? runOnPath;
  const parentOf = deps.parentOf ?? procParentOf;
  const intervalMs = deps.intervalMs ?? 5000;
  const idleMs = (deps.idleMinutes ?? 30) * 60_000;
  const idlePercent = deps.idlePercent ?? 5;
  const retentionMs = (deps.retentionDays ?? 14) * 86_400_000;
  const log = deps.log ?? (() => {});
  const gauge = (name: string, help: string, labelNames: readonly string[] = WORKLOAD_LABELS) =>
    new Gauge({ name, help, labelNames, registers: [registry] });
  const up = gauge(
    'aicloud_gpu_telemetry_up',
    'Whether the last nvidia-smi sample succeeded (1) or not (0)',
    [],
  );
  const utilization = gauge(
    'aicloud_gpu_utilization_ratio',
    'GPU utilisation (0-1) by the workload holding it',
  );
  const memoryUsed = gauge(
    'aicloud_gpu_memory_used_bytes',
    'GPU memory in use, by the workload it is attributed to',
  );
  const memoryTotal = gauge('aicloud_gpu_memory_total_bytes', 'GPU memory in all', ['gpu', 'uuid']);
  const power = gauge('aicloud_gpu_power_watts', 'GPU power draw', ['gpu', 'uuid']);
  const idle = gauge(
    'aicloud_gpu_idle_seconds',
    `How long a held GPU has been under ${idlePercent} % utilisation (0 while busy)`,
  );
  let state: GpuSampler['state'] = 'unknown';
  let failing = false;
  let lastPrune = 0;
  /** Idle periods by GPU and holder: when utilisation fell under the line, and whether the event was raised. */
  const idlePeriods = new Map<string, { since: number; raised: boolean }>();
  /** Per notebook: the idle period last asked about (by its start) and the idle minute it was asked at. */
  const notebookAsks = new Map<string, { since: number; minute: number }>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();

  async function trackIdle(samples: GpuSample[], now: number): Promise<void> {
    const seen = new Set<string>();
    for (const sample of samples) {
      if (!sample.workload || sample.attributedBy !== 'assignment' || sample.utilizationPercent === null)
        continue;
      const key = periodKey(sample.gpuUuid, sample.workload);
      seen.add(key);
      const labels = labelsOf(sample);
      if (sample.utilizationPercent >= idlePercent) {
        idlePeriods.delete(key);
        idle.set(labels, 0);
        continue;
      }
      const period = idlePeriods.get(key) ?? { since: now, raised: false };
      idlePeriods.set(key, period);
      idle.set(labels, (now - period.since) / 1000);
      if (period.raised || now - period.since < idleMs) continue;
      period.raised = true;
      await audit.record({
        actor: 'system',
        action: 'gpu.idle',
        resource: `${sample.workload.kind}/${sample.workload.id}`,
        team: sample.workload.team,
        outcome: 'warn',
        details: {
          gpu: sample.gpuIndex,
          uuid: sample.gpuUuid,
          idleSince: new Date(period.since).toISOString(),
          idleMinutes: Math.round((now - period.since) / 60_000),
          thresholdPercent: idlePercent,
          utilizationPercent: sample.utilizationPercent,
        },
      });
    }
    for (const key of idlePeriods.keys()) if (!seen.has(key)) idlePeriods.delete(key);
    await askAboutNotebooks(samples, now);
  }

  /**
   * A notebook is idle when every GPU it holds (that the sample shows) is in an idle period; from the idle
   * line on, `onNotebookIdle` is asked once per new whole idle minute, so a "no" is not asked again every
   * sample, and a stopped notebook is not asked again in the same period.
   */
  async function askAboutNotebooks(samples: GpuSample[], now: number): Promise<void> {
    const notebooks = new Map<string, NotebookGpuIdle | null>();
    for (const sample of samples) {
      const workload = sample.workload;
      if (workload?.kind !== 'notebook' || sample.attributedBy !== 'assignment') continue;
      const period =
        sample.utilizationPercent === null ? undefined : idlePeriods.get(periodKey(sample.gpuUuid, workload));
      const known = notebooks.get(workload.id);
      if (!period || known === null) {
        notebooks.set(workload.id, null);
        continue;
      }
      const since = Math.max(period.since, known?.idleSince ?? 0);
      notebooks.set(workload.id, {
        notebookId: workload.id,
        idleSince: since,
        idleMinutes: Math.floor((now - since) / 60_000),
        gpus: [...(known?.gpus ?? []), sample.gpuIndex],
        utilizationPercent: Math.max(known?.utilizationPercent ?? 0, sample.utilizationPercent ?? 0),
        thresholdPercent: idlePercent,
      });
    }
    for (const id of notebookAsks.keys()) if (!notebooks.get(id)) notebookAsks.delete(id);
    if (!deps.onNotebookIdle) return;
    for (const idle of notebooks.values()) {
      if (!idle || now - idle.idleSince < idleMs) continue;
      const asked = notebookAsks.get(idle.notebookId);
      if (asked && asked.since === idle.idleSince && asked.minute >= idle.idleMinutes) continue;
      notebookAsks.set(idle.notebookId, { since: idle.idleSince, minute: idle.idleMinutes });
      try {
        const outcome = await deps.onNotebookIdle(idle);
        // Stopped: nothing more to ask in this idle period.
        if (outcome === 'stopped')
          notebookAsks.set(idle.notebookId, { since: idle.idleSince, minute: Number.POSITIVE_INFINITY });
      } catch (error) {
        log(`GPU telemetry: idle notebook ${idle.notebookId}: ${(error as Error).message}`);
      }
    }
  }

  async function saveSamples(samples: GpuSample[], now: number): Promise<void> {
    const time = new Date(now).toISOString();
    const rows = samples
      .filter((sample) => sample.workload !== null)
      .map((sample) => ({
        workload_kind: sample.workload!.kind,
        workload_id: sample.workload!.id,
        team: sample.workload!.team,
        gpu_index: sample.gpuIndex,
        gpu_uuid: sample.gpuUuid,
        gpu_name: sample.gpuName,
        attributed_by: sample.attributedBy!,
        utilization_percent: sample.utilizationPercent,
        memory_used_mib: sample.memoryUsedMiB,
        memory_total_mib: sample.memoryTotalMiB,
        power_w: sample.powerW,
        pids: JSON.stringify(sample.pids),
        time,
      }));
    if (rows.length > 0) await store.db.insertInto('gpu_samples').values(rows).execute();
    if (now - lastPrune > 3_600_000) {
      lastPrune = now;
      await store.db
        .deleteFrom('gpu_samples')
        .where('time', '<', new Date(now - retentionMs).toISOString())
        .execute();
    }
  }

  function exportGauges(samples: GpuSample[]): void {
    utilization.reset();
    memoryUsed.reset();
    memoryTotal.reset();
    power.reset();
    for (const sample of samples) {
      const labels = labelsOf(sample);
      if (sample.utilizationPercent !== null) utilization.set(labels, sample.utilizationPercent / 100);
      if (sample.memoryUsedMiB !== null) memoryUsed.set(labels, sample.memoryUsedMiB * MiB);
      const device = { gpu: String(sample.gpuIndex), uuid: sample.gpuUuid };
      memoryTotal.set(device, sample.memoryTotalMiB * MiB);
      if (sample.powerW !== null) power.set(device, sample.powerW);
    }
  }

  async function sample(): Promise<GpuSample[] | null> {
    const reading = await readGpus(run);
    const now = clock.now();
    if (reading === null) {
      up.set(0);
      if (state === 'unknown') {
        state = 'off';
        log(
          'GPU telemetry is off: nvidia-smi is not on PATH or does not answer, so no GPU figures are sampled',
        );
      } else if (state === 'on' && !failing) {
        failing = true;
        log('GPU telemetry: nvidia-smi failed; sampling goes on and says when it recovers');
      }
      return null;
    }
    if (failing) log('GPU telemetry: nvidia-smi answers again');
    failing = false;
    state = 'on';
    up.set(1);
    const holders = await localGpuHolders(store.db);
    const samples = attributeGpus(reading, holders, parentOf);
    idle.reset();
    exportGauges(samples);
    await trackIdle(samples, now);
    await saveSamples(samples, now);
    return samples;
  }

  return {
    sample,
    start() {
      if (timer) return;
      const tick = () => {
        running = running.then(async () => {
          try {
            await sample();
          } catch (error) {
            log(`GPU telemetry sample failed: ${(error as Error).message}`);
          }
          if (state === 'off') clearInterval(timer);
        });
      };
      timer = setInterval(tick, intervalMs);
      timer.unref();
      tick();
    },
    async stop() {
      clearInterval(timer);
      timer = undefined;
      await running;
    },
    get state() {
      return state;
    },
  };
}

/** The idle period of one GPU for one holder. */
function periodKey(gpuUuid: string, workload: { kind: string; id: string }): string {
  return `${gpuUuid}\u0000${workload.kind}/${workload.id}`;
}

function labelsOf(sample: GpuSample): Record<(typeof WORKLOAD_LABELS)[number], string> {
  return {
    gpu: String(sample.gpuIndex),
    uuid: sample.gpuUuid,
    workload_kind: sample.workload?.kind ?? '',
    workload_id: sample.workload?.id ?? '',
    team: sample.workload?.team ?? '',
  };
}
