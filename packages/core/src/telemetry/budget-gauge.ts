import { Gauge, type Registry } from 'prom-client';
import { budgetSnapshots } from '../billing/bill-queries.ts';
import type { Clock } from '../clock.ts';
import type { Store } from '../store/open-store.ts';

/** `aicloud_budget_used_ratio{team}`: each team's spend this budget period over its budget, read at scrape. */
export function registerBudgetGauge(registry: Registry, store: Store, clock: Clock): void {
  new Gauge({
    name: 'aicloud_budget_used_ratio',
    help: "A team's spend in its current budget period divided by its budget",
    labelNames: ['team'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const budget of (await budgetSnapshots(store.db, null, clock.now())).values()) {
        if (budget.maxMicros > 0) this.set({ team: budget.team }, budget.spentMicros / budget.maxMicros);
      }
    },
  });
}
