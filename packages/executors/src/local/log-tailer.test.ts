import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ExecutorEvent } from '../executor.ts';
import { createLogTailer, parseMetric } from './log-tailer.ts';
import { createSecretMasker } from './secret-masker.ts';
import { tempRoot, testSpec } from './testing/workload-test-kit.ts';
import { workloadFiles } from './workload-files.ts';

function setup() {
  const root = tempRoot();
  const spec = testSpec(root, { id: 'job_tail', command: 'true' });
  const files = { ...workloadFiles(spec), dir: root };
  for (const stream of ['stdout', 'stderr', 'offsets'] as const) files[stream] = join(root, stream);
  writeFileSync(files.stdout, '');
  writeFileSync(files.stderr, '');
  const logFile = join(root, 'output.log');
  const events: ExecutorEvent[] = [];
  const tailer = () =>
    createLogTailer({
      id: 'job_tail',
      files,
      logFile,
      mask: createSecretMasker(['hunter2']),
      emit: (e) => events.push(e),
      now: () => 7,
    });
  return { files, logFile, events, tailer };
}

describe('createLogTailer', () => {
  it('copies complete lines only, masks them on whole lines and resumes where a previous tailer stopped', async () => {
    const { files, logFile, events, tailer } = setup();
    const first = tailer();
    appendFileSync(files.stdout, 'one\npass=hun');
    await first.poll();
    expect(readFileSync(logFile, 'utf8')).toBe('one\n');
    appendFileSync(files.stdout, 'ter2\r\n{"event":"metric","loss":1.5}\n');
    appendFileSync(files.stderr, 'warn\n');
    await first.poll();
    appendFileSync(files.stdout, 'three\nunfinished');

    const second = tailer();
    await second.finish();

    expect(readFileSync(logFile, 'utf8')).toBe(
      'one\npass=***\n{"event":"metric","loss":1.5}\nwarn\nthree\nunfinished\n',
    );
    expect(events).toContainEqual({ type: 'log', id: 'job_tail', stream: 'stderr', line: 'warn', at: 7 });
    expect(events).toContainEqual({
      type: 'metric',
      id: 'job_tail',
      metric: { event: 'metric', loss: 1.5 },
      at: 7,
    });
    expect(events.filter((e) => e.type === 'log')).toHaveLength(6);
    expect(existsSync(files.stdout) || existsSync(files.offsets)).toBe(false);
  });
});

describe('parseMetric', () => {
  it('accepts JSON objects whose event is metric and nothing else', () => {
    expect(parseMetric(' {"event": "metric", "step": 1} ')).toEqual({ event: 'metric', step: 1 });
    expect(parseMetric('{"event": "start"}')).toBeUndefined();
    expect(parseMetric('[{"event": "metric"}]')).toBeUndefined();
    expect(parseMetric('{"event": "metric"')).toBeUndefined();
    expect(parseMetric('step 1 loss 2')).toBeUndefined();
  });
});
