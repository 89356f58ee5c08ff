import { isAbsolute } from 'node:path';
import { AppError } from '../app-error.ts';

/** A parsed model source. */
export type ModelSourceRef =
  | { kind: 'job'; jobId: string }
  | { kind: 'path'; path: string }
  | { kind: 'hf'; repo: string; revision: string; pinnedCommit: boolean }
  /** An MLflow run's artifacts on this platform (registered through the MLflow registry API). */
  | { kind: 'run'; runId: string };

/** The rule names the registry refuses with (in messages and audit details). */
export const SOURCE_RULES = {
  hfRevision: 'hf-source-requires-revision',
  trustRemoteCodePinned: 'trust-remote-code-requires-pinned-source',
} as const;

const HF =
  /^hf:\/\/([A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*)(?:@([A-Za-z0-9][A-Za-z0-9._/-]*))?$/;
const COMMIT = /^[0-9a-f]{40}$/;

/** Parses `job:<id>`, `path:<absolute path>` or `hf://org/name@revision`, refusing what is not allowed. */
export function parseModelSource(source: string): ModelSourceRef {
  if (source.startsWith('job:')) {
    const jobId = source.slice(4);
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(jobId)) throw invalidSource(source, 'job:<job id>');
    return { kind: 'job', jobId };
  }
  if (source.startsWith('path:')) {
    const path = source.slice(5);
    if (!isAbsolute(path) || path.includes('\0'))
      throw invalidSource(source, 'path:<absolute path on the server>');
    return { kind: 'path', path };
  }
  if (source.startsWith('hf://')) {
    const match = HF.exec(source);
    if (!match) throw invalidSource(source, 'hf://org/name@revision');
    const revision = match[2];
    if (!revision) {
      throw new AppError(
        'invalid_input',
        `a Hugging Face source must be pinned to a revision (rule ${SOURCE_RULES.hfRevision}): write hf://${match[1]}@<commit sha or tag>`,
        {
          issues: [{ path: ['source'], message: 'hf:// sources need @revision' }],
          details: { rule: SOURCE_RULES.hfRevision },
        },
      );
    }
    return { kind: 'hf', repo: match[1]!, revision, pinnedCommit: COMMIT.test(revision) };
  }
  throw invalidSource(source, 'job:<id>, path:<absolute path> or hf://org/name@revision');
}

function invalidSource(source: string, expected: string): AppError {
  return new AppError('invalid_input', `source '${source}' is not valid: expected ${expected}`, {
    issues: [{ path: ['source'], message: `expected ${expected}` }],
  });
}

/**
 * Whether the source is pinned so that the code it carries cannot change under the same reference: local
 * paths and job outputs are pinned by their digest; a Hugging Face source only by a full commit sha
 * (a branch or a tag can be moved).
 */
export function isPinned(source: ModelSourceRef): boolean {
  return source.kind !== 'hf' || source.pinnedCommit;
}
