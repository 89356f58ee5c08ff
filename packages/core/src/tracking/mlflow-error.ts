import type { ErrorCode } from '@aicloud/contracts';
import { AppError } from '../app-error.ts';

/** The MLflow error codes the tracking API answers with. */
export type MlflowErrorCode =
  | 'INVALID_PARAMETER_VALUE'
  | 'RESOURCE_DOES_NOT_EXIST'
  | 'RESOURCE_ALREADY_EXISTS'
  | 'INVALID_STATE'
  | 'ENDPOINT_NOT_FOUND'
  | 'MALFORMED_REQUEST'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'INTERNAL_ERROR';

const APP_CODES: Record<MlflowErrorCode, ErrorCode> = {
  INVALID_PARAMETER_VALUE: 'invalid_input',
  RESOURCE_DOES_NOT_EXIST: 'not_found',
  RESOURCE_ALREADY_EXISTS: 'conflict',
  INVALID_STATE: 'conflict',
  ENDPOINT_NOT_FOUND: 'not_found',
  MALFORMED_REQUEST: 'invalid_input',
  UNAUTHENTICATED: 'unauthenticated',
  PERMISSION_DENIED: 'forbidden',
  INTERNAL_ERROR: 'internal',
};

/** MLflow's HTTP status of each code (`RESOURCE_ALREADY_EXISTS` is 400 in MLflow, not 409). */
export const MLFLOW_HTTP_STATUS: Record<MlflowErrorCode, number> = {
  INVALID_PARAMETER_VALUE: 400,
  RESOURCE_DOES_NOT_EXIST: 404,
  RESOURCE_ALREADY_EXISTS: 400,
  INVALID_STATE: 400,
  ENDPOINT_NOT_FOUND: 404,
  MALFORMED_REQUEST: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  INTERNAL_ERROR: 500,
};

/** An AppError that also carries the MLflow code the MLflow routes answer with (`details.mlflowCode`). */
export function mlflowError(code: MlflowErrorCode, message: string): AppError {
  return new AppError(APP_CODES[code], message, { details: { mlflowCode: code } });
}

/** The MLflow code of any AppError: its own, or the nearest one for aicloud's codes. */
export function mlflowCodeOf(error: AppError): MlflowErrorCode {
  const own = error.details?.mlflowCode;
  if (typeof own === 'string' && Object.hasOwn(MLFLOW_HTTP_STATUS, own)) return own as MlflowErrorCode;
  switch (error.code) {
    case 'not_found':
      return 'RESOURCE_DOES_NOT_EXIST';
    case 'conflict':
      return 'RESOURCE_ALREADY_EXISTS';
    case 'unauthenticated':
      return 'UNAUTHENTICATED';
    case 'forbidden':
      return 'PERMISSION_DENIED';
    case 'internal':
    case 'unavailable':
      return 'INTERNAL_ERROR';
    default:
      return 'INVALID_PARAMETER_VALUE';
  }
}
