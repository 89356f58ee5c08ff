import { resolve } from 'node:path';
import type {
  AttestDatasetRequest,
  Classification,
  Dataset,
  RegisterDatasetRequest,
} from '@aicloud/contracts';
import type { Kysely, Selectable, Transaction } from 'kysely';
import { AppError, notFound } from '../app-error.ts';
import type { AuditService } from '../audit/audit-service.ts';
import { type Clock, isoNow } from '../clock.ts';
import { type Actor, canSeeTeam } from '../identity/principal.ts';
import type { Store } from '../store/open-store.ts';
import type { Database } from '../store/schema.ts';
import {
  approvedLocations,
  canonicalLocation,
  encryptedLocations,
  inApprovedLocation,
  inEncryptedLocation,
  LOCATION_RULES,
  lakePlace,
} from './approved-locations.ts';

type DatasetRow = Selectable<Database['datasets']>;

/** The team that owns a dataset path: the segment after `projects/`. */
export function datasetTeam(path: string): string {
  return path.split('/')[1] ?? '';
}

/** What the platform knows of the lake when it judges a dataset. */
export interface LakeView {
  approved: string[];
  encrypted: string[];
}

/** Reads the lake's approved and encrypted prefixes. */
export async function lakeView(db: Kysely<Database> | Transaction<Database>): Promise<LakeView> {
  return { approved: await approvedLocations(db), encrypted: await encryptedLocations(db) };
}

/** Whether a dataset is encrypted as a fact: attested, or lying under a prefix the platform knows is. */
export function isEncrypted(row: Pick<DatasetRow, 'encrypted' | 'location'>, lake: LakeView): boolean {
  return row.encrypted === 1 || inEncryptedLocation(row.location, lake.encrypted);
}

function claimedOf(row: DatasetRow): Dataset['claimed'] {
  const claimed = JSON.parse(row.claimed || '{}') as Partial<Dataset['claimed']>;
  return { encrypted: claimed.encrypted === true, classification: claimed.classification ?? null };
}

/** Converts a stored row, judging its location against the lake now. */
export function toDataset(row: DatasetRow, lake: LakeView): Dataset {
  return {
    path: row.path,
    team: row.team,
    location: row.location,
    encrypted: isEncrypted(row, lake),
    classification: row.classification as Dataset['classification'],
    claimed: claimedOf(row),
    attestedBy: row.attested_by,
    attestedAt: row.attested_at,
    tags: JSON.parse(row.tags) as Record<string, string>,
    inApprovedLocation: inApprovedLocation(row.location, lake.approved, row.team),
    registeredBy: row.registered_by,
    createdAt: row.created_at,
  };
}

/** Registered datasets: the part of the registry that guardrails read. */
export interface DatasetService {
  /**
   * Registers a dataset at a canonical location in the team's own part of the lake (or outside the lake,
   * where policies refuse it). A member's `encrypted` and `classification` are kept as claims; a
   * platform-admin's are attested facts.
   */
  register(actor: Actor, request: RegisterDatasetRequest): Promise<Dataset>;
  /** Records a platform-admin's attestation of a dataset's encryption and classification. */
  attest(actor: Actor, request: AttestDatasetRequest): Promise<Dataset>;
  list(actor: Actor): Promise<Dataset[]>;
  get(actor: Actor, path: string): Promise<Dataset>;
}

