import { chmodSync, cpSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { AppError } from '../app-error.ts';
import type { AuditService } from '../audit/audit-service.ts';
import { type Clock, isoNow } from '../clock.ts';
import { canonicalLocation, lakePlace } from '../datasets/approved-locations.ts';
import type { IdentityService } from '../identity/identity-service.ts';
import { newId } from '../ids.ts';
import { toMicros } from '../money.ts';
import type { Store } from '../store/open-store.ts';

const SeedFile = z.strictObject({
  users: z.array(z.strictObject({ name: z.string(), platformAdmin: z.boolean().default(false) })),
  teams: z.array(
    z.strictObject({
      name: z.string(),
      members: z.array(z.strictObject({ user: z.string(), role: z.enum(['member', 'manager']) })),
    }),
  ),
  approvedLocations: z.array(z.string()).default([]),
  /** Prefixes the platform knows to be encrypted at rest: datasets there are encrypted as a fact. */
  encryptedLocations: z.array(z.string()).default([]),
  datasets: z
    .array(
      z.strictObject({
        path: z.string(),
        location: z.string(),
        encrypted: z.boolean().default(false),
        classification: z.enum(['public', 'internal', 'confidential', 'pii']).optional(),
        tags: z.record(z.string(), z.string()).default({}),
        files: z.string().optional(),
        registeredBy: z.string(),
      }),
    )
    .default([]),
  gpus: z
    .array(
      z.strictObject({
        type: z.string(),
        count: z.number().int().positive(),
        model: z.string(),
        memoryMiB: z.number().int(),
      }),
    )
    .default([]),
  quotas: z
    .array(z.strictObject({ team: z.string(), gpuType: z.string(), nominal: z.number().int().nonnegative() }))
    .default([]),
  budgets: z
    .array(
      z.strictObject({
        team: z.string(),
        maxBudget: z.number().nonnegative(),
        softBudget: z.number().nonnegative().optional(),
        budgetDuration: z.string(),
        ceiling: z.number().nonnegative().optional(),
      }),
    )
    .default([]),
});

/** What seeding did: nothing (already seeded) or the users it created. */
export interface SeedResult {
  seeded: boolean;
  users: string[];
  credentialsFile: string | null;
}

/**
 * Seeds the demo organisation once: on a store that was never seeded, in one transaction, and writes the
 * new users' tokens to `credentialsFile` before committing, so a failed write leaves nothing half-seeded.
 */
export async function seedDemo(deps: {
  store: Store;
  identity: IdentityService;
  audit: AuditService;
  clock: Clock;
  seedFile: string;
  credentialsFile: string;
}): Promise<SeedResult> {
  const { store, identity, audit, clock } = deps;
  let seed: z.infer<typeof SeedFile>;
  try {
    seed = SeedFile.parse(parse(readFileSync(deps.seedFile, 'utf8')));
  } catch (error) {
    throw new AppError('invalid_input', `seed file ${deps.seedFile} is invalid: ${(error as Error).message}`);
  }
  return store.db.transaction().execute(async (trx) => {
    const marker = await trx
      .selectFrom('meta')
      .select('value')
      .where('key', '=', 'seeded_at')
      .executeTakeFirst();
    if (marker) return { seeded: false, users: [], credentialsFile: null };
    const credentials: Record<string, { token: string; platformAdmin: boolean; teams: string[] }> = {};
    const userIds = new Map<string, string>();
    for (const user of seed.users) {
      const created = await identity.createUserInTrx(trx, 'system', user);
      userIds.set(user.name, created.id);
      const token = await identity.createTokenInTrx(trx, created.id, { name: 'demo' });
      credentials[user.name] = { token: token.token, platformAdmin: user.platformAdmin, teams: [] };
    }
    for (const team of seed.teams) {
      const teamId = newId('team');
      await trx
        .insertInto('teams')
        .values({ id: teamId, name: team.name, created_at: isoNow(clock) })
        .execute();
      for (const member of team.members) {
        const userId = userIds.get(member.user);
        if (!userId)
          throw new AppError(
            'invalid_input',
            `seed file: team ${team.name} names unknown user ${member.user}`,
          );
        await trx
          .insertInto('memberships')
          .values({ team_id: teamId, user_id: userId, role: member.role, created_at: isoNow(clock) })
          .execute();
        credentials[member.user]?.teams.push(`${team.name} (${member.role})`);
      }
      await audit.append(trx, {
        actor: 'system',
        action: 'team.created',
        resource: `team/${team.name}`,
        team: team.name,
        outcome: 'success',
        details: { members: team.members },
      });
    }
    const dataDir = resolve(dirname(deps.credentialsFile));
    const expand = (text: string) => text.replaceAll('{dataDir}', dataDir);
    const repoRoot = resolve(dirname(deps.seedFile), '..');
    const approved = seed.approvedLocations.map(expand);
    await trx
      .insertInto('settings')
      .values([
        { key: 'approved_locations', value: JSON.stringify(approved) },
        { key: 'encrypted_locations', value: JSON.stringify(seed.encryptedLocations.map(expand)) },
      ])
      .execute();
    for (const dataset of seed.datasets) {
      const location = expand(dataset.location);
      if (dataset.files && location.startsWith('file://')) {
        const target = location.slice('file://'.length);
        mkdirSync(target, { recursive: true });
        cpSync(join(repoRoot, dataset.files), target, { recursive: true });
      }
      const team = dataset.path.split('/')[1] ?? '';
      const place = lakePlace(location, approved);
      if (place?.lake && place.team !== team)
        throw new AppError(
          'invalid_input',
          `seed file: dataset ${dataset.path} lies outside team ${team}'s part of the lake (${place.lake}/${team}/)`,
        );
      // The seed is platform configuration: its encryption and classification are attested facts.
      const claimed = { encrypted: dataset.encrypted, classification: dataset.classification ?? null };
      await trx
        .insertInto('datasets')
        .values({
          path: dataset.path,
          team,
          location: canonicalLocation(location),
          encrypted: dataset.encrypted ? 1 : 0,
          classification: dataset.classification ?? null,
          tags: JSON.stringify(dataset.tags),
          registered_by: dataset.registeredBy,
          created_at: isoNow(clock),
          claimed: JSON.stringify(claimed),
          attested_by: 'system',
          attested_at: isoNow(clock),
        })
        .execute();
      await audit.append(trx, {
        actor: 'system',
        action: 'dataset.registered',
        resource: `dataset/${dataset.path}`,
        team,
        outcome: 'success',
        details: { location, seed: true },
      });
    }
    for (const gpu of seed.gpus) {
      for (let index = 0; index < gpu.count; index += 1) {
        await trx
          .insertInto('gpus')
          .values({
            id: `${gpu.type}-${index}`,
            gpu_type: gpu.type,
            device_index: index,
            source: 'declared',
            model: gpu.model,
            memory_mib: gpu.memoryMiB,
          })
          .execute();
      }
    }
    for (const quota of seed.quotas) {
      await trx
        .insertInto('quotas')
        .values({ team: quota.team, gpu_type: quota.gpuType, nominal: quota.nominal })
        .execute();
    }
    for (const budget of seed.budgets) {
      await trx
        .insertInto('budgets')
        .values({
          team: budget.team,
          max_budget_micros: toMicros(budget.maxBudget),
          soft_budget_micros: budget.softBudget === undefined ? null : toMicros(budget.softBudget),
          budget_duration: budget.budgetDuration,
          period_anchor: '2026-01-01T00:00:00.000Z',
          ceiling_micros: budget.ceiling === undefined ? null : toMicros(budget.ceiling),
          updated_at: isoNow(clock),
        })
        .execute();
    }
    await trx
      .insertInto('meta')
      .values({ key: 'seeded_at', value: isoNow(clock) })
      .execute();
    writeSecretFile(deps.credentialsFile, `${JSON.stringify(credentials, null, 2)}\n`);
    return { seeded: true, users: Object.keys(credentials), credentialsFile: deps.credentialsFile };
  });
}

/** Writes a file readable only by its owner, atomically (temporary file, then rename). */
export function writeSecretFile(file: string, content: string): void {
  const temporary = join(file, `../.${newId('tmp')}`);
  writeFileSync(temporary, content, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, file);
}
