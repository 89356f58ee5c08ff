import { createHash, randomBytes } from 'node:crypto';

/** A new API token secret: a recognisable prefix and 32 random bytes. */
export function newTokenSecret(): string {
  return `aic_${randomBytes(32).toString('base64url')}`;
}

/** The stored form of a token: tokens are 256-bit random, so a plain SHA-256 is enough (no password stretching). */
export function hashToken(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** The part of a token safe to show in lists. */
export function tokenPrefix(secret: string): string {
  return secret.slice(0, 10);
}
