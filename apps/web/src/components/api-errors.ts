import { ApiError } from '@aicloud/client';
import { Admission } from '@aicloud/contracts';
import { portalMessage } from '../session.ts';

/** The message of any thrown value, in the portal's words where it has some (a wrong or ended token). */
export function errorMessage(error: unknown): string {
  return portalMessage(error);
}

/** Field problems answered by the API (`body.issues`), keyed by the first segment of their path. */
export function fieldIssues(error: unknown): Record<string, string> {
  const issues: Record<string, string> = {};
  if (!(error instanceof ApiError)) return issues;
  for (const issue of error.body?.issues ?? []) {
    const key = String(issue.path[0] ?? '');
    const where = issue.path.length > 1 ? ` (${issue.path.slice(1).join('.')})` : '';
    issues[key] = issues[key] ? `${issues[key]}; ${issue.message}${where}` : `${issue.message}${where}`;
  }
  return issues;
}

/** The admission a refusal carries in `body.details.admission`, when it does. */
export function refusedAdmission(error: unknown): Admission | null {
  if (!(error instanceof ApiError)) return null;
  const parsed = Admission.safeParse(error.body?.details?.admission);
  return parsed.success ? parsed.data : null;
}
