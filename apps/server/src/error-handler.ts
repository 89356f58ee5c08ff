import { type ErrorBody, type ErrorCode, httpStatusOf } from '@aicloud/contracts';
import { AppError } from '@aicloud/core';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ZodError } from 'zod';
import { routeAuth } from './route-auth.ts';
import { sendOpenAIError } from './routes/openai-routes.ts';

/** Turns anything thrown into the one error body; unexpected errors are logged and answered as `internal`. */
export function toErrorBody(
  error: unknown,
  requestId: string,
): { status: number; body: ErrorBody; expected: boolean } {
  const make = (code: ErrorCode, message: string, extra: Partial<ErrorBody['error']> = {}) => ({
    status: httpStatusOf[code],
    body: { error: { code, message, requestId, ...extra } },
    expected: code !== 'internal',
  });
  if (error instanceof AppError) {
    return make(error.code, error.message, {
      ...(error.issues ? { issues: error.issues } : {}),
      ...(error.details ? { details: error.details } : {}),
    });
  }
  if (error instanceof ZodError) {
    const issues = error.issues.flatMap((issue) => {
      const path = issue.path.map((part) => (typeof part === 'symbol' ? String(part) : part));
      // Name each unknown field by its own path so forms and scripts can point at it.
      if (issue.code === 'unrecognized_keys')
        return issue.keys.map((key) => ({ path: [...path, key], message: 'unknown field' }));
      return [{ path, message: issue.message }];
    });
    const first = issues[0];
    const where = first && first.path.length > 0 ? `${first.path.join('.')}: ` : '';
    return make('invalid_input', `invalid request: ${where}${first?.message ?? 'malformed'}`, { issues });
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return make('payload_too_large', 'request body is too large (limit 1 MiB)');
  }
  if (fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return make('invalid_input', 'unsupported content type: send application/json');
  }
  if (
    typeof fastifyError.statusCode === 'number' &&
    fastifyError.statusCode >= 400 &&
    fastifyError.statusCode < 500
  ) {
    return make('invalid_input', `malformed request: ${fastifyError.message}`);
  }
  return make('internal', `internal error; quote request id ${requestId} to your platform team`);
}

/** Fastify error handler that answers with the one error body. */
export function errorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  if (routeAuth(request) === 'endpoint-key' && !request.actor) {
    // Malformed JSON and oversized bodies on the data plane get OpenAI's error shape.
    const { status, body } = toErrorBody(error, request.id);
    reply.hijack();
    sendOpenAIError(reply, {
      status: Math.min(status, 500),
      retryAfter: null,
      body: () => ({
        error: {
          message: body.error.message,
          type: status >= 500 ? 'server_error' : 'invalid_request_error',
          param: null,
          code: null,
        },
      }),
    });
    return;
  }
  const { status, body, expected } = toErrorBody(error, request.id);
  if (!expected) request.log.error({ err: error }, 'unexpected error');
  reply.status(status).send(body);
}
