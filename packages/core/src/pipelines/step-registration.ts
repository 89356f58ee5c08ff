import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { ModelName, ModelRuntime } from '@aicloud/contracts';
import { z } from 'zod';
import { AppError } from '../app-error.ts';

/** The file a step writes (the Python SDK's `register_model`) to have its output registered as a model version. */
export const REGISTER_FILE = 'aicloud-register.json';

const MAX_REGISTER_FILE = 64 * 1024;

/** What a step asks to be registered: the model's name, its evaluation metrics, tags and runtime. */
export const StepRegistration = z.strictObject({
  name: ModelName,
  metrics: z.record(z.string().min(1).max(64), z.number()).default({}),
  tags: z.record(z.string().min(1).max(64), z.string().max(256)).default({}),
  runtime: ModelRuntime.optional(),
});
export type StepRegistration = z.infer<typeof StepRegistration>;

/**
 * Reads a succeeded step's registration request from its output dir without following a link (the job wrote
 * it, so it could point anywhere on the server); null when the step asked for none. A bad file is the step's
 * mistake: `invalid_input`.
 */
export function readStepRegistration(outputDir: string): StepRegistration | null {
  let fd: number;
  try {
    fd = openSync(
      join(outputDir, REGISTER_FILE),
      constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
    );
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw new AppError(
      'invalid_input',
      `${REGISTER_FILE} cannot be read (${code}); write a plain file, not a link`,
    );
  }
  let text: string;
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new AppError('invalid_input', `${REGISTER_FILE} is not a regular file`);
    if (stats.size > MAX_REGISTER_FILE)
      throw new AppError('invalid_input', `${REGISTER_FILE} is over ${MAX_REGISTER_FILE} bytes`);
    const buffer = Buffer.alloc(stats.size);
    text = buffer.subarray(0, readSync(fd, buffer, 0, buffer.length, 0)).toString('utf8');
  } finally {
    closeSync(fd);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new AppError('invalid_input', `${REGISTER_FILE} is not JSON`);
  }
  const parsed = StepRegistration.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AppError(
      'invalid_input',
      `${REGISTER_FILE}: ${issue.path.join('.') || '(file)'} ${issue.message}`,
    );
  }
  return parsed.data;
}
