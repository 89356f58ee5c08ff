/** Replaces secret values in one complete output line with `***`. */
export type SecretMasker = (line: string) => string;

// Lines of a multi-line secret (a PEM key) are masked one by one, since logs are masked line by line;
// shorter fragments would blank out ordinary text.
const minimumFragmentLength = 4;
// Hex, URL-encoded and whole-value base64 forms are masked for values of at least this many UTF-8 bytes
// (a 4-byte value is 8 hex digits or 6 base64 digits); shorter values are masked as they are only.
const minimumEncodedBytes = 4;
// The inner part of a value's base64 inside a longer base64 string is masked for values of at least this
// many UTF-8 bytes, so that every such part is at least 7 base64 digits (42 bits) and does not hit
// unrelated base64 by chance.
const minimumEmbeddedBase64Bytes = 6;

/**
 * Builds a masker for a workload's secret values. Besides each value as it is (and each line of a
 * multi-line value), it masks the value's hex (lower and upper case), URL encoding (`encodeURIComponent`,
 * with `+` for spaces, and the `application/x-www-form-urlencoded` serializer's) and base64 (standard and
 * URL-safe, with or without padding, and the inner part of its encoding at each of the three alignments a
 * value can have inside a longer base64 string). All forms are found in one pass over a line by an
 * Aho-Corasick automaton built here once; overlapping matches are masked together as one `***`.
 */
export function createSecretMasker(values: readonly string[]): SecretMasker {
  const needles = new Set<string>();
  for (const value of values) {
    for (const form of secretForms(value)) needles.add(form);
  }
  if (needles.size === 0) return (line) => line;
  const automaton = buildAutomaton([...needles]);
  return (line) => maskLine(automaton, line);
}

/** The strings masked for one secret value: the value itself and its encodings. */
function secretForms(value: string): string[] {
  if (value === '') return [];
  const forms = [value];
  if (value.includes('\n')) {
    for (const fragment of value.split(/\r?\n/)) {
      if (fragment.trim().length >= minimumFragmentLength) forms.push(fragment);
    }
  }
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length < minimumEncodedBytes) return forms;

  const hex = bytes.toString('hex');
  forms.push(hex, hex.toUpperCase());

  try {
    const component = encodeURIComponent(value);
    forms.push(
      component,
      component.replaceAll('%20', '+'),
      new URLSearchParams([['', value]]).toString().slice(1),
    );
  } catch {
    // A value with a lone surrogate has no URL encoding (encodeURIComponent throws), so none to mask.
  }

  const base64 = [bytes.toString('base64'), bytes.toString('base64').replace(/=+$/, '')];
  if (bytes.length >= minimumEmbeddedBase64Bytes) {
    // Preceded by `shift` bytes (mod 3), the value's bits start at bit 8·shift; a base64 digit covers
    // bits 6i..6i+5, so the digits wholly inside the value's bits are the same whatever surrounds it.
    for (const shift of [0, 1, 2]) {
      const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString('base64');
      base64.push(encoded.slice(Math.ceil((8 * shift) / 6), Math.floor((8 * (shift + bytes.length)) / 6)));
    }
  }
  for (const form of base64) forms.push(form, form.replaceAll('+', '-').replaceAll('/', '_'));
  return forms;
}

/** An Aho-Corasick automaton over UTF-16 code units, its children in compressed rows. */
interface Automaton {
  /** Symbol of each ASCII code unit; 0 for a code unit in no needle. */
  asciiSymbols: Int32Array;
  /** Symbols of the other code units that occur in needles. */
  otherSymbols: Map<number, number>;
  /** The root's child for each symbol (0, the root itself, when none). */
  rootChildren: Int32Array;
  /** Children of state s: symbols and states at childStart[s]..childStart[s + 1]. */
  childStart: Int32Array;
  childSymbol: Int32Array;
  childState: Int32Array;
  /** The state of the longest proper suffix that is also a path from the root. */
  fail: Int32Array;
  /** Length of the longest needle that ends at this state (0 when none does). */
  longest: Int32Array;
}

