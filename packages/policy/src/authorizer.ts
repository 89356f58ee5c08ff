import type { ActivePolicy } from '@aicloud/contracts';
import type { PolicyDecision } from './policy-decision.ts';
import type { PolicyRequest } from './policy-request.ts';

/** One policy of the active set, as a platform engineer reads it: the wire's ActivePolicy (here `file` is a path). */
export type PolicyInfo = ActivePolicy;

/** What a reload did: the new digest, or why the new set was refused while the last good one stays active. */
export type ReloadResult = { ok: true; digest: string } | { ok: false; error: string };

/** The port services ask before every action that uses resources or crosses a trust line; it fails closed. */
export interface Authorizer {
  /** Decides one request; an engine failure is a deny with `errors` filled. */
  authorize(request: PolicyRequest): PolicyDecision;
  /** The sha256 digest of the active policy set. */
  readonly digest: string;
  /** The policies of the active set, in file order. */
  policies(): PolicyInfo[];
}

/** The Cedar authorizer: the port plus reloading its policy folder. */
export interface CedarAuthorizer extends Authorizer {
  /** Loads the policy folder again; an invalid set is refused and the last good one stays active. */
  reload(): ReloadResult;
}
