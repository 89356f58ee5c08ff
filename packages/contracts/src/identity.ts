import { z } from 'zod';
import { Duration } from './duration.ts';

/** Names of users and teams: lower-case, digits and dashes, 2 to 40 characters. */
export const Name = z
  .string()
  .regex(
    /^[a-z][a-z0-9-]{1,39}$/,
    'must be 2-40 characters: lower-case letters, digits and dashes, starting with a letter',
  );

/** A role inside a team. */
export const TeamRole = z.enum(['member', 'manager']);
export type TeamRole = z.infer<typeof TeamRole>;

/** A team membership as seen by its user. */
export const Membership = z.object({ team: z.string(), role: TeamRole });
export type Membership = z.infer<typeof Membership>;

/** Who the caller is. */
export const WhoAmI = z.object({
  user: z.object({ id: z.string(), name: z.string(), platformAdmin: z.boolean() }),
  memberships: z.array(Membership),
  token: z.object({ id: z.string(), name: z.string(), expiresAt: z.string().nullable() }),
});
export type WhoAmI = z.infer<typeof WhoAmI>;

/** A team with its members. */
export const Team = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.string(),
  members: z.array(z.object({ user: z.string(), role: TeamRole })),
});
export type Team = z.infer<typeof Team>;

/** Create a team (platform-admins only). */
export const CreateTeamRequest = z.strictObject({ name: Name });
export type CreateTeamRequest = z.infer<typeof CreateTeamRequest>;

/** Add a user to a team; the user is created if it does not exist yet. */
export const AddMemberRequest = z.strictObject({ user: Name, role: TeamRole.default('member') });
export type AddMemberRequest = z.infer<typeof AddMemberRequest>;

/** An API token without its secret. */
export const TokenInfo = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string(),
  createdAt: z.string(),
  expiresAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
});
export type TokenInfo = z.infer<typeof TokenInfo>;

/** Create a token for the caller; `expiresIn` is a duration such as `30d` or `12h`. */
export const CreateTokenRequest = z.strictObject({
  name: z.string().min(1).max(64),
  expiresIn: Duration.optional(),
});
export type CreateTokenRequest = z.infer<typeof CreateTokenRequest>;

/** A new token: the secret is shown only here, once. */
export const CreatedToken = TokenInfo.extend({ token: z.string() });
export type CreatedToken = z.infer<typeof CreatedToken>;
