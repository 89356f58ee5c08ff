import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempRoot, testSpec } from './testing/workload-test-kit.ts';
import {
  readExitRecord,
  readTerminationRecord,
  workloadFiles,
  writeTerminationRecord,
} from './workload-files.ts';

describe('workload files', () => {
  it('reads the exit code and the children CPU times the wrapper wrote (dash `times` format)', () => {
    const path = join(tempRoot(), 'exit');
    writeFileSync(path, '3\n0m0.000000s 0m0.001000s\n1m2.500000s 0m0.250000s\n');
    expect(readExitRecord(path)).toEqual({ code: 3, childCpuSeconds: 62.75 });
    writeFileSync(path, '');
    expect(readExitRecord(path)).toBeUndefined();
    expect(readExitRecord(join(tempRoot(), 'missing'))).toBeUndefined();
  });
  it('round-trips a termination record and rejects malformed ones', () => {
    const path = join(tempRoot(), 'termination.json');
    writeTerminationRecord(path, { state: 'cancelled', reason: 'cancelled_by_user', requestedAt: 42 });
    expect(readTerminationRecord(path)).toEqual({
      state: 'cancelled',
      reason: 'cancelled_by_user',
      requestedAt: 42,
    });
    writeFileSync(path, '{"state":"exploded","reason":"x","requestedAt":1}');
    expect(readTerminationRecord(path)).toBeUndefined();
  });
  it('derives file names from the spec alone, safe for any id', () => {
    const spec = testSpec('/srv', { id: 'job/../x', command: 'true' });
    const files = workloadFiles(spec);
    expect(files.dir).toBe(join(spec.workDir, '.aicloud'));
    expect(files.exitCode).toBe(join(files.dir, 'job_.._x.exit'));
  });
});
