import { Gauge, type Registry } from 'prom-client';
import type { ReplicaPool } from '../serving/replica-pool.ts';
import type { Store } from '../store/open-store.ts';
import type { DriftScore } from './drift.ts';

/** The drift gauges `/metrics` serves, per endpoint and feature, and the score each one reads. */
const DRIFT_GAUGES = {
  aicloud_endpoint_drift_psi: 'psi',
  aicloud_endpoint_drift_ks: 'ks',
} as const satisfies Record<string, keyof DriftScore>;

/**
 * `aicloud_endpoint_drift_psi{endpoint,feature}` and `aicloud_endpoint_drift_ks{endpoint,feature}`: each live
 * endpoint's drift scores (its window against its baseline), read at scrape; an endpoint still collecting its
 * baseline or first window has no series.
 */
export function registerDriftGauges(
  registry: Registry,
  store: Store,
  replicas: Pick<ReplicaPool, 'stats'>,
): void {
  for (const [name, score] of Object.entries(DRIFT_GAUGES)) {
    new Gauge({
      name,
      help:
        score === 'psi'
          ? "Population Stability Index of an endpoint's recent requests against its baseline, per feature"
          : "Kolmogorov-Smirnov statistic of an endpoint's recent requests against its baseline, per feature",
      labelNames: ['endpoint', 'feature'],
      registers: [registry],
      async collect() {
        this.reset();
        const endpoints = await store.db
          .selectFrom('endpoints')
          .select(['id', 'name'])
          .where('deleted_at', 'is', null)
          .execute();
        for (const endpoint of endpoints) {
          const report = replicas.stats(endpoint.id).drift.report();
          if (report.status === 'collecting') continue;
          for (const [feature, scores] of Object.entries(report.features))
            this.set({ endpoint: endpoint.name, feature }, scores[score]);
        }
      },
    });
  }
}
