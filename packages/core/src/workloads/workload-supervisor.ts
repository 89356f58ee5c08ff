import type { Executor, ExecutorEvent } from '@aicloud/executors';

/** The kinds of workload the platform runs, in the order they are re-attached after a restart. */
export const workloadKinds = ['job', 'notebook', 'replica'] as const;

/** One kind of workload. */
export type WorkloadKind = (typeof workloadKinds)[number];

/** One kind's part in the supervisor: which workloads are its own, what it does with their events, how it re-attaches them. */
export interface WorkloadHandler {
  /** The kind it handles; one handler per kind. */
  kind: WorkloadKind;
  /** Whether a workload id (`job_…`, `nb_…`, `rep_…`) is this kind's. */
  owns(id: string): boolean;
  /** Takes one event of its own workloads, in the executor's order; queues its own work and returns quickly. */
  onEvent(event: ExecutorEvent): void | Promise<void>;
  /** Finds this kind's running workloads again after a restart. */
  reattach?(): Promise<void>;
  /** Accrues this kind's running workloads whose metering is at least one interval behind `now` into the ledger. */
  meterDue?(now: number): Promise<void>;
}

/** What the supervisor needs. */
export interface WorkloadSupervisorDeps {
  /** Every executor of the platform: the supervisor is the one subscriber to their events. */
  executors: Record<string, Executor>;
  /** Where it reports events nobody owns and handlers that failed (default: stderr). */
  log?: (line: string) => void;
}

/** The one subscriber to every executor's events: dispatches each to the kind that owns it, re-attaches all kinds in one place. */
export interface WorkloadSupervisor {
  /** Adds a kind's handler; throws when that kind already has one. Returns the function that removes it. */
  register(handler: WorkloadHandler): () => void;
  /** Re-attaches every registered kind in a fixed order (jobs, notebooks, replicas); one kind's failure does not stop the others, and the first is thrown after all ran. */
  reattach(): Promise<void>;
  /** The one metering pass: every kind's due workloads, in the same order; one kind's failure does not stop the others. */
  meter(now: number): Promise<void>;
  /** Unsubscribes from every executor: no handler gets an event after it. */
  close(): void;
}

/** Creates the supervisor and subscribes it to every executor's events. */
export function createWorkloadSupervisor(deps: WorkloadSupervisorDeps): WorkloadSupervisor {
  const log = deps.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const handlers = new Map<WorkloadKind, WorkloadHandler>();
  // Workloads nobody owns, reported once each; forgotten at their end so the set stays small.
  const unowned = new Set<string>();

  const failed = (kind: WorkloadKind, what: string) => (error: unknown) =>
    log(`workloads: the ${kind} handler failed on ${what}: ${(error as Error).stack ?? String(error)}`);

  function ownerOf(id: string): WorkloadHandler | undefined {
    for (const kind of workloadKinds) {
      const handler = handlers.get(kind);
      if (handler?.owns(id)) return handler;
    }
    return undefined;
  }

  function dispatch(event: ExecutorEvent, executor: string): void {
    const handler = ownerOf(event.id);
    if (!handler) {
      if (!unowned.has(event.id)) {
        unowned.add(event.id);
        log(
          `workloads: ${event.type} event of ${event.id} on executor ${executor}, which no kind owns; ignored`,
        );
      }
      if (event.type === 'ended') unowned.delete(event.id);
      return;
    }
    const onError = failed(handler.kind, `${event.type} of ${event.id}`);
    try {
      const result = handler.onEvent(event);
      if (result) result.catch(onError);
    } catch (error) {
      onError(error);
    }
  }

  const unsubscribers = Object.entries(deps.executors).map(([name, executor]) =>
    executor.onEvent((event) => dispatch(event, name)),
  );

  /** Runs `step` for every registered kind in the fixed order; logs each failure and throws the first after all ran. */
  async function eachKind(what: string, step: (handler: WorkloadHandler) => Promise<void> | undefined) {
    let first: unknown;
    for (const kind of workloadKinds) {
      const handler = handlers.get(kind);
      if (!handler) continue;
      try {
        await step(handler);
      } catch (error) {
        failed(kind, what)(error);
        first ??= error;
      }
    }
    if (first !== undefined) throw first;
  }

  return {
    register(handler) {
      if (handlers.has(handler.kind))
        throw new Error(`workloads: the ${handler.kind} kind is already registered`);
      handlers.set(handler.kind, handler);
      return () => {
        if (handlers.get(handler.kind) === handler) handlers.delete(handler.kind);
      };
    },

    reattach: () => eachKind('re-attach', (handler) => handler.reattach?.()),

    meter: (now) => eachKind('metering', (handler) => handler.meterDue?.(now)),

    close() {
      for (const unsubscribe of unsubscribers.splice(0)) unsubscribe();
    },
  };
}
