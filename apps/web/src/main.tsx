import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App, SESSION_ENDED } from './app.tsx';
import { isSignedOut } from './session.ts';
import './styles.css';

/** Any request answered "unauthenticated" means the session's token was revoked or expired: sign out here too. */
const onError = (error: unknown) => {
  if (isSignedOut(error)) window.dispatchEvent(new Event(SESSION_ENDED));
};

const queryClient = new QueryClient({
  queryCache: new QueryCache({ onError }),
  mutationCache: new MutationCache({ onError }),
  defaultOptions: { queries: { retry: false, refetchOnWindowFocus: false } },
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <App />
    </QueryClientProvider>
  </StrictMode>,
);
