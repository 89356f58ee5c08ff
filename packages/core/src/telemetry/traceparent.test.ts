import { trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { createTelemetry } from './telemetry.ts';
import { contextOfTraceparent, traceparentOf } from './traceparent.ts';

describe('traceparent', () => {
  it('writes a span as W3C traceparent and reads a caller’s header back as the parent', async () => {
    const telemetry = createTelemetry();
    const span = telemetry.tracer.startSpan('job.submit');
    const header = traceparentOf(span)!;
    expect(header).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    const child = telemetry.tracer.startSpan('child', {}, contextOfTraceparent(header));
    expect(child.spanContext().traceId).toBe(span.spanContext().traceId);
    expect(traceparentOf(child)).not.toBe(header);
    await telemetry.shutdown();
  });

  it('ignores malformed and all-zero headers', () => {
    for (const header of [
      undefined,
      'nonsense',
      '00-00000000000000000000000000000000-0000000000000000-01',
      '01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      ['00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'],
    ])
      expect(trace.getSpanContext(contextOfTraceparent(header))).toBeUndefined();
    const parent = trace.getSpanContext(
      contextOfTraceparent('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'),
    );
    expect(parent).toMatchObject({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      traceFlags: 1,
      isRemote: true,
    });
  });

  it('off: spans carry no trace and nothing is exposed', async () => {
    const telemetry = createTelemetry({ enabled: false });
    expect(traceparentOf(telemetry.tracer.startSpan('x'))).toBeUndefined();
    telemetry.meter.createHistogram('h').record(1);
    expect(await telemetry.prometheusText()).toBe('');
  });

  it('refuses an OTLP endpoint that is not an http(s) URL', () => {
    expect(() => createTelemetry({ otlpEndpoint: 'collector:4318' })).toThrow(/http\(s\) URL/);
    expect(() => createTelemetry({ otlpEndpoint: 'ftp://collector' })).toThrow(/http\(s\) URL/);
  });
});
