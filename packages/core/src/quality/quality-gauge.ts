import { Gauge, type Registry } from 'prom-client';
import type { QualityService } from './quality-service.ts';

/** `aicloud_endpoint_quality_score{endpoint,version,metric}`: the latest evaluation of each endpoint's version. */
export function registerQualityGauge(
  registry: Registry,
  quality: Pick<QualityService, 'latestScores'>,
): void {
  new Gauge({
    name: 'aicloud_endpoint_quality_score',
    help: "The latest quality evaluation of an endpoint's current version (0-1), per metric",
    labelNames: ['endpoint', 'version', 'metric'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const score of await quality.latestScores())
        this.set(
          { endpoint: score.endpoint, version: String(score.version), metric: score.metric },
          score.value,
        );
    },
  });
}
