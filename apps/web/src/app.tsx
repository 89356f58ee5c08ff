import type { Client } from '@aicloud/client';
import type { WhoAmI } from '@aicloud/contracts';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useMemo, useState } from 'react';
import { ApprovalPage } from './pages/approval-page.tsx';
import { ApprovalsPage } from './pages/approvals-page.tsx';
import { AuditPage } from './pages/audit-page.tsx';
import { BillPage } from './pages/bill-page.tsx';
import { CatalogPage } from './pages/catalog-page.tsx';
import { EndpointPage } from './pages/endpoint-page.tsx';
import { EndpointsPage } from './pages/endpoints-page.tsx';
import { ExperimentPage } from './pages/experiment-page.tsx';
import { ExperimentsPage } from './pages/experiments-page.tsx';
import { HomePage } from './pages/home-page.tsx';
import { JobPage } from './pages/job-page.tsx';
import { JobsPage } from './pages/jobs-page.tsx';
import { LineagePage } from './pages/lineage-page.tsx';
import { ModelPage } from './pages/model-page.tsx';
import { ModelsPage } from './pages/models-page.tsx';
import { NotebookPage } from './pages/notebook-page.tsx';
import { NotebooksPage } from './pages/notebooks-page.tsx';
import { PipelinePage } from './pages/pipeline-page.tsx';
import { PipelinesPage } from './pages/pipelines-page.tsx';
import { PlaceholderPage } from './pages/placeholder-page.tsx';
import { PoliciesPage } from './pages/policies-page.tsx';
import { SignInPage } from './pages/sign-in-page.tsx';
import { isSignedOut, portalClient, signOut } from './session.ts';
import { navigate, segments, useRoute } from './use-route.ts';

/** The portal's areas. */
const areas = [
  { path: '/', label: 'Home' },
  { path: '/catalog', label: 'Catalog' },
  { path: '/jobs', label: 'Jobs' },
  { path: '/notebooks', label: 'Notebooks' },
  { path: '/models', label: 'Models' },
  { path: '/endpoints', label: 'Endpoints' },
  { path: '/experiments', label: 'Experiments' },
  { path: '/pipelines', label: 'Pipelines' },
  { path: '/bill', label: 'Bill' },
  { path: '/approvals', label: 'Approvals' },
  { path: '/policies', label: 'Policies' },
  { path: '/audit', label: 'Audit' },
];

/** Fired (main.tsx) when any request answers that the session is gone: its token was revoked or expired. */
export const SESSION_ENDED = 'aicloud:session-ended';

/** The area a path belongs to, for the sidebar: `/jobs/ID` is in Jobs, `/notebook/ID` in Notebooks. */
function areaOf(path: string): string {
  const first = segments(path)[0];
  if (!first) return '/';
  return first === 'notebook' ? '/notebooks' : `/${first}`;
}

function page(path: string, client: Client) {
  const [area, ...rest] = segments(path);
  if (rest.length > 0) {
    if (area === 'jobs' && rest.length === 1) return <JobPage key={rest[0]} client={client} id={rest[0]!} />;
    if (area === 'models' && rest.length === 2)
      return <ModelPage key={path} client={client} team={rest[0]!} name={rest[1]!} />;
    if (area === 'endpoints' && rest.length === 1)
      return <EndpointPage key={rest[0]} client={client} name={rest[0]!} />;
    if (area === 'notebook' && rest.length === 1)
      return <NotebookPage key={rest[0]} client={client} id={rest[0]!} />;
    if (area === 'experiments' && rest.length === 1)
      return <ExperimentPage key={rest[0]} client={client} id={rest[0]!} />;
    if (area === 'pipelines' && rest.length === 1)
      return <PipelinePage key={rest[0]} client={client} id={rest[0]!} />;
    if (area === 'lineage' && rest.length === 2)
      return <LineagePage key={path} client={client} kind={rest[0]!} reference={rest[1]!} />;
    if (area === 'approvals' && rest.length === 1)
      return <ApprovalPage key={rest[0]} client={client} id={rest[0]!} />;
    return <PlaceholderPage title="Not found" known={false} />;
  }
  if (area === undefined) return <HomePage client={client} />;
  if (area === 'catalog') return <CatalogPage client={client} />;
  if (area === 'jobs') return <JobsPage client={client} />;
  if (area === 'notebooks') return <NotebooksPage client={client} />;
  if (area === 'models') return <ModelsPage client={client} />;
  if (area === 'endpoints') return <EndpointsPage client={client} />;
  if (area === 'experiments') return <ExperimentsPage client={client} />;
  if (area === 'pipelines') return <PipelinesPage client={client} />;
  if (area === 'approvals') return <ApprovalsPage client={client} />;
  if (area === 'policies') return <PoliciesPage client={client} />;
  if (area === 'audit') return <AuditPage client={client} />;
  if (area === 'bill') return <BillPage client={client} />;
  const known = areas.find((candidate) => candidate.path === `/${area}`);
  return <PlaceholderPage title={known?.label ?? 'Not found'} known={known !== undefined} />;
}

export function App() {
  const [path] = useRoute();
  const queryClient = useQueryClient();
  const client = useMemo(() => portalClient(), []);
  const [ended, setEnded] = useState<string | null>(null);
  // Who is signed in, from the session cookie; null when nobody is (no cookie, or its token is gone).
  const session = useQuery({
    queryKey: ['session'],
    queryFn: async (): Promise<WhoAmI | null> => {
      try {
        return await client.whoami();
      } catch (error) {
        if (isSignedOut(error)) return null;
        throw error;
      }
    },
    staleTime: Number.POSITIVE_INFINITY,
  });
  const endSession = (message: string | null) => {
    queryClient.removeQueries({ predicate: (query) => query.queryKey[0] !== 'session' });
    queryClient.setQueryData(['session'], null);
    setEnded(message);
  };
  useEffect(() => {
    const onEnded = () =>
      endSession(
        'Your session ended: its token was revoked or expired. Sign in again (`aicloud tokens create` makes a new token).',
      );
    window.addEventListener(SESSION_ENDED, onEnded);
    return () => window.removeEventListener(SESSION_ENDED, onEnded);
  });

  if (session.isPending) return <p className="muted boot">Loading…</p>;
  if (session.isError)
    return (
      <p role="alert" className="error boot">
        {session.error.message}
      </p>
    );
  if (!session.data) {
    return (
      <SignInPage
        notice={ended}
        onSignedIn={(whoami) => {
          setEnded(null);
          queryClient.setQueryData(['session'], whoami);
        }}
      />
    );
  }
  const current = areaOf(path);
  return (
    <div className="shell">
      <nav className="sidebar" aria-label="main">
        <div className="brand">aicloud</div>
        {areas.map((area) => (
          <a
            key={area.path}
            href={area.path}
            className={area.path === current ? 'active' : ''}
            aria-current={area.path === current ? 'page' : undefined}
            onClick={(event) => {
              if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey)
                return;
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
          onClick={async () => {
            await signOut().catch(() => undefined);
            endSession(null);
          }}
        >
          Sign out
        </button>
      </nav>
      <main>{page(path, client)}</main>
    </div>
  );
}
