import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { detectPii, ibanValid, luhnValid, nirValid, type PiiKind, redact } from './pii-detector.ts';

const kindsIn = (text: string, secrets: string[] = []) =>
  detectPii(text, secrets).map((finding) => finding.kind);
const valuesIn = (text: string, secrets: string[] = []) =>
  detectPii(text, secrets).map((finding) => text.slice(finding.start, finding.end));

/** The Luhn check digit that completes `body`. */
function luhnComplete(body: string): string {
  for (let digit = 0; digit <= 9; digit++) if (luhnValid(body + digit)) return body + digit;
  throw new Error('unreachable');
}

/** Groups of four separated by `separator`, as cards are printed. */
function grouped(digits: string, separator: string): string {
  return digits.replace(/(\d{4})(?=\d)/g, `$1${separator}`);
}

// Filler that cannot join a number or an address: letters, spaces and punctuation only.
const filler = fc.stringMatching(/^[a-zA-Z ,;:!?]{0,30}$/).map((text) => ` ${text} `);
const cardBody = fc
  .integer({ min: 12, max: 18 })
  .chain((length) => fc.stringMatching(new RegExp(`^[1-9]\\d{${length - 1}}$`)));
const separator = fc.constantFrom('', ' ', '-');

describe('detectPii', () => {
  it('finds each kind and reports offsets, never a false card', () => {
    const text = [
      'Mail jane.doe+legal@example.co.uk or call +33 6 12 34 56 78, (415) 555-0199, 06.12.34.56.78.',
      'Card 4111 1111 1111 1111, not 4111 1111 1111 1112. IBAN DE89 3704 0044 0532 0130 00 please.',
      'SSN 078-05-1120 (not 000-12-3456 nor 666-12-3456), NIR 1 85 05 78 006 084 91.',
      'Keys: sk-proj-abcdefghijklmnopqrstuvwx ghp_abcdefghijklmnopqrstuvwxyz0123456789 AKIAIOSFODNN7EXAMPLE',
      'xoxb-123456789012-abcdefghij eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N',
      '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY----- done',
      'and our secret hunter2-prod-value here.',
    ].join('\n');
    const found = detectPii(text, ['hunter2-prod-value', 'abc']);
    const byValue = Object.fromEntries(
      found.map((finding) => [text.slice(finding.start, finding.end), finding.kind]),
    );
    expect(byValue).toEqual({
      'jane.doe+legal@example.co.uk': 'email',
      '+33 6 12 34 56 78': 'phone',
      '(415) 555-0199': 'phone',
      '06.12.34.56.78': 'phone',
      '4111 1111 1111 1111': 'payment_card',
      'DE89 3704 0044 0532 0130 00': 'iban',
      '078-05-1120': 'national_id',
      '1 85 05 78 006 084 91': 'national_id',
      'sk-proj-abcdefghijklmnopqrstuvwx': 'api_key',
      ghp_abcdefghijklmnopqrstuvwxyz0123456789: 'api_key',
      AKIAIOSFODNN7EXAMPLE: 'api_key',
      'xoxb-123456789012-abcdefghij': 'api_key',
      'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N': 'jwt',
      '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----': 'private_key',
      'hunter2-prod-value': 'team_secret',
    });
    // Findings come in text order and never overlap.
    for (let index = 1; index < found.length; index++)
      expect(found[index]!.start).toBeGreaterThanOrEqual(found[index - 1]!.end);
  });

  it('leaves checksum failures and never-issued ids alone', () => {
    expect(kindsIn('IBAN DE89 3704 0044 0532 0130 01')).not.toContain('iban');
    expect(kindsIn('SSN 000-12-3456, 666-12-3456, 912-12-3456, 123-00-4567, 123-45-0000')).toEqual([]);
    expect(kindsIn('NIR 1 85 05 78 006 084 92')).not.toContain('national_id');
    expect(kindsIn('order 12345 shipped to room 42, version 1.2.3')).toEqual([]);
    // A secret too short to be told from a word is not searched for.
    expect(kindsIn('the cat sat', ['cat'])).toEqual([]);
  });

  it('redacts an unterminated private key block to the end', () => {
    const text = 'before -----BEGIN PRIVATE KEY-----\nMIIE... (truncated)';
    expect(redact(text, detectPii(text))).toBe('before [REDACTED:private_key]');
  });

  it('checksums: Luhn, IBAN mod 97, NIR key', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
    expect(ibanValid('GB82WEST12345698765432')).toBe(true);
    expect(ibanValid('GB82WEST12345698765433')).toBe(false);
    expect(
      nirValid(
        '2 69 05 2A 123 456 64'.replace('64', String(97 - Number(2690519123456n % 97n)).padStart(2, '0')),
      ),
    ).toBe(true);
  });

  it('property: a Luhn-valid card in text is always found, whole', () => {
    fc.assert(
      fc.property(filler, cardBody, separator, filler, (before, body, sep, after) => {
        const card = grouped(luhnComplete(body), sep);
        const text = before + card + after;
        const found = detectPii(text).find((finding) => finding.kind === 'payment_card');
        expect(found && text.slice(found.start, found.end)).toBe(card);
      }),
      { numRuns: 500 },
    );
  });

  it('property: a Luhn-invalid number is never a card', () => {
    fc.assert(
      fc.property(filler, cardBody, separator, filler, (before, body, sep, after) => {
        const valid = luhnComplete(body);
        const last = Number(valid.at(-1));
        const invalid = valid.slice(0, -1) + String((last + 1) % 10);
        const text = before + grouped(invalid, sep) + after;
        expect(kindsIn(text)).not.toContain('payment_card' satisfies PiiKind);
      }),
      { numRuns: 500 },
    );
  });

  it('property: redacted text contains none of the findings, and nothing is found in it again', () => {
    const sensitive = fc.oneof(
      cardBody.map(luhnComplete),
      fc.constantFrom(
        'jane@example.com',
        'sk-abcdefghijklmnopqrstuvwxyz12',
        'GB82 WEST 1234 5698 7654 32',
        '+14155550199',
      ),
      fc.stringMatching(/^[a-z0-9]{4,8}@[a-z]{2,8}\.(com|org|io)$/),
      fc.constant('hunter2-prod-value'),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(filler, sensitive), { minLength: 1, maxLength: 8 }),
        filler,
        (parts, tail) => {
          const text = parts.map(([before, value]) => before + value).join('') + tail;
          const secrets = ['hunter2-prod-value'];
          const findings = detectPii(text, secrets);
          const out = redact(text, findings);
          for (const finding of findings) expect(out).not.toContain(text.slice(finding.start, finding.end));
          for (const [, value] of parts) expect(out).not.toContain(value);
          expect(detectPii(out, secrets)).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is linear on adversarial input and fast on a 100 KB prompt (figures in the output)', () => {
    const paragraph =
      'Dear team, the client Jane Roe (jane.roe@example.org, +44 20 7946 0958) paid with 4111 1111 1111 1111 ' +
      'from GB82 WEST 1234 5698 7654 32; ticket 12345 is about the contract renewal for next quarter. ';
    const prompt = paragraph.repeat(Math.ceil(100_000 / paragraph.length)).slice(0, 100_000);
    const started = performance.now();
    const findings = detectPii(prompt, ['hunter2-prod-value']);
    const detectMs = performance.now() - started;
    const redacted = redact(prompt, findings);
    const totalMs = performance.now() - started;
    console.log(
      `pii-detector: 100 KB prompt, ${findings.length} findings, detect ${detectMs.toFixed(1)} ms, detect+redact ${totalMs.toFixed(1)} ms`,
    );
    expect(redacted).not.toContain('4111 1111 1111 1111');
    expect(valuesIn(redacted)).toEqual([]);
    // Long runs that would make a naive pattern quadratic.
    for (const run of [
      'a'.repeat(100_000),
      '1 '.repeat(50_000),
      `x@${'b.'.repeat(50_000)}`,
      '-'.repeat(100_000),
    ]) {
      const at = performance.now();
      detectPii(run);
      console.log(
        `pii-detector: 100 KB adversarial run '${run.slice(0, 4)}…' ${(performance.now() - at).toFixed(1)} ms`,
      );
    }
  });
});
