import { describe, expect, it } from 'vitest';
import { workloadOutcome } from './workload-outcome.ts';

describe('workloadOutcome', () => {
  it('reads exit codes', () => {
    expect(workloadOutcome({ code: 0, signal: null })).toEqual({
      state: 'succeeded',
      reason: null,
      exitCode: 0,
      signal: null,
    });
    expect(workloadOutcome({ code: 3, signal: null })).toEqual({
      state: 'failed',
      reason: 'exit_code_3',
      exitCode: 3,
      signal: null,
    });
  });
  it("reads a shell's 128 + N as signal N, and a signal that killed the wrapper itself", () => {
    expect(workloadOutcome({ code: 143, signal: null })).toMatchObject({
      reason: 'signal_SIGTERM',
      signal: 'SIGTERM',
    });
    expect(workloadOutcome({ code: undefined, signal: 'SIGKILL' })).toMatchObject({
      state: 'failed',
      reason: 'signal_SIGKILL',
      exitCode: null,
    });
  });
  it('lets a termination the executor began decide the state', () => {
    const termination = { state: 'timed_out', reason: 'runtime_limit', requestedAt: 0 } as const;
    expect(workloadOutcome({ code: 0, signal: null }, termination)).toEqual({
      state: 'timed_out',
      reason: 'runtime_limit',
      exitCode: 0,
      signal: null,
    });
  });
  it('reports lost when nothing is known of the end', () => {
    expect(workloadOutcome(undefined)).toMatchObject({ state: 'lost', reason: 'process_gone' });
    expect(workloadOutcome({ code: undefined, signal: null })).toMatchObject({ state: 'lost' });
  });
});
