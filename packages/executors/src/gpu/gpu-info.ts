/** One GPU of this machine, detected from nvidia-smi or declared in the configuration. */
export interface GpuInfo {
  /** Device index as CUDA_VISIBLE_DEVICES counts it (nvidia-smi's index). */
  index: number;
  /** Stable device id (`GPU-…`); `declared-<index>` for declared GPUs. */
  uuid: string;
  /** Product name, e.g. `NVIDIA H200`; the type for declared GPUs. */
  name: string;
  /** Short type the catalog and the allocator use, e.g. `h200`. */
  type: string;
  /** Total memory in MiB; 0 for a declared GPU whose memory was not given. */
  memoryTotalMiB: number;
  /** GPU utilisation in percent at the time of the query. */
  utilizationPercent?: number;
  /** Memory in use in MiB at the time of the query. */
  memoryUsedMiB?: number;
  /** Power draw in watts at the time of the query. */
  powerW?: number;
  /** True when the GPU comes from the configuration rather than from nvidia-smi. */
  declared?: boolean;
}

/** The GPUs the local executor hands out, and where the list came from. */
export interface GpuInventory {
  /** `detected` from nvidia-smi or `declared` in the configuration. */
  source: 'detected' | 'declared';
  /** The GPUs, in index order. */
  gpus: GpuInfo[];
}

const vendorWords = new Set(['nvidia', 'tesla', 'geforce', 'quadro']);

/** Derives the short type from a product name: `NVIDIA H100 80GB HBM3` → `h100`, `NVIDIA GeForce RTX 4090` → `rtx-4090`. */
export function gpuTypeFromName(name: string): string {
  const words = name
    .toLowerCase()
    .split(/[\s-]+/)
    .filter((word) => word !== '' && !vendorWords.has(word));
  const [first = 'gpu', second] = words;
  return (first === 'rtx' || first === 'gtx') && second ? `${first}-${second}` : first;
}
