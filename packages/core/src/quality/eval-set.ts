import { readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { AppError } from '../app-error.ts';

/** One line of an evaluation set. */
export interface EvalSample {
  prompt: string;
  reference: string;
}

/** The most lines and bytes one evaluation set may have. */
const EVAL_SET_MAX_SAMPLES = 500;
const EVAL_SET_MAX_BYTES = 4 * 1024 * 1024;

/**
 * Reads an evaluation set: a JSONL file of `{"prompt": "…", "reference": "…"}` at a dataset's location
 * (`file://…`); a malformed line is refused with its number.
 */
export async function readEvalSet(dataset: string, location: string): Promise<EvalSample[]> {
  let file: string;
  try {
    file = fileURLToPath(location.startsWith('file:') ? location : `file://${location}`);
  } catch {
    throw new AppError('invalid_input', `dataset ${dataset} is not a local file (${location})`);
  }
  const info = await stat(file).catch(() => null);
  if (!info?.isFile())
    throw new AppError('invalid_input', `dataset ${dataset} is not a JSONL file at ${location}`, {
      issues: [{ path: ['dataset'], message: 'expected a JSONL file' }],
    });
  if (info.size > EVAL_SET_MAX_BYTES)
    throw new AppError('invalid_input', `dataset ${dataset} is over ${EVAL_SET_MAX_BYTES} bytes`);
  const samples: EvalSample[] = [];
  for (const [index, line] of (await readFile(file, 'utf8')).split('\n').entries()) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      value = null;
    }
    const sample = value as Partial<EvalSample> | null;
    if (typeof sample?.prompt !== 'string' || typeof sample.reference !== 'string' || !sample.prompt)
      throw new AppError(
        'invalid_input',
        `dataset ${dataset}: line ${index + 1} is not {"prompt": "…", "reference": "…"}`,
        { issues: [{ path: ['dataset'], message: `line ${index + 1}` }] },
      );
    samples.push({ prompt: sample.prompt, reference: sample.reference });
  }
  if (samples.length === 0) throw new AppError('invalid_input', `dataset ${dataset} has no samples`);
  if (samples.length > EVAL_SET_MAX_SAMPLES)
    throw new AppError('invalid_input', `dataset ${dataset} has over ${EVAL_SET_MAX_SAMPLES} samples`);
  return samples;
}
