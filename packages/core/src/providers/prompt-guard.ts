import { type PiiDetector, type PiiFinding, type PiiKind, redact } from './pii-detector.ts';

/** What the detector found in a request's messages, and the messages with every finding redacted. */
export interface GuardedPrompt {
  /** Kinds found, each once, in the order first met; empty when the prompt is clean. */
  kinds: PiiKind[];
  findings: number;
  /** A copy of the messages with every string redacted; the caller's body is not changed. */
  messages: unknown[];
}

/**
 * Runs the detector over every string in every message (content strings, text parts, tool-call arguments,
 * names) and redacts what it finds, then scans the result again: a finding left after redaction, or any
 * error or malformed answer of the detector, throws, so the caller refuses the request (fail closed).
 */
export function guardMessages(
  detector: PiiDetector,
  messages: readonly unknown[],
  secrets: readonly string[],
): GuardedPrompt {
  const kinds = new Set<PiiKind>();
  let count = 0;
  const scan = (text: string): string => {
    const findings = detector.detect(text, secrets);
    if (!Array.isArray(findings)) throw new Error('the detector returned no findings list');
    if (findings.length === 0) return text;
    for (const finding of findings) checkFinding(finding, text.length);
    for (const finding of findings) kinds.add(finding.kind);
    count += findings.length;
    const redacted = redact(text, findings);
    if (detector.detect(redacted, secrets).length > 0) throw new Error('redacted text still holds findings');
    return redacted;
  };
  const walk = (value: unknown, key: string | null): unknown => {
    if (typeof value === 'string') return STRUCTURAL.has(key ?? '') ? value : scan(value);
    if (Array.isArray(value)) return value.map((item) => walk(item, null));
    if (typeof value === 'object' && value !== null) {
      const part = value as Record<string, unknown>;
      // Images, audio and files cannot be read by a text detector: they are not sent (fail closed).
      if (typeof part.type === 'string' && key === null && !TEXT_PARTS.has(part.type) && !('role' in part))
        throw new UnreadablePartError(part.type);
      return Object.fromEntries(Object.entries(part).map(([name, inner]) => [name, walk(inner, name)]));
    }
    return value;
  };
  const guarded = messages.map((message) => walk(message, 'message'));
  return { kinds: [...kinds], findings: count, messages: guarded };
}

/** A message part the detector cannot read (an image, audio, a file): refused, never forwarded unchecked. */
export class UnreadablePartError extends Error {
  constructor(readonly partType: string) {
    super(`message parts of type ${partType} cannot be checked for personal data`);
  }
}

// Keys whose values are protocol words, not text a person wrote: left as they are.
const STRUCTURAL = new Set(['role', 'type', 'id', 'tool_call_id']);
const TEXT_PARTS = new Set(['text', 'input_text', 'function', 'tool_call', 'refusal']);

function checkFinding(finding: PiiFinding, length: number): void {
  if (
    typeof finding !== 'object' ||
    finding === null ||
    !Number.isInteger(finding.start) ||
    !Number.isInteger(finding.end) ||
    finding.start < 0 ||
    finding.end > length ||
    finding.end <= finding.start ||
    typeof finding.kind !== 'string'
  )
    throw new Error('the detector returned a malformed finding');
}
