/** What the detector recognises; only the kind is ever reported, never the value. */
export type PiiKind =
  | 'email'
  | 'phone'
  | 'payment_card'
  | 'iban'
  | 'national_id'
  | 'api_key'
  | 'private_key'
  | 'jwt'
  | 'team_secret';

/** One sensitive span of a text: `text.slice(start, end)` is the value. */
export interface PiiFinding {
  kind: PiiKind;
  start: number;
  end: number;
}

/** Finds personal data and secrets in text; may throw, and its callers then refuse (fail closed). */
export interface PiiDetector {
  /** Non-overlapping findings in `text`, in order; `secrets` are the team's own secret values. */
  detect(text: string, secrets?: readonly string[]): PiiFinding[];
}

/** Secret values shorter than this are not searched for: they would match ordinary words. */
export const MIN_SECRET_LENGTH = 6;

interface Pattern {
  kind: PiiKind;
  regex: RegExp;
  /** The span to report for a match, or null when the match fails its checksum. */
  check?: (match: RegExpExecArray) => { start: number; end: number } | null;
}

// Every pattern starts only where its token starts (a lookbehind on the token's own characters), so a long
// run of letters or digits is scanned once, never from each of its positions: linear on any input.
const PATTERNS: Pattern[] = [
  {
    kind: 'private_key',
    // An unterminated block is redacted to the end of the text.
    regex: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----|[\s\S]*$)/g,
  },
  { kind: 'jwt', regex: /(?<![\w-])eyJ[\w-]{5,}\.eyJ[\w-]{5,}\.[\w-]{8,}/g },
  {
    kind: 'api_key',
    regex:
      /(?<![\w-])(?:sk-[\w-]{16,}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{22,}|(?:AKIA|ASIA)[0-9A-Z]{16}|xox[abposr]-[\w-]{10,}|AIza[\w-]{35})(?![\w-])/g,
  },
  { kind: 'email', regex: /(?<![\w.%+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g },
  {
    kind: 'payment_card',
    regex: /(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)/g,
    check: (match) => (luhnValid(digitsOf(match[0])) ? spanOf(match) : null),
  },
  {
    kind: 'iban',
    regex: /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])/g,
    check: ibanSpan,
  },
  {
    kind: 'national_id',
    // US Social Security number: area 000, 666 and 900–999, group 00 and serial 0000 are never issued.
    regex: /(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])/g,
  },
  {
    kind: 'national_id',
    // French NIR: sex, year, month, department (2A/2B in Corsica), commune, order, then a mod-97 key.
    regex:
      /(?<![\dA-Za-z])[12] ?\d{2} ?(?:0[1-9]|1[0-2]|[2-9]\d) ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}(?!\d)/g,
    check: (match) => (nirValid(match[0]) ? spanOf(match) : null),
  },
  {
    kind: 'phone',
    // International (E.164, with optional separators): + then 7 to 15 digits.
    regex: /(?<![\w+])\+[1-9](?:[ .-]?\(?\d\)?){6,14}(?![\d])/g,
  },
  {
    kind: 'phone',
    // North American national format: (555) 123-4567, 555-123-4567, 555.123.4567.
    regex: /(?<![\w(])(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}(?!\d)/g,
  },
  {
    kind: 'phone',
    // French national format: 06 12 34 56 78, 01.23.45.67.89, 0612345678.
    regex: /(?<!\d)0[1-9](?:[ .-]?\d{2}){4}(?!\d)/g,
  },
];

/** The order overlapping findings are settled in: a secret beats a number that looks like a phone. */
const PRIORITY: Record<PiiKind, number> = {
  private_key: 0,
  team_secret: 1,
  jwt: 2,
  api_key: 3,
  payment_card: 4,
  iban: 5,
  national_id: 6,
  email: 7,
  phone: 8,
};

/** Creates the detector: one pass over the text per pattern, and one for the team's secrets. */
export function createPiiDetector(): PiiDetector {
  return { detect: detectPii };
}

