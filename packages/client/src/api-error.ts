import type { ErrorBody, ErrorCode } from '@aicloud/contracts';

/** An error answered by the aicloud API (or the failure to reach it), with the code from the closed set. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly body: ErrorBody['error'] | undefined;

  constructor(code: ErrorCode, message: string, status: number, body?: ErrorBody['error']) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
    this.body = body;
  }
}