/** Creates the dataset service. */
export function createDatasetService(deps: {
  store: Store;
  audit: AuditService;
  clock: Clock;
  /** The platform's data dir: no member's dataset may point into it outside the lake. */
  dataDir?: string;
}): DatasetService {
  const { store, audit, clock } = deps;
  const db = store.db;

  async function deny(actor: Actor, action: string, path: string, reason: string, details = {}) {
    await audit.record({
      actor: actor.principal.userName,
      action,
      resource: `dataset/${path}`,
      team: datasetTeam(path) || null,
      outcome: 'deny',
      requestId: actor.requestId,
      details: { reason, ...details },
    });
  }

  /** The canonical location a team may register, or the refusal. */
  function placeFor(team: string, location: string, lake: LakeView): string {
    const canonical = canonicalLocation(location);
    const place = lakePlace(canonical, lake.approved)!;
    if (place.lake !== null && place.team !== team) {
      const owner = place.team === null ? "the lake's top level" : `team ${place.team}'s part of the lake`;
      throw new AppError(
        'forbidden',
        `location ${location}${canonical === location ? '' : ` (canonically ${canonical})`} lies in ${owner}; datasets of team ${team} must lie under ${place.lake}/${team}/ (rule ${LOCATION_RULES.teamPrefix}): copy the data there${place.team === null ? '' : `, or ask team ${place.team} to share a copy`}`,
        {
          issues: [{ path: ['location'], message: `must lie under ${place.lake}/${team}/` }],
          details: { rule: LOCATION_RULES.teamPrefix, location: canonical },
        },
      );
    }
    if (place.lake === null && deps.dataDir && canonical.startsWith('file://')) {
      const dataDir = canonicalLocation(resolve(deps.dataDir));
      if (canonical === dataDir || canonical.startsWith(`${dataDir}/`))
        throw new AppError(
          'forbidden',
          `location ${location} (canonically ${canonical}) lies in the platform's own data dir (rule ${LOCATION_RULES.platformDir}); put the data in your team's part of the lake`,
          {
            issues: [{ path: ['location'], message: "inside the platform's data dir" }],
            details: { rule: LOCATION_RULES.platformDir, location: canonical },
          },
        );
    }
    return canonical;
  }

  return {
    async register(actor, request) {
      const team = datasetTeam(request.path);
      if (!canSeeTeam(actor.principal, team)) {
        await deny(actor, 'dataset.register', request.path, 'not a member of the team');
        throw new AppError(
          'forbidden',
          `you can only register datasets under projects/<your team>/; you are in: ${[...actor.principal.teams.keys()].join(', ') || 'no team'}`,
        );
      }
      const lake = await lakeView(db);
      let location: string;
      try {
        location = placeFor(team, request.location, lake);
      } catch (error) {
        if (error instanceof AppError)
          await deny(actor, 'dataset.register', request.path, error.message, {
            location: request.location,
            ...(error.details ?? {}),
          });
        throw error;
      }
      const claimed = { encrypted: request.encrypted, classification: request.classification ?? null };
      // A platform-admin's word is an attestation; a member's is a claim the policies do not read.
      const attests = actor.principal.platformAdmin;
      const now = isoNow(clock);
      const row: DatasetRow = {
        path: request.path,
        team,
        location,
        encrypted: attests && request.encrypted ? 1 : 0,
        classification: attests ? (request.classification ?? null) : null,
        tags: JSON.stringify(request.tags ?? {}),
        registered_by: actor.principal.userName,
        created_at: now,
        claimed: JSON.stringify(claimed),
        attested_by: attests ? actor.principal.userName : null,
        attested_at: attests ? now : null,
        // Hashed at first use (a pipeline step's start, a lineage query): a dataset may be large.
        content_hash: null,
        hashed_at: null,
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
            ...(row.location === request.location ? {} : { requestedLocation: request.location }),
            claimed,
            attested: attests,
            encrypted: row.encrypted === 1,
            classification: row.classification,
          },
        });
      });
      return toDataset(row, lake);
    },

    async attest(actor, request) {
      const row = await db
        .selectFrom('datasets')
        .selectAll()
        .where('path', '=', request.path)
        .executeTakeFirst();
      if (!row || !canSeeTeam(actor.principal, row.team)) throw notFound('dataset', request.path);
      if (!actor.principal.platformAdmin) {
        await deny(actor, 'dataset.attest', request.path, 'not a platform-admin');
        throw new AppError(
          'forbidden',
          `only a platform-admin can attest that ${request.path} is encrypted or how it is classified; your own claim is recorded (see claimed in aicloud datasets show ${request.path}): ask a platform-admin to run aicloud datasets attest ${request.path}`,
        );
      }
      if (request.encrypted === undefined && request.classification === undefined)
        throw new AppError('invalid_input', 'attest at least one of encrypted and classification', {
          issues: [{ path: ['classification'], message: 'required without encrypted' }],
        });
      const now = isoNow(clock);
      const next = {
        encrypted: request.encrypted === undefined ? row.encrypted : request.encrypted ? 1 : 0,
        classification: (request.classification ?? row.classification) as Classification | null,
        attested_by: actor.principal.userName,
        attested_at: now,
      };
      await db.transaction().execute(async (trx) => {
        await trx.updateTable('datasets').set(next).where('path', '=', row.path).execute();
        await audit.append(trx, {
          actor: actor.principal.userName,
          action: 'dataset.attested',
          resource: `dataset/${row.path}`,
          team: row.team,
          outcome: 'success',
          requestId: actor.requestId,
          details: {
            encrypted: next.encrypted === 1,
            classification: next.classification,
            previous: { encrypted: row.encrypted === 1, classification: row.classification },
            claimed: claimedOf(row),
          },
        });
      });
      return toDataset({ ...row, ...next }, await lakeView(db));
    },

    async list({ principal }) {
      let query = db.selectFrom('datasets').selectAll().orderBy('path');
      if (!principal.platformAdmin) {
        const teams = [...principal.teams.keys()];
        if (teams.length === 0) return [];
        query = query.where('team', 'in', teams);
      }
      const lake = await lakeView(db);
      return (await query.execute()).map((row) => toDataset(row, lake));
    },

    async get({ principal }, path) {
      const row = await db.selectFrom('datasets').selectAll().where('path', '=', path).executeTakeFirst();
      if (!row || !canSeeTeam(principal, row.team)) throw notFound('dataset', path);
      return toDataset(row, await lakeView(db));
    },
  };
}