/** Finds emails, phones, cards (Luhn), IBANs (mod 97), national ids, API keys, private keys, JWTs and secrets. */
export function detectPii(text: string, secrets: readonly string[] = []): PiiFinding[] {
  const found: PiiFinding[] = [];
  for (const pattern of PATTERNS) {
    pattern.regex.lastIndex = 0;
    for (let match = pattern.regex.exec(text); match; match = pattern.regex.exec(text)) {
      const span = pattern.check ? pattern.check(match) : spanOf(match);
      if (span) found.push({ kind: pattern.kind, ...span });
    }
  }
  const values = [...new Set(secrets.filter((value) => value.length >= MIN_SECRET_LENGTH))];
  if (values.length > 0) {
    // Longest first, so a secret that contains another is found whole.
    values.sort((left, right) => right.length - left.length);
    const regex = new RegExp(values.map(escapeRegExp).join('|'), 'g');
    for (let match = regex.exec(text); match; match = regex.exec(text))
      found.push({ kind: 'team_secret', ...spanOf(match) });
  }
  return settle(found, text.length);
}

/** Replaces every finding with `[REDACTED:<kind>]`; findings must not overlap (as `detect` returns them). */
export function redact(text: string, findings: readonly PiiFinding[]): string {
  const ordered = [...findings].sort((left, right) => left.start - right.start);
  let out = '';
  let at = 0;
  for (const finding of ordered) {
    if (finding.start < at) throw new Error('overlapping findings cannot be redacted');
    out += `${text.slice(at, finding.start)}[REDACTED:${finding.kind}]`;
    at = finding.end;
  }
  return out + text.slice(at);
}

/** Keeps, of overlapping findings, the one of the strongest kind (then the longest), in text order. */
function settle(found: PiiFinding[], length: number): PiiFinding[] {
  found.sort(
    (left, right) =>
      PRIORITY[left.kind] - PRIORITY[right.kind] ||
      right.end - right.start - (left.end - left.start) ||
      left.start - right.start,
  );
  const kept: PiiFinding[] = [];
  // Characters already claimed by a kept finding: each finding is checked over its own span only.
  const taken = new Uint8Array(length);
  for (const finding of found) {
    if (taken.subarray(finding.start, finding.end).includes(1)) continue;
    taken.fill(1, finding.start, finding.end);
    kept.push(finding);
  }
  return kept.sort((left, right) => left.start - right.start);
}

function spanOf(match: RegExpExecArray): { start: number; end: number } {
  return { start: match.index, end: match.index + match[0].length };
}

function digitsOf(text: string): string {
  return text.replace(/\D/g, '');
}

/** Whether a digit string passes the Luhn check (payment cards). */
export function luhnValid(digits: string): boolean {
  if (!/^\d{13,19}$/.test(digits)) return false;
  let sum = 0;
  for (let index = 0; index < digits.length; index++) {
    let digit = digits.charCodeAt(digits.length - 1 - index) - 48;
    if (index % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/** Whether an IBAN (spaces removed) passes its mod-97 check. */
export function ibanValid(iban: string): boolean {
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(iban)) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const char of rearranged) {
    const value = char >= 'A' ? String(char.charCodeAt(0) - 55) : char;
    for (const digit of value) remainder = (remainder * 10 + (digit.charCodeAt(0) - 48)) % 97;
  }
  return remainder === 1;
}

/** IBAN lengths of common countries: a candidate followed by more text is cut to its country's length. */
const IBAN_LENGTHS: Record<string, number> = {
  AT: 20,
  BE: 16,
  CH: 21,
  DE: 22,
  DK: 18,
  ES: 24,
  FI: 18,
  FR: 27,
  GB: 22,
  IE: 22,
  IT: 27,
  LU: 20,
  NL: 18,
  NO: 15,
  PL: 28,
  PT: 25,
  SE: 24,
};

function ibanSpan(match: RegExpExecArray): { start: number; end: number } | null {
  const compact = match[0].replace(/ /g, '');
  const length = IBAN_LENGTHS[compact.slice(0, 2)] ?? compact.length;
  if (length > compact.length || !ibanValid(compact.slice(0, length))) return null;
  // Where the country's length ends in the spaced text.
  let seen = 0;
  let end = 0;
  while (seen < length) if (match[0][end++] !== ' ') seen++;
  return { start: match.index, end: match.index + end };
}

/** Whether a French NIR (social security number) has the right key: 97 − (first 13 digits mod 97). */
export function nirValid(text: string): boolean {
  const compact = text.replace(/ /g, '');
  if (compact.length !== 15) return false;
  // Corsica's departments 2A and 2B count as 19 and 18 in the key.
  const body = compact.slice(0, 13).replace(/2A/, '19').replace(/2B/, '18');
  if (!/^\d{13}$/.test(body)) return false;
  const key = Number(compact.slice(13));
  return 97 - Number(BigInt(body) % 97n) === key;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
