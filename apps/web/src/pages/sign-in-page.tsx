import type { WhoAmI } from '@aicloud/contracts';
import { useState } from 'react';
import { portalMessage, signIn } from '../session.ts';

/** Sign in by pasting an API token; the server checks it and keeps it in an HttpOnly session cookie. */
export function SignInPage({
  notice,
  onSignedIn,
}: {
  notice: string | null;
  onSignedIn: (whoami: WhoAmI) => void;
}) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  return (
    <div className="sign-in">
      <h1>aicloud</h1>
      <p>
        Sign in with an API token. On a fresh install the demo tokens are in{' '}
        <code>.aicloud/credentials.json</code>.
      </p>
      {notice && !error && (
        <p role="status" className="notice" data-testid="session-ended">
          {notice}
        </p>
      )}
      <form
        onSubmit={async (event) => {
          event.preventDefault();
          setBusy(true);
          setError(null);
          try {
            const whoami = await signIn(token.trim());
            setToken('');
            onSignedIn(whoami);
          } catch (caught) {
            setError(portalMessage(caught));
          } finally {
            setBusy(false);
          }
        }}
      >
        <label htmlFor="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          value={token}
          onChange={(event) => setToken(event.target.value)}
          placeholder="aic_…"
        />
        <button type="submit" disabled={busy || token.trim() === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
      </form>
    </div>
  );
}
