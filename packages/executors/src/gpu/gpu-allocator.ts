/** Hands out GPU device indexes so that no two workloads hold the same GPU. */
export interface GpuAllocator {
  /** Takes `count` free GPUs of a type (lowest indexes first), or returns null when fewer are free. */
  allocate(type: string, count: number): string[] | null;
  /** Gives GPUs back; indexes that are not taken are ignored. */
  release(indexes: readonly string[]): void;
  /** Marks GPUs as taken after a restart (the GPUs of reattached workloads); unknown indexes are ignored. */
  restore(taken: readonly string[]): void;
  /** How many GPUs of a type are free. */
  free(type: string): number;
}

/** The GPUs an allocator hands out: an inventory's `gpus`. */
export interface GpuAllocatorDeps {
  /** Each GPU's device index and type. */
  gpus: readonly { index: number; type: string }[];
}

/** Creates an allocator over a fixed set of GPUs; types compare case-insensitively. */
export function createGpuAllocator(deps: GpuAllocatorDeps): GpuAllocator {
  const typeOf = new Map(deps.gpus.map((gpu) => [String(gpu.index), gpu.type.toLowerCase()]));
  const order = [...deps.gpus].sort((a, b) => a.index - b.index).map((gpu) => String(gpu.index));
  const taken = new Set<string>();
  const freeOf = (type: string): string[] =>
    order.filter((index) => !taken.has(index) && typeOf.get(index) === type.toLowerCase());

  return {
    allocate(type, count) {
      if (!Number.isInteger(count) || count < 0) throw new RangeError(`cannot allocate ${count} GPUs`);
      const free = freeOf(type);
      if (free.length < count) return null;
      const chosen = free.slice(0, count);
      for (const index of chosen) taken.add(index);
      return chosen;
    },
    release(indexes) {
      for (const index of indexes) taken.delete(index);
    },
    restore(indexes) {
      for (const index of indexes) if (typeOf.has(index)) taken.add(index);
    },
    free: (type) => freeOf(type).length,
  };
}
