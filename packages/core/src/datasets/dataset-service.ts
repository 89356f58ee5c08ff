import type { Dataset, RegisterDatasetRequest } from '@aicloud/contracts';
import type { Selectable } from 'kysely';
import { AppError, notFound } from '../app-error.ts';
import type { AuditService } from '../audit/audit-service.ts';
import { type Clock, isoNow } from '../clock.ts';
import { type Actor, canSeeTeam } from '../identity/principal.ts';
import type { Store } from '../store/open-store.ts';
import type { Database } from '../store/schema.ts';
import { approvedLocations, inApprovedLocation } from './approved-locations.ts';

type DatasetRow = Selectable<Database['datasets']>;

/** The team that owns a dataset path: the segment after `projects/`. */
export function datasetTeam(path: string): string {
  return path.split('/')[1] ?? '';
}

/** Converts a stored row, judging its location against the approved lake now. */
export function toDataset(row: DatasetRow, approved: string[]): Dataset {
  return {
    path: row.path,
    team: row.team,
    location: row.location,
    encrypted: row.encrypted === 1,
    classification: row.classification as Dataset['classification'],
    tags: JSON.parse(row.tags) as Record<string, string>,
    inApprovedLocation: inApprovedLocation(row.location, approved),
    registeredBy: row.registered_by,
    createdAt: row.created_at,
  };
}

/** Registered datasets: the part of the registry that guardrails read. */
export interface DatasetService {
  register(actor: Actor, request: RegisterDatasetRequest): Promise<Dataset>;
  list(actor: Actor): Promise<Dataset[]>;
  get(actor: Actor, path: string): Promise<Dataset>;
}

/** Creates the dataset service. */
export function createDatasetService(deps: {
  store: Store;
  audit: AuditService;
  clock: Clock;
}): DatasetService {
  const { store, audit, clock } = deps;
  const db = store.db;

  return {
    async register(actor, request) {
      const team = datasetTeam(request.path);
      if (!canSeeTeam(actor.principal, team)) {
        await audit.record({
          actor: actor.principal.userName,
          action: 'dataset.register',
          resource: `dataset/${request.path}`,
          outcome: 'deny',
          requestId: actor.requestId,
        });
        throw new AppError(
          'forbidden',
          `you can only register datasets under projects/<your team>/; you are in: ${[...actor.principal.teams.keys()].join(', ') || 'no team'}`,
        );
      }
      const row: DatasetRow = {
        path: request.path,
        team,
        location: request.location,
        encrypted: request.encrypted ? 1 : 0,
        classification: request.classification ?? null,
        tags: JSON.stringify(request.tags ?? {}),
        registered_by: actor.principal.userName,
        created_at: isoNow(clock),
      };
      await db.transaction().execute(async (trx) => {
        const existing = await trx
          .selectFrom('datasets')
          .select('path')
          .where('path', '=', request.path)
          .executeTakeFirst();
        if (existing)
          throw new AppError(
            'conflict',
            `dataset ${request.path} is already registered; register a new version under a new path (e.g. …/v3)`,
          );
        await trx.insertInto('datasets').values(row).execute();
        await audit.append(trx, {
          actor: actor.principal.userName,
          action: 'dataset.registered',
          resource: `dataset/${request.path}`,
          team,
          outcome: 'success',
          requestId: actor.requestId,
          details: {
            location: row.location,
            encrypted: request.encrypted,
            classification: row.classification,
          },
        });
      });
      return toDataset(row, await approvedLocations(db));
    },

    async list({ principal }) {
      let query = db.selectFrom('datasets').selectAll().orderBy('path');
      if (!principal.platformAdmin) {
        const teams = [...principal.teams.keys()];
        if (teams.length === 0) return [];
        query = query.where('team', 'in', teams);
      }
      const approved = await approvedLocations(db);
      return (await query.execute()).map((row) => toDataset(row, approved));
    },

    async get({ principal }, path) {
      const row = await db.selectFrom('datasets').selectAll().where('path', '=', path).executeTakeFirst();
      if (!row || !canSeeTeam(principal, row.team)) throw notFound('dataset', path);
      return toDataset(row, await approvedLocations(db));
    },
  };
}
