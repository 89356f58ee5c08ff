import { Command } from 'commander';
import { clientFor } from '../context.ts';
import { saveProfile } from '../profile.ts';

/** `aicloud login`: checks the token against the server, then saves the profile. */
export function loginCommand(): Command {
  return new Command('login')
    .description('sign in: check a token against a server and save it as your profile')
    .requiredOption('--url <url>', 'the aicloud server, e.g. http://127.0.0.1:8787')
    .requiredOption('--token <token>', 'an API token (aic_…)')
    .action(async (options: { url: string; token: string }) => {
      const me = await clientFor(options.url, options.token, 'flag').whoami();
      const file = saveProfile({ url: options.url, token: options.token });
      process.stdout.write(`Signed in to ${options.url} as ${me.user.name}. Profile saved to ${file}\n`);
    });
}
