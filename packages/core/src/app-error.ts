import type { ErrorCode, FieldIssue } from '@aicloud/contracts';

/** The one failure idiom of aicloud: a code from the closed set, a message for people, and data. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly issues: FieldIssue[] | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { issues?: FieldIssue[]; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.issues = options.issues;
    this.details = options.details;
  }
}

/** Shorthand for the most common refusal: a resource that does not exist or that the caller may not see. */
export function notFound(kind: string, name: string): AppError {
  return new AppError('not_found', `${kind} '${name}' not found`);
}
