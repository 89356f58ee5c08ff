import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** How long a login URL works, once. */
export const LOGIN_TICKET_TTL_MS = 60_000;
/** How long a notebook session cookie works (the longest a notebook lives). */
export const SESSION_TTL_MS = 12 * 3600 * 1000;
/** Name of the platform's cookie on `/notebooks/<id>/`; it is stripped before anything reaches Jupyter. */
export const NOTEBOOK_COOKIE = 'aicloud_nb';

/** Who a ticket or session acts for: the user, and the API token that asked for the login URL. */
export interface SessionOwner {
  userId: string;
  /** The session lives only as long as this token is valid (and the user a member of the notebook's team). */
  tokenId: string;
}

/**
 * One-time login tickets (in memory) and signed session cookies (HMAC with a key file of the data dir).
 * Each is bound to the API token that asked for the login URL: the proxy checks that token on every request.
 */
export interface NotebookSessions {
  /** A new one-time ticket for this user (and token) and notebook. */
  issueTicket(notebookId: string, owner: SessionOwner, now: number): { ticket: string; expiresAt: number };
  /** Redeems a ticket once; null when unknown, used, expired or for another notebook. */
  redeemTicket(notebookId: string, ticket: string, now: number): SessionOwner | null;
  /** A cookie value naming the user and token, valid for this notebook only. */
  sessionCookie(notebookId: string, owner: SessionOwner, now: number): { value: string; expiresAt: number };
  /** The user and token a cookie value names, or null when forged, expired or for another notebook. */
  verifyCookie(notebookId: string, value: string, now: number): SessionOwner | null;
}

function loadKey(keyFile: string): Buffer {
  if (!existsSync(keyFile)) {
    mkdirSync(dirname(keyFile), { recursive: true });
    try {
      writeFileSync(keyFile, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  chmodSync(keyFile, 0o600);
  const key = Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new Error(`notebook session key file ${keyFile} does not hold a 256-bit key`);
  return key;
}

const hashOf = (ticket: string) => createHash('sha256').update(ticket).digest('hex');

/** Creates the session keeper; the key file is created (mode 0600) on first use. */
export function createNotebookSessions(keyFile: string): NotebookSessions {
  const key = loadKey(keyFile);
  const tickets = new Map<string, SessionOwner & { notebookId: string; expiresAt: number }>();
  const mac = (text: string) => createHmac('sha256', key).update(text).digest('base64url');

  function prune(now: number) {
    for (const [hash, entry] of tickets) if (entry.expiresAt <= now) tickets.delete(hash);
  }

  return {
    issueTicket(notebookId, owner, now) {
      prune(now);
      const ticket = randomBytes(24).toString('base64url');
      const expiresAt = now + LOGIN_TICKET_TTL_MS;
      tickets.set(hashOf(ticket), { notebookId, userId: owner.userId, tokenId: owner.tokenId, expiresAt });
      return { ticket, expiresAt };
    },
    redeemTicket(notebookId, ticket, now) {
      const hash = hashOf(ticket);
      const entry = tickets.get(hash);
      if (!entry) return null;
      tickets.delete(hash);
      if (entry.notebookId !== notebookId || entry.expiresAt <= now) return null;
      return { userId: entry.userId, tokenId: entry.tokenId };
    },
    sessionCookie(notebookId, { userId, tokenId }, now) {
      const expiresAt = now + SESSION_TTL_MS;
      const body = `${userId}.${tokenId}.${expiresAt}`;
      return { value: `${body}.${mac(`${notebookId}.${body}`)}`, expiresAt };
    },
    verifyCookie(notebookId, value, now) {
      // A cookie of the former `user.expiry.signature` form names no token: it no longer opens anything.
      const match = /^([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)\.(\d+)\.([A-Za-z0-9_-]+)$/.exec(value);
      if (!match) return null;
      const [, userId = '', tokenId = '', expires = '', signature = ''] = match;
      const expected = Buffer.from(mac(`${notebookId}.${userId}.${tokenId}.${expires}`));
      const given = Buffer.from(signature);
      if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
      if (Number(expires) <= now) return null;
      return { userId, tokenId };
    },
  };
}
