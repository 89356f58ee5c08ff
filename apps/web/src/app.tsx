import type { Client } from '@aicloud/client';
import { useQueryClient } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { ApprovalsPage } from './pages/approvals-page.tsx';
import { AuditPage } from './pages/audit-page.tsx';
import { BillPage } from './pages/bill-page.tsx';
import { CatalogPage } from './pages/catalog-page.tsx';
import { EndpointsPage } from './pages/endpoints-page.tsx';
import { HomePage } from './pages/home-page.tsx';
import { JobsPage } from './pages/jobs-page.tsx';
import { ModelsPage } from './pages/models-page.tsx';
import { NotebooksPage } from './pages/notebooks-page.tsx';
import { PlaceholderPage } from './pages/placeholder-page.tsx';
import { PoliciesPage } from './pages/policies-page.tsx';
import { SignInPage } from './pages/sign-in-page.tsx';
import { clientFor, storedToken, storeToken } from './session.ts';
import { useRoute } from './use-route.ts';

/** The portal's areas; later issues fill the placeholder pages. */
const areas = [
  { path: '/', label: 'Home' },
  { path: '/catalog', label: 'Catalog' },
  { path: '/jobs', label: 'Jobs' },
  { path: '/notebooks', label: 'Notebooks' },
  { path: '/models', label: 'Models' },
  { path: '/endpoints', label: 'Endpoints' },
  { path: '/bill', label: 'Bill' },
  { path: '/approvals', label: 'Approvals' },
  { path: '/policies', label: 'Policies' },
  { path: '/audit', label: 'Audit' },
];

function page(path: string, client: Client) {
  if (path === '/') return <HomePage client={client} />;
  if (path === '/catalog') return <CatalogPage client={client} />;
  if (path === '/jobs') return <JobsPage client={client} />;
  if (path === '/notebooks') return <NotebooksPage client={client} />;
  if (path === '/models') return <ModelsPage client={client} />;
  if (path === '/endpoints') return <EndpointsPage client={client} />;
  if (path === '/approvals') return <ApprovalsPage client={client} />;
  if (path === '/policies') return <PoliciesPage client={client} />;
  if (path === '/audit') return <AuditPage client={client} />;
  if (path === '/bill') return <BillPage client={client} />;
  const area = areas.find((candidate) => candidate.path === path);
  return <PlaceholderPage title={area?.label ?? 'Not found'} known={area !== undefined} />;
}

export function App() {
  const [token, setToken] = useState(storedToken());
  const [path, navigate] = useRoute();
  const queryClient = useQueryClient();
  const client = useMemo(() => (token ? clientFor(token) : null), [token]);

  if (!client) {
    return (
      <SignInPage
        onSignedIn={(next) => {
          storeToken(next);
          setToken(next);
        }}
      />
    );
  }
  return (
    <div className="shell">
      <nav className="sidebar" aria-label="main">
        <div className="brand">aicloud</div>
        {areas.map((area) => (
          <a
            key={area.path}
            href={area.path}
            className={area.path === path ? 'active' : ''}
            onClick={(event) => {
              event.preventDefault();
              navigate(area.path);
            }}
          >
            {area.label}
          </a>
        ))}
        <button
          type="button"
          className="sign-out"
          onClick={() => {
            storeToken(null);
            queryClient.clear();
            setToken(null);
          }}
        >
          Sign out
        </button>
      </nav>
      <main>{page(path, client)}</main>
    </div>
  );
}