function buildAutomaton(needles: readonly string[]): Automaton {
  const asciiSymbols = new Int32Array(128);
  const otherSymbols = new Map<number, number>();
  let symbolCount = 1;
  const symbolOf = (code: number): number => {
    const known = code < 128 ? asciiSymbols[code]! : (otherSymbols.get(code) ?? 0);
    if (known !== 0) return known;
    const symbol = symbolCount++;
    if (code < 128) asciiSymbols[code] = symbol;
    else otherSymbols.set(code, symbol);
    return symbol;
  };

  const children: Map<number, number>[] = [new Map()];
  const ends: number[] = [0];
  for (const needle of needles) {
    let state = 0;
    for (let i = 0; i < needle.length; i++) {
      const symbol = symbolOf(needle.charCodeAt(i));
      let next = children[state]!.get(symbol);
      if (next === undefined) {
        next = children.length;
        children.push(new Map());
        ends.push(0);
        children[state]!.set(symbol, next);
      }
      state = next;
    }
    ends[state] = Math.max(ends[state]!, needle.length);
  }

  const states = children.length;
  const fail = new Int32Array(states);
  const longest = Int32Array.from(ends);
  const queue: number[] = [];
  for (const child of children[0]!.values()) queue.push(child);
  for (let head = 0; head < queue.length; head++) {
    const state = queue[head]!;
    longest[state] = Math.max(longest[state]!, longest[fail[state]!]!);
    for (const [symbol, child] of children[state]!) {
      let candidate = fail[state]!;
      while (candidate !== 0 && !children[candidate]!.has(symbol)) candidate = fail[candidate]!;
      fail[child] = children[candidate]!.get(symbol) ?? 0;
      queue.push(child);
    }
  }

  const rootChildren = new Int32Array(symbolCount);
  for (const [symbol, child] of children[0]!) rootChildren[symbol] = child;
  const childStart = new Int32Array(states + 1);
  const childSymbol = new Int32Array(states);
  const childState = new Int32Array(states);
  let at = 0;
  for (let state = 0; state < states; state++) {
    childStart[state] = at;
    if (state === 0) continue;
    for (const [symbol, child] of children[state]!) {
      childSymbol[at] = symbol;
      childState[at] = child;
      at++;
    }
  }
  childStart[states] = at;
  return { asciiSymbols, otherSymbols, rootChildren, childStart, childSymbol, childState, fail, longest };
}

/** Masks every stretch covered by matches, found in one left-to-right pass; linear in the line. */
function maskLine(automaton: Automaton, line: string): string {
  const { asciiSymbols, otherSymbols, rootChildren, childStart, childSymbol, childState, fail, longest } =
    automaton;
  // Matches, merged where they overlap, as [start, end) pairs; ends only grow during the pass.
  const spans: number[] = [];
  let state = 0;
  for (let i = 0; i < line.length; i++) {
    const code = line.charCodeAt(i);
    const symbol = code < 128 ? asciiSymbols[code]! : (otherSymbols.get(code) ?? 0);
    if (symbol === 0) {
      state = 0;
      continue;
    }
    for (;;) {
      if (state === 0) {
        state = rootChildren[symbol]!;
        break;
      }
      let next = 0;
      for (let c = childStart[state]!, stop = childStart[state + 1]!; c < stop; c++) {
        if (childSymbol[c] === symbol) {
          next = childState[c]!;
          break;
        }
      }
      if (next !== 0) {
        state = next;
        break;
      }
      state = fail[state]!;
    }
    const length = longest[state]!;
    if (length === 0) continue;
    let start = i + 1 - length;
    while (spans.length > 0 && start < spans[spans.length - 1]!) {
      spans.pop();
      start = Math.min(start, spans.pop()!);
    }
    spans.push(start, i + 1);
  }
  if (spans.length === 0) return line;
  let masked = '';
  let from = 0;
  for (let s = 0; s < spans.length; s += 2) {
    masked += `${line.slice(from, spans[s])}***`;
    from = spans[s + 1]!;
  }
  return masked + line.slice(from);
}
