import { fileURLToPath } from 'node:url';

/** The folder of the default guardrails shipped with aicloud (`policies/` at the repository root). */
export const defaultPoliciesDir = fileURLToPath(new URL('../../../policies', import.meta.url));
