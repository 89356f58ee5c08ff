import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** How long a login URL works, once. */
export const LOGIN_TICKET_TTL_MS = 60_000;
/** How long a notebook session cookie works (the longest a notebook lives). */
export const SESSION_TTL_MS = 12 * 3600 * 1000;
/** Name of the platform's cookie on `/notebooks/<id>/`; it is stripped before anything reaches Jupyter. */
export const NOTEBOOK_COOKIE = 'aicloud_nb';

/** One-time login tickets (in memory) and signed session cookies (HMAC with a key file of the data dir). */
export interface NotebookSessions {
  /** A new one-time ticket for this user and notebook. */
  issueTicket(notebookId: string, userId: string, now: number): { ticket: string; expiresAt: number };
  /** Redeems a ticket once; null when unknown, used, expired or for another notebook. */
  redeemTicket(notebookId: string, ticket: string, now: number): { userId: string } | null;
  /** A cookie value naming the user, valid for this notebook only. */
  sessionCookie(notebookId: string, userId: string, now: number): { value: string; expiresAt: number };
  /** The user a cookie value names, or null when forged, expired or for another notebook. */
  verifyCookie(notebookId: string, value: string, now: number): { userId: string } | null;
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
  const tickets = new Map<string, { notebookId: string; userId: string; expiresAt: number }>();
  const mac = (text: string) => createHmac('sha256', key).update(text).digest('base64url');

  function prune(now: number) {
    for (const [hash, entry] of tickets) if (entry.expiresAt <= now) tickets.delete(hash);
  }

  return {
    issueTicket(notebookId, userId, now) {
      prune(now);
      const ticket = randomBytes(24).toString('base64url');
      const expiresAt = now + LOGIN_TICKET_TTL_MS;
      tickets.set(hashOf(ticket), { notebookId, userId, expiresAt });
      return { ticket, expiresAt };
    },
    redeemTicket(notebookId, ticket, now) {
      const hash = hashOf(ticket);
      const entry = tickets.get(hash);
      if (!entry) return null;
      tickets.delete(hash);
      if (entry.notebookId !== notebookId || entry.expiresAt <= now) return null;
      return { userId: entry.userId };
    },
    sessionCookie(notebookId, userId, now) {
      const expiresAt = now + SESSION_TTL_MS;
      const body = `${userId}.${expiresAt}`;
      return { value: `${body}.${mac(`${notebookId}.${body}`)}`, expiresAt };
    },
    verifyCookie(notebookId, value, now) {
      const match = /^([A-Za-z0-9_]+)\.(\d+)\.([A-Za-z0-9_-]+)$/.exec(value);
      if (!match) return null;
      const [, userId = '', expires = '', signature = ''] = match;
      const expected = Buffer.from(mac(`${notebookId}.${userId}.${expires}`));
      const given = Buffer.from(signature);
      if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
      if (Number(expires) <= now) return null;
      return { userId };
    },
  };
}
