import { type GpuInfo, gpuTypeFromName } from './gpu-info.ts';
import { cellNumber } from './nvidia-smi-csv.ts';

/**
 * Parses `nvidia-smi -q -x`. The document is flat and machine-written, so tags are read by pattern rather
 * than with an XML library. The XML carries no CUDA index: GPUs appear in index order, so position is used.
 */
export function parseNvidiaSmiXml(xml: string): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const [, block = ''] of xml.matchAll(/<gpu id="[^"]*">([\s\S]*?)<\/gpu>/g)) {
    const name = tag(block, 'product_name');
    const uuid = tag(block, 'uuid');
    const memoryTotalMiB = cellNumber(tag(section(block, 'fb_memory_usage'), 'total'));
    if (name === undefined || uuid === undefined || memoryTotalMiB === undefined) continue;
    const gpu: GpuInfo = { index: gpus.length, uuid, name, type: gpuTypeFromName(name), memoryTotalMiB };
    const memoryUsedMiB = cellNumber(tag(section(block, 'fb_memory_usage'), 'used'));
    const utilizationPercent = cellNumber(tag(section(block, 'utilization'), 'gpu_util'));
    // Drivers since 530 report gpu_power_readings with instant and average draw; older ones power_readings.
    const readings = section(block, 'gpu_power_readings') ?? section(block, 'power_readings');
    const powerW = cellNumber(
      tag(readings, 'instant_power_draw') ??
        tag(readings, 'power_draw') ??
        tag(readings, 'average_power_draw'),
    );
    if (memoryUsedMiB !== undefined) gpu.memoryUsedMiB = memoryUsedMiB;
    if (utilizationPercent !== undefined) gpu.utilizationPercent = utilizationPercent;
    if (powerW !== undefined) gpu.powerW = powerW;
    gpus.push(gpu);
  }
  return gpus;
}

function section(xml: string | undefined, name: string): string | undefined {
  return xml?.match(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`))?.[1];
}

function tag(xml: string | undefined, name: string): string | undefined {
  const text = section(xml, name)?.trim();
  return text === undefined || text === '' ? undefined : decodeEntities(text);
}

function decodeEntities(text: string): string {
  const entities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
  return text.replace(/&(amp|lt|gt|quot|apos);/g, (_, name: string) => entities[name] ?? '');
}
