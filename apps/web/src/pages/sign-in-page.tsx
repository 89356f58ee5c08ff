import { ApiError } from '@aicloud/client';
import { useState } from 'react';
import { clientFor } from '../session.ts';

/** Sign in by pasting an API token; it is checked against the server before it is kept. */
export function SignInPage({ onSignedIn }: { onSignedIn: (token: string) => void }) {
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
      <form
        onSubmit={async (event) => {
          event.preventDefault();
          setBusy(true);
          setError(null);
          try {
            await clientFor(token.trim()).whoami();
            onSignedIn(token.trim());
          } catch (caught) {
            setError(caught instanceof ApiError ? caught.message : String(caught));
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
