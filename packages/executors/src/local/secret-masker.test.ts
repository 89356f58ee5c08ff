import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogTailer } from './log-tailer.ts';
import { createSecretMasker } from './secret-masker.ts';
import { tempRoot, testSpec } from './testing/workload-test-kit.ts';
import { workloadFiles } from './workload-files.ts';

// 14 UTF-8 bytes; its base64 has `+`, `/` and one `=`, and its URL encodings differ from one another.
const secret = 'sk-6e~w2? é/x';
const bytes = Buffer.from(secret, 'utf8');

/** Every form the masker covers, as a program would print it. */
const forms: Record<string, string> = {
  raw: secret,
  hexLower: bytes.toString('hex'),
  hexUpper: bytes.toString('hex').toUpperCase(),
  base64: bytes.toString('base64'),
  base64Unpadded: bytes.toString('base64').replace(/=+$/, ''),
  base64Url: bytes.toString('base64url'),
  base64UrlPadded: bytes.toString('base64').replaceAll('+', '-').replaceAll('/', '_'),
  uriComponent: encodeURIComponent(secret),
  formPlus: encodeURIComponent(secret).replaceAll('%20', '+'),
  formSerializer: new URLSearchParams({ k: secret }).toString().slice(2),
};

describe('createSecretMasker', () => {
  it('replaces every occurrence of every secret, the longest first', () => {
    const mask = createSecretMasker(['abc123', 'abc123-extended', 'zz-top']);
    expect(mask('key=abc123-extended other=abc123 and zz-top abc123')).toBe('key=*** other=*** and *** ***');
  });
  it('masks each line of a multi-line secret, since logs are masked line by line', () => {
    const pem = '-----BEGIN KEY-----\nMIIEvQIBADANBgkq\n-----END KEY-----';
    const mask = createSecretMasker([pem]);
    expect(mask('MIIEvQIBADANBgkq')).toBe('***');
    expect(mask('header -----BEGIN KEY-----')).toBe('header ***');
    expect(mask(`pem=${Buffer.from(pem).toString('base64')};`)).toBe('pem=***;');
    expect(mask(`pem=${encodeURIComponent(pem)}&`)).toBe('pem=***&');
  });
  it('ignores empty secrets and leaves lines without secrets alone', () => {
    const mask = createSecretMasker(['', 'secret-value']);
    expect(mask('nothing to hide')).toBe('nothing to hide');
    expect(createSecretMasker([])('x')).toBe('x');
  });

  it('knows the forms apart (the test would prove less if two were equal)', () => {
    expect(new Set(Object.values(forms)).size).toBe(Object.keys(forms).length);
  });

  it.each(Object.entries(forms))('masks the %s form', (_, form) => {
    const mask = createSecretMasker([secret]);
    expect(mask(`a=${form} b="${form}"`)).toBe('a=*** b="***"');
  });

  it('masks a value inside a longer base64 string at each of the three alignments', () => {
    const mask = createSecretMasker([secret]);
    for (const before of [3, 4, 5, 6, 7, 8]) {
      // (The byte after it, 0xc0, keeps the value's own unpadded base64 from matching at the aligned offset.)
      const blob = Buffer.concat([
        Buffer.from('\x00user:\xff\x10'.slice(0, before), 'latin1'),
        bytes,
        Buffer.from([0xc0, 59]),
      ]);
      for (const encoded of [blob.toString('base64'), blob.toString('base64url')]) {
        // Exactly the digits made of the value's bits alone are masked; the one digit at each edge that
        // mixes in a neighbour's bits stays, like the neighbours' own digits.
        const first = Math.ceil((8 * before) / 6);
        const end = Math.floor((8 * (before + bytes.length)) / 6);
        expect(mask(`Authorization: Basic ${encoded}`)).toBe(
          `Authorization: Basic ${encoded.slice(0, first)}***${encoded.slice(end)}`,
        );
      }
    }
  });

  it('masks overlapping secrets as one stretch, leaving no piece of either', () => {
    const mask = createSecretMasker(['abcd1234', '1234wxyz']);
    expect(mask('x abcd1234wxyz y abcd1234 1234wxyz')).toBe('x *** y *** ***');
  });

  it('masks tiny values only as they are, and base64 inside longer strings from 6 bytes on', () => {
    const tiny = createSecretMasker(['abc']);
    expect(tiny('abc 616263 YWJj abc%20')).toBe('*** 616263 YWJj ***%20');

    const short = createSecretMasker(['pass1']);
    expect(short('70617373 7061737331 cGFzczE= cGFzczE')).toBe('70617373 *** *** ***');
    // Shifted by one byte, the inner part of a 5-byte value's base64 is only 5 digits: not masked.
    const shifted = Buffer.from('xpass1y').toString('base64');
    expect(short(shifted)).toBe(shifted);

    const six = createSecretMasker(['pass12']);
    const inner = Buffer.from('xpass12y').toString('base64');
    expect(six(inner)).not.toBe(inner);
    expect(six(inner)).toContain('***');
  });

  it('masks every form also when a program writes it in two pieces across reads', async () => {
    const root = tempRoot();
    const files = { ...workloadFiles(testSpec(root, { id: 'job_split', command: 'true' })), dir: root };
    for (const stream of ['stdout', 'stderr', 'offsets'] as const) files[stream] = join(root, stream);
    writeFileSync(files.stdout, '');
    writeFileSync(files.stderr, '');
    const logFile = join(root, 'output.log');
    const tailer = createLogTailer({
      id: 'job_split',
      files,
      logFile,
      mask: createSecretMasker([secret]),
      emit: () => {},
      now: () => 0,
    });
    const embedded = Buffer.concat([Buffer.from('user:'), bytes, Buffer.from('!')]).toString('base64');
    const written = [...Object.values(forms).map((form) => `x=${form}.`), `basic ${embedded}`];
    for (const line of written) {
      const half = Math.floor(line.length / 2);
      appendFileSync(files.stdout, line.slice(0, half));
      await tailer.poll();
      appendFileSync(files.stdout, `${line.slice(half)}\n`);
      await tailer.poll();
    }
    await tailer.finish();

    const logged = readFileSync(logFile, 'utf8').split('\n').slice(0, -1);
    expect(logged).toHaveLength(written.length);
    expect(logged.slice(0, -1)).toEqual(Object.values(forms).map(() => 'x=***.'));
    expect(logged.at(-1)).toMatch(/^basic [A-Za-z0-9+/]{0,8}\*\*\*[A-Za-z0-9+/=]{0,4}$/);
  });
});
