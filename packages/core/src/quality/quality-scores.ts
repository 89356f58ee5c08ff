/**
 * Reference metrics of one answer (SQuAD's normalisation: lower case, no punctuation, no articles, single
 * spaces) and the parsing of a judge model's grade.
 */

function normalize(text: string): string {
  return text
    .toLowerCase()
    .replace(/[\p{P}\p{S}]/gu, ' ')
    .replace(/\b(a|an|the)\b/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** 1 when the answer and the reference are the same text once normalised, else 0. */
export function exactMatch(answer: string, reference: string): number {
  return normalize(answer) === normalize(reference) ? 1 : 0;
}

/** Token-level F1 between an answer and its reference (tokens counted with multiplicity). */
export function tokenF1(answer: string, reference: string): number {
  const predicted = normalize(answer).split(' ').filter(Boolean);
  const expected = normalize(reference).split(' ').filter(Boolean);
  if (predicted.length === 0 || expected.length === 0) return predicted.length === expected.length ? 1 : 0;
  const counts = new Map<string, number>();
  for (const token of expected) counts.set(token, (counts.get(token) ?? 0) + 1);
  let common = 0;
  for (const token of predicted) {
    const left = counts.get(token) ?? 0;
    if (left > 0) {
      common += 1;
      counts.set(token, left - 1);
    }
  }
  if (common === 0) return 0;
  const precision = common / predicted.length;
  const recall = common / expected.length;
  return (2 * precision * recall) / (precision + recall);
}

/** The prompt a judge endpoint gets: grade the answer against the reference, 0 to 10. */
export function judgePrompt(prompt: string, reference: string, answer: string): string {
  return [
    'You grade answers. Compare the answer with the reference answer to the question and reply with one',
    'line: "Score: N" where N is an integer from 0 (wrong) to 10 (as good as the reference).',
    `Question: ${prompt}`,
    `Reference answer: ${reference}`,
    `Answer: ${answer}`,
  ].join('\n');
}

/**
 * A judge's grade as a share (0–1), read defensively: "Score: 7", "7/10", "8 out of 10" or a lone number
 * 0–10; null when the reply holds no grade in range (the sample then has no judge score).
 */
export function parseJudgeScore(reply: string): number | null {
  const patterns = [
    /score\s*[:=]?\s*(\d+(?:\.\d+)?)/i,
    /(\d+(?:\.\d+)?)\s*(?:\/|out of)\s*10\b/i,
    /^\s*(\d+(?:\.\d+)?)\s*$/,
  ];
  for (const pattern of patterns) {
    const match = pattern.exec(reply);
    if (!match) continue;
    const value = Number(match[1]);
    if (Number.isFinite(value) && value >= 0 && value <= 10) return value / 10;
  }
  return null;
}
