import { describe, expect, it } from 'vitest';
import { isRunning, parseProcStat, readProc, readProcTable } from './proc-table.ts';

describe('proc table', () => {
  it('parses /proc/<pid>/stat with spaces and parentheses in the command name', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    fields[0] = 'S'; // state, field 3
    fields[1] = '1'; // ppid, field 4
    fields[2] = '4242'; // pgid, field 5
    fields.splice(11, 4, '150', '50', '100', '0'); // utime, stime, cutime, cstime: fields 14-17
    fields[19] = '987654'; // starttime, field 22
    const info = parseProcStat(`4242 (my (odd) name) ${fields.join(' ')}`);
    expect(info).toEqual({
      pid: 4242,
      ppid: 1,
      pgid: 4242,
      name: 'my (odd) name',
      state: 'S',
      starttime: '987654',
      cpuSeconds: 3,
    });
    expect(parseProcStat('garbage')).toBeUndefined();
  });
  it('reads this process as running, with a stable start time', () => {
    const self = readProc(process.pid);
    expect(isRunning(self)).toBe(true);
    expect(readProcTable()?.get(process.pid)?.starttime).toBe(self?.starttime);
    expect(isRunning({ ...self!, state: 'Z' })).toBe(false);
  });
});
