import type { EndpointStatus } from '@aicloud/contracts';
import type { Kysely, Updateable } from 'kysely';
import type { Database } from '../store/schema.ts';
import { sourcesOf, type TransitionTable } from './state-table.ts';

/**
 * The endpoint state machine. `deleted` is terminal: nothing a replica does afterwards (becoming ready,
 * scaling to zero) brings a deleted endpoint back.
 */
export const endpointTransitions: TransitionTable<EndpointStatus> = {
  starting: ['ready', 'scaled_to_zero', 'deleted'],
  ready: ['scaled_to_zero', 'deleted'],
  scaled_to_zero: ['ready', 'deleted'],
  deleted: [],
};

/** A replica's life: starting → ready → stopped (or stopped while starting). */
export type ReplicaStatus = 'starting' | 'ready' | 'stopped';
export const replicaTransitions: TransitionTable<ReplicaStatus> = {
  starting: ['ready', 'stopped'],
  ready: ['stopped'],
  stopped: [],
};

/** Moves an endpoint to `to` when its current status allows it; returns whether it moved. */
export async function moveEndpoint(
  db: Kysely<Database>,
  id: string,
  to: EndpointStatus,
  changes: Omit<Updateable<Database['endpoints']>, 'status' | 'id'> = {},
): Promise<boolean> {
  const result = await db
    .updateTable('endpoints')
    .set({ ...changes, status: to })
    .where('id', '=', id)
    .where('status', 'in', sourcesOf('endpoint', endpointTransitions, to))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Moves a replica to `to` when its current status allows it; returns whether it moved. */
export async function moveReplica(
  db: Kysely<Database>,
  id: string,
  to: ReplicaStatus,
  changes: Omit<Updateable<Database['endpoint_replicas']>, 'status' | 'id'> = {},
): Promise<boolean> {
  const result = await db
    .updateTable('endpoint_replicas')
    .set({ ...changes, status: to })
    .where('id', '=', id)
    .where('status', 'in', sourcesOf('replica', replicaTransitions, to))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}
