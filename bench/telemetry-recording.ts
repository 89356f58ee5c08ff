// The telemetry recording of one gateway request alone, in this process (a CPU measurement of code, not of a
// server): aicloud's gateway observation (a span, and the GenAI histograms through series resolved once per
// attribute set) against the baseline it replaced, the OpenTelemetry SDK's own histogram instruments recording
// the same attribute sets with a span each (what `gateway-metrics.ts` did before, `hashAttributes` on every
// record). Both collect into a Prometheus reader, so both keep what they recorded.
import type { ServerResponse } from 'node:http';
import { SpanKind } from '@opentelemetry/api';
import { createGatewayMetrics } from '../packages/core/src/serving/gateway-metrics.ts';
import { createTelemetry } from '../packages/core/src/telemetry/telemetry.ts';

const MODELS = ['legal-answerer', 'contract-qa', 'summariser'];

/** CPU µs per call of `one`, the median of 5 runs of `count` calls after a warm-up. */
function cpuPerCall(one: (n: number) => void, count: number): number {
  for (let n = 0; n < count / 5; n++) one(n);
  const runs: number[] = [];
  for (let run = 0; run < 5; run++) {
    const before = process.cpuUsage();
    for (let n = 0; n < count; n++) one(n);
    const used = process.cpuUsage(before);
    runs.push((used.user + used.system) / count);
  }
  return runs.sort((a, b) => a - b)[2]!;
}

/** CPU µs per request: the SDK's instruments (baseline) and aicloud's gateway observation. */
export function telemetryRecordingCost(count = 50_000): { sdk: number; aicloud: number } {
  const response = {
    socket: { localAddress: '127.0.0.1', localPort: 8787 },
    req: { headers: {} },
  } as unknown as ServerResponse;

  const telemetry = createTelemetry();
  const metrics = createGatewayMetrics(telemetry);
  const aicloud = cpuPerCall((n) => {
    const observation = metrics.begin('chat', response);
    observation.requestModel(MODELS[n % 3]!);
    observation.upstreamStarted();
    observation.responseModel(MODELS[n % 3]!);
    observation.traceparent();
    observation.end({
      tokensIn: 40 + (n % 50),
      tokensOut: 20 + (n % 30),
      errorType: n % 50 === 0 ? 'upstream_error' : undefined,
      streamed: false,
    });
  }, count);

  // The baseline: the same telemetry's SDK meter and tracer (the Prometheus reader, spans not sampled).
  const baseline = createTelemetry();
  const { meter, tracer } = baseline;
  const histogram = (name: string) => meter.createHistogram(name);
  const requestDuration = histogram('gen_ai.server.request.duration');
  const operationDuration = histogram('gen_ai.client.operation.duration');
  const tokenUsage = histogram('gen_ai.client.token.usage');
  const sdk = cpuPerCall((n) => {
    const attributes: Record<string, string | number> = {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'aicloud',
      'server.address': '127.0.0.1',
      'server.port': 8787,
    };
    const span = tracer.startSpan('chat', { kind: SpanKind.SERVER, attributes });
    attributes['gen_ai.request.model'] = MODELS[n % 3]!;
    attributes['gen_ai.response.model'] = MODELS[n % 3]!;
    const failed = n % 50 === 0 ? { ...attributes, 'error.type': 'upstream_error' } : attributes;
    requestDuration.record(0.002, failed);
    operationDuration.record(0.0015, failed);
    tokenUsage.record(40 + (n % 50), { ...attributes, 'gen_ai.token.type': 'input' });
    tokenUsage.record(20 + (n % 30), { ...attributes, 'gen_ai.token.type': 'output' });
    span.setAttributes(failed);
    span.end();
  }, count);
  void telemetry.shutdown();
  void baseline.shutdown();
  return { sdk, aicloud };
}
