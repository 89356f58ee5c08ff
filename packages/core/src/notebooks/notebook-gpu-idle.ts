import type { AuditService } from '../audit/audit-service.ts';
import type { CatalogService } from '../catalog/catalog-service.ts';
import type { Authorizer } from '../ports/authorizer.ts';
import type { NotebookLifecycle } from './notebook-lifecycle.ts';
import { decide, notebookIdleGpuStopRequest, notebookSubject } from './notebook-policy.ts';

/** What the GPU sampler reports about a running notebook whose GPUs all sit under the idle line. */
export interface NotebookGpuIdle {
  notebookId: string;
  /** When the idle period began: the latest of its GPUs' idle starts (ms since the epoch). */
  idleSince: number;
  /** Whole minutes since `idleSince`. */
  idleMinutes: number;
  /** The indexes of its idle GPUs. */
  gpus: number[];
  /** The highest utilisation among them in the last sample, in percent. */
  utilizationPercent: number;
  /** The utilisation under which a GPU counts as idle, in percent. */
  thresholdPercent: number;
}

/**
 * What came of asking: `stopped` (the policies permitted it and the stop was asked for), `kept` (they did
 * not), `error` (the policy engine failed: kept, fail safe) or `not_running` (nothing to stop).
 */
export type NotebookGpuIdleOutcome = 'stopped' | 'kept' | 'error' | 'not_running';

/** What the idle-GPU stop needs. */
export interface NotebookGpuIdleDeps {
  audit: AuditService;
  catalog: CatalogService;
  authorizer: Authorizer;
  lifecycle: NotebookLifecycle;
  /** Resolves once recovery reattached the notebooks (a stop needs the executor to know the notebook). */
  reattached: () => Promise<void>;
}

const AUDIT_ACTION = 'notebook.gpu_idle_stop';

/**
 * Creates the idle-GPU stop: asks the policies (`stop_idle_gpu_notebook`, as the platform) whether a notebook
 * whose GPUs sit idle stops now, and stops it through the normal stop path when they permit it. A refusal by a
 * forbid, or an engine failure, is audited once per idle period; the plain "not yet" (no permit) is not.
 */
export function createNotebookGpuIdleStop(
  deps: NotebookGpuIdleDeps,
): (idle: NotebookGpuIdle) => Promise<NotebookGpuIdleOutcome> {
  const { audit, catalog, authorizer, lifecycle } = deps;
  /** The idle period (by its start) whose refusal was audited, per notebook. */
  const refusalAudited = new Map<string, number>();
  lifecycle.onEnded((id) => refusalAudited.delete(id));

  return async (idle) => {
    const row = await lifecycle.load(idle.notebookId);
    if (row?.status !== 'running' || lifecycle.launching.has(row.id)) return 'not_running';
    const product = await catalog.get(row.product).catch(() => null);
    const context = {
      idleMinutes: Math.floor(idle.idleMinutes),
      gpus: idle.gpus.length,
      utilizationPercent: Math.round(idle.utilizationPercent),
      thresholdPercent: Math.round(idle.thresholdPercent),
    };
    const decision = decide(authorizer, notebookIdleGpuStopRequest(notebookSubject(row, product), context));
    const figures = {
      idleSince: new Date(idle.idleSince).toISOString(),
      idleMinutes: context.idleMinutes,
      gpus: idle.gpus,
      utilizationPercent: context.utilizationPercent,
      thresholdPercent: context.thresholdPercent,
    };
    if (decision.outcome === 'allow' || decision.outcome === 'warn') {
      await deps.reattached();
      const which = decision.permits.join(', ') || 'none named';
      const stopped = await lifecycle.requestStop(row.id, 'idle_gpu', {
        actor: 'system',
        requestId: null,
        action: AUDIT_ACTION,
        message: `stopped after its GPU${idle.gpus.length === 1 ? '' : 's'} stayed under ${context.thresholdPercent} % for ${context.idleMinutes} min (policy ${which}); files are kept`,
        details: {
          ...figures,
          policies: decision.permits,
          warnings: decision.warnings.map((hit) => hit.policyId),
          policySetDigest: decision.policySetDigest,
        },
      });
      return stopped ? 'stopped' : 'not_running';
    }
    const failed = decision.errors.length > 0;
    const forbidden = decision.determining.some((hit) => hit.policyId !== 'default-deny');
    if ((failed || forbidden) && refusalAudited.get(row.id) !== idle.idleSince) {
      refusalAudited.set(row.id, idle.idleSince);
      await audit.record({
        actor: 'system',
        action: AUDIT_ACTION,
        resource: `notebook/${row.id}`,
        team: row.team,
        outcome: failed ? 'failure' : 'deny',
        details: {
          ...figures,
          kept: true,
          determining: decision.determining.map((hit) => hit.policyId),
          errors: decision.errors,
          policySetDigest: decision.policySetDigest,
        },
      });
    }
    return failed ? 'error' : 'kept';
  };
}
