import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ExecutorEvent } from '../executor.ts';
import {
  checkMetricLine,
  createLogTailer,
  malformedMetricsFile,
  readMalformedMetrics,
} from './log-tailer.ts';
import { createSecretMasker } from './secret-masker.ts';
import { tempRoot, testSpec } from './testing/workload-test-kit.ts';
import { workloadFiles } from './workload-files.ts';

describe('checkMetricLine', () => {
  it('passes good metric lines and ignores lines not meant as metrics', () => {
    expect(checkMetricLine('{"event":"metric","step":1,"loss":2.5}')).toEqual({
      metric: { event: 'metric', step: 1, loss: 2.5 },
    });
    expect(checkMetricLine('epoch 1 loss 2.5')).toBeUndefined();
    expect(checkMetricLine('{"event":"started"}')).toBeUndefined();
    expect(checkMetricLine('{"level":"info","msg":"metric"}')).toBeUndefined();
  });

  it('says what is wrong with a line meant as a metric', () => {
    expect(checkMetricLine('{"event":"metric","loss":}')).toEqual({ error: 'not valid JSON' });
    expect(checkMetricLine("{'event': 'metric', 'loss': 1}")?.error).toBe(
      'not valid JSON (use double quotes: print json.dumps(…), not a Python dict)',
    );
    expect(checkMetricLine('{"event":"metric","loss":"1.5","acc":0.5}')).toEqual({
      metric: { event: 'metric', loss: '1.5', acc: 0.5 },
      error: '"loss" is "1.5", not a number',
    });
    expect(checkMetricLine('{"event":"metric","step":"one","loss":1}')?.error).toBe(
      '"step" is "one", not a number',
    );
    expect(checkMetricLine('{"event":"metric","bad name":1}')?.error).toBe('"bad name" is not a metric name');
    expect(checkMetricLine('{"event":"metric","step":3}')?.error).toBe(
      'no metric in it: add "name": number pairs',
    );
  });
});

describe('malformed metric lines', () => {
  it('are counted next to the log, the first kept masked, and the count survives a new tailer', async () => {
    const root = tempRoot();
    const spec = testSpec(root, { id: 'job_metrics', command: 'true' });
    const files = { ...workloadFiles(spec), dir: root };
    for (const stream of ['stdout', 'stderr', 'offsets'] as const) files[stream] = join(root, stream);
    writeFileSync(files.stdout, '');
    writeFileSync(files.stderr, '');
    const logFile = join(root, 'job.log');
    const events: ExecutorEvent[] = [];
    const tailer = () =>
      createLogTailer({
        id: 'job_metrics',
        files,
        logFile,
        mask: createSecretMasker(['hunter2']),
        emit: (event) => events.push(event),
        now: () => Date.parse('2026-12-04T10:00:00Z'),
      });
    const first = tailer();
    appendFileSync(files.stdout, '{"event":"metric","loss":1}\n{"event":"metric","key":"hunter2",}\n');
    appendFileSync(files.stderr, '{"event":"metric","loss":}\n');
    await first.poll();
    expect(malformedMetricsFile(logFile)).toBe(join(root, 'job.metric-errors.json'));
    expect(readMalformedMetrics(malformedMetricsFile(logFile))).toEqual({
      count: 1,
      first: {
        line: '{"event":"metric","key":"***",}',
        error: 'not valid JSON',
        time: '2026-12-04T10:00:00.000Z',
      },
    });
    const second = tailer();
    appendFileSync(files.stdout, '{"event":"metric","loss":"x"}\n');
    await second.finish();
    expect(readMalformedMetrics(malformedMetricsFile(logFile))?.count).toBe(2);
    expect(events.filter((event) => event.type === 'metric')).toHaveLength(2);
  });
});
