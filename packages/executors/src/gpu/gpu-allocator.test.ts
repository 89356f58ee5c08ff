import { describe, expect, it } from 'vitest';
import { createGpuAllocator } from './gpu-allocator.ts';
import { declaredGpus } from './gpu-inventory.ts';

const inventory = declaredGpus([
  { type: 'h100', count: 4 },
  { type: 'a10', count: 2 },
]);

describe('createGpuAllocator', () => {
  it('hands out the lowest free GPUs of the type asked for, and refuses when too few are free', () => {
    const allocator = createGpuAllocator(inventory);
    expect(allocator.allocate('h100', 2)).toEqual(['0', '1']);
    expect(allocator.allocate('H100', 3)).toBeNull();
    expect(allocator.allocate('a10', 2)).toEqual(['4', '5']);
    expect(allocator.allocate('a10', 1)).toBeNull();
    expect(allocator.allocate('b200', 1)).toBeNull();
    expect(allocator.allocate('h100', 0)).toEqual([]);
    expect(allocator.free('h100')).toBe(2);
    allocator.release(['0']);
    expect(allocator.allocate('h100', 3)).toEqual(['0', '2', '3']);
    expect(() => allocator.allocate('h100', -1)).toThrow(RangeError);
  });

  it('after a restart, restores what reattached workloads hold and ignores unknown indexes', () => {
    const allocator = createGpuAllocator(inventory);
    allocator.restore(['1', '3', '9']);
    expect(allocator.free('h100')).toBe(2);
    expect(allocator.allocate('h100', 2)).toEqual(['0', '2']);
    expect(allocator.allocate('h100', 1)).toBeNull();
  });

  it('never gives one GPU to two holders, whatever the order of allocations and releases', () => {
    const allocator = createGpuAllocator(inventory);
    const held = new Map<number, string[]>();
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let step = 0; step < 2000; step += 1) {
      const holder = Math.floor(random() * 6);
      const current = held.get(holder);
      if (current) {
        allocator.release(current);
        held.delete(holder);
        continue;
      }
      const got = allocator.allocate(random() < 0.7 ? 'h100' : 'a10', 1 + Math.floor(random() * 3));
      if (got) held.set(holder, got);
      const all = [...held.values()].flat();
      expect(new Set(all).size).toBe(all.length);
    }
  });
});
