/** Replaces secret values in one complete output line with `***`. */
export type SecretMasker = (line: string) => string;

// Lines of a multi-line secret (a PEM key) are masked one by one, since logs are masked line by line;
// shorter fragments would blank out ordinary text.
const minimumFragmentLength = 4;

/** Builds a masker for a workload's secret values; longer values are replaced first. */
export function createSecretMasker(values: readonly string[]): SecretMasker {
  const needles = new Set<string>();
  for (const value of values) {
    if (value === '') continue;
    needles.add(value);
    if (value.includes('\n')) {
      for (const fragment of value.split(/\r?\n/)) {
        if (fragment.trim().length >= minimumFragmentLength) needles.add(fragment);
      }
    }
  }
  const ordered = [...needles].sort((a, b) => b.length - a.length);
  if (ordered.length === 0) return (line) => line;
  return (line) => ordered.reduce((masked, needle) => masked.split(needle).join('***'), line);
}
