import { routes } from '@aicloud/contracts';
import type { Platform } from '@aicloud/core';
import { type AnyRoute, implement } from '../route.ts';

/** `/v1/providers`: external AI providers (platform-admins write; everyone lists names and models). */
export function providerRoutes(platform: Platform): AnyRoute[] {
  const { providers } = platform;
  return [
    implement(routes.registerProvider, ({ actor, body }) => providers.register(actor, body)),
    implement(routes.listProviders, async ({ actor }) => ({ items: await providers.list(actor) })),
    implement(routes.deleteProvider, async ({ actor, params }) => {
      await providers.remove(actor, params.name);
      return { deleted: true as const };
    }),
  ];
}
