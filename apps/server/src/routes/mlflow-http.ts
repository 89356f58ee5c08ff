import {
  type Actor,
  AppError,
  MLFLOW_HTTP_STATUS,
  type MlflowErrorCode,
  type MlflowInput,
  mlflowCodeOf,
  mlflowError,
} from '@aicloud/core';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/** Answers an error in MLflow's shape `{"error_code", "message"}` with MLflow's status. */
export function sendMlflowError(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  let code: MlflowErrorCode;
  let message: string;
  if (error instanceof AppError) {
    code = mlflowCodeOf(error);
    message = error.message;
  } else {
    const fastifyError = error as FastifyError;
    if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      code = 'INVALID_PARAMETER_VALUE';
      message = 'Requests must be at most 1048576 bytes: split log-batch calls';
    } else if (
      typeof fastifyError.statusCode === 'number' &&
      fastifyError.statusCode >= 400 &&
      fastifyError.statusCode < 500
    ) {
      code = 'MALFORMED_REQUEST';
      message = `Malformed request: ${fastifyError.message}`;
    } else {
      request.log.error({ err: error }, 'unexpected error');
      code = 'INTERNAL_ERROR';
      message = `internal error; quote request id ${request.id} to your platform team`;
    }
  }
  if (code === 'INTERNAL_ERROR' && error instanceof AppError)
    request.log.error({ err: error }, 'unexpected error');
  reply.status(MLFLOW_HTTP_STATUS[code]).type('application/json').send({ error_code: code, message });
}

/** MLflow's request fields: the query string of a GET (or of a call without a body), else the JSON body. */
export function inputOf(request: FastifyRequest): MlflowInput {
  const source = request.method === 'GET' || request.body == null ? request.query : request.body;
  if (source === undefined || source === null) return {};
  if (typeof source !== 'object' || Array.isArray(source)) {
    throw mlflowError('MALFORMED_REQUEST', 'The request body must be a JSON object');
  }
  return source as MlflowInput;
}

/** The authenticated caller (the app's hook authenticates every MLflow route). */
export function actorOf(request: FastifyRequest): Actor {
  if (!request.actor) throw mlflowError('UNAUTHENTICATED', 'missing API token');
  return request.actor;
}

/** MLflow's answer to a path it does not have: ENDPOINT_NOT_FOUND in its JSON, never the portal's HTML. */
export function notFound(request: FastifyRequest, reply: FastifyReply) {
  sendMlflowError(
    mlflowError('ENDPOINT_NOT_FOUND', `No API endpoint ${request.method} ${request.url.split('?')[0]}`),
    request,
    reply,
  );
}
