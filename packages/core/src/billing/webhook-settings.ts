import { AppError } from '../app-error.ts';
import type { AuditService } from '../audit/audit-service.ts';
import type { Clock } from '../clock.ts';
import type { Actor } from '../identity/principal.ts';
import type { Store } from '../store/open-store.ts';
import { BILLING_SETTING_KEYS } from './billing-settings.ts';
import { resolveWebhookTarget, WebhookRefused, type WebhookResolver } from './webhook-guard.ts';

/** The platform's webhook settings (the budget alerts' webhook URL), for platform-admins. */
export interface WebhookSettings {
  /**
   * Saves where budget alerts are POSTed (null: nowhere). Refuses, as `invalid_input` on `url`, a URL
   * whose host is not allowed or resolves to an address that is not (see `WebhookPolicy`).
   */
  setBudgetWebhook(actor: Actor, url: string | null): Promise<{ url: string | null }>;
}

/** Creates the webhook settings service. */
export function createWebhookSettings(deps: {
  store: Store;
  audit: AuditService;
  clock: Clock;
  /** The platform's `webhookAllowedHosts`. */
  allowedHosts: readonly string[];
  resolve?: WebhookResolver;
}): WebhookSettings {
  const { store, audit } = deps;
  const policy = { allowedHosts: deps.allowedHosts };
  return {
    async setBudgetWebhook(actor, url) {
      if (!actor.principal.platformAdmin) {
        await audit.record({
          actor: actor.principal.userName,
          action: 'settings.budget_webhook',
          resource: 'settings/budget_webhook_url',
          outcome: 'deny',
          requestId: actor.requestId,
          details: { reason: 'not a platform-admin' },
        });
        throw new AppError('forbidden', 'only platform-admins set the budget webhook');
      }
      if (url !== null) {
        try {
          // Checked now and again at every send (DNS answers change).
          await resolveWebhookTarget(url, policy, deps.resolve);
        } catch (error) {
          const reason =
            error instanceof WebhookRefused
              ? error.message
              : `its host does not resolve (${(error as Error).message})`;
          throw new AppError('invalid_input', `url: the budget webhook ${url} is refused: ${reason}`, {
            issues: [{ path: ['url'], message: reason }],
          });
        }
      }
      const key = BILLING_SETTING_KEYS.budgetWebhook;
      await store.db.transaction().execute(async (trx) => {
        await trx.deleteFrom('settings').where('key', '=', key).execute();
        if (url !== null)
          await trx
            .insertInto('settings')
            .values({ key, value: JSON.stringify(url) })
            .execute();
        await audit.append(trx, {
          actor: actor.principal.userName,
          action: 'settings.budget_webhook',
          resource: 'settings/budget_webhook_url',
          outcome: 'success',
          requestId: actor.requestId,
          // The host only: webhook URLs often carry a secret in their path.
          details: { host: url === null ? null : new URL(url).host },
        });
      });
      return { url };
    },
  };
}
