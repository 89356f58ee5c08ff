import type { Client } from '@aicloud/client';
import type { Bill, WhoAmI } from '@aicloud/contracts';
import { useQueries, useQuery } from '@tanstack/react-query';
import { finalStatuses, gpuText, time, usd } from '../components/format.ts';
import { Link } from '../components/link.tsx';
import { StatusBadge } from '../components/outcome-badge.tsx';
import { ResponsiveTable } from '../components/responsive-table.tsx';
import { portalMessage } from '../session.ts';
import { paths } from '../use-route.ts';
import { QueryState } from './query-state.tsx';

const REFRESH_MS = 5000;

/** Jobs, notebooks and endpoints at work now, each linking to its own page. */
function RunningWork({ client }: { client: Client }) {
  const jobs = useQuery({
    queryKey: ['jobs', 'list', 'home'],
    queryFn: () => client.jobs.list({ limit: 200 }),
    refetchInterval: REFRESH_MS,
  });
  const notebooks = useQuery({
    queryKey: ['notebooks', 'list'],
    queryFn: () => client.notebooks.list(),
    refetchInterval: REFRESH_MS,
  });
  const endpoints = useQuery({
    queryKey: ['endpoints', 'list'],
    queryFn: () => client.endpoints.list(),
    refetchInterval: REFRESH_MS,
  });
  return (
    <section className="panel home-card" aria-labelledby="running-work">
      <h2 id="running-work">Running now</h2>
      <h3>Jobs</h3>
      <QueryState query={jobs}>
        {(data) => {
          const running = data.items.filter((job) => job.status === 'running');
          const waiting = data.items.filter(
            (job) => job.status !== 'running' && !finalStatuses.includes(job.status),
          );
          return (
            <>
              {running.length === 0 ? (
                <p className="muted" data-testid="running-jobs-empty">
                  No job is running.
                </p>
              ) : (
                <ul className="work-list" data-testid="running-jobs">
                  {running.map((job) => (
                    <li key={job.id}>
                      <Link href={paths.job(job.id)}>{job.name}</Link> <code className="muted">{job.id}</code>{' '}
                      <span className="muted small">
                        {job.team} · {gpuText(job.gpus, job.gpuType)} · since {time(job.startedAt)} ·{' '}
                        {usd(job.cost)}
                      </span>
                    </li>
                  ))}
                </ul>
              )}
              {waiting.length > 0 && (
                <p className="small" data-testid="waiting-jobs">
                  <Link href="/jobs">{waiting.length} more waiting</Link>{' '}
                  <span className="muted">
                    ({waiting.filter((job) => job.status === 'pending_approval').length} for approval,{' '}
                    {waiting.filter((job) => job.status !== 'pending_approval').length} queued or starting)
                  </span>
                </p>
              )}
            </>
          );
        }}
      </QueryState>
      <h3>Notebooks</h3>
      <QueryState query={notebooks}>
        {(data) => {
          const live = data.items.filter(
            (notebook) => notebook.status === 'running' || notebook.status === 'starting',
          );
          return live.length === 0 ? (
            <p className="muted">No notebook is running.</p>
          ) : (
            <ul className="work-list" data-testid="running-notebooks">
              {live.map((notebook) => (
                <li key={notebook.id}>
                  <Link href={paths.notebook(notebook.id)}>{notebook.name}</Link>{' '}
                  <StatusBadge status={notebook.status} />{' '}
                  <span className="muted small">
                    {notebook.team} · {gpuText(notebook.gpus, notebook.gpuType)} · {usd(notebook.cost)}
                  </span>
                </li>
              ))}
            </ul>
          );
        }}
      </QueryState>
      <h3>Endpoints</h3>
      <QueryState query={endpoints}>
        {(data) => {
          const serving = data.items.filter((endpoint) => endpoint.status !== 'deleted');
          return serving.length === 0 ? (
            <p className="muted">No endpoint is deployed.</p>
          ) : (
            <ul className="work-list" data-testid="running-endpoints">
              {serving.map((endpoint) => (
                <li key={endpoint.id}>
                  <Link href={paths.endpoint(endpoint.name)}>{endpoint.name}</Link>{' '}
                  <StatusBadge status={endpoint.status} />{' '}
                  <span className="muted small">
                    {endpoint.model}@{endpoint.version} · {endpoint.replicas.length} replica
                    {endpoint.replicas.length === 1 ? '' : 's'} · {endpoint.stats.requests} requests
                  </span>
                </li>
              ))}
            </ul>
          );
        }}
      </QueryState>
    </section>
  );
}

function BudgetLine({ bill }: { bill: Bill }) {
  const budget = bill.budget;
  if (!budget) return <span className="muted small">no budget set</span>;
  return (
    <span className="small">
      {budget.usedPercent.toFixed(1)} % of {usd(budget.maxBudget)}
      {bill.forecast?.runsOutAt ? (
        <span className="error"> · runs out {time(bill.forecast.runsOutAt)}</span>
      ) : null}
    </span>
  );
}

/** Spend this period: each of your teams' bill (its budget period, else this month); every team for platform-admins. */
function Spend({ client, me }: { client: Client; me: WhoAmI }) {
  const admin = me.user.platformAdmin;
  const teams = me.memberships.map((membership) => membership.team);
  const bills = useQueries({
    queries: (admin ? [] : teams).map((team) => ({
      queryKey: ['bill', 'home', team],
      queryFn: () => client.bill.get({ team }),
      refetchInterval: 15_000,
    })),
  });
  const all = useQuery({
    queryKey: ['bill', 'teams', {}],
    queryFn: () => client.bill.teams(),
    enabled: admin,
    refetchInterval: 15_000,
  });
  return (
    <section className="panel home-card" aria-labelledby="spend" data-testid="home-spend">
      <h2 id="spend">Spend this period</h2>
      {admin ? (
        <QueryState query={all}>
          {(data) => (
            <>
              <p className="big-number" data-testid="spend-total">
                {usd(data.total)}
              </p>
              <p className="muted small">
                every team, {data.from.slice(0, 10)} to {data.to.slice(0, 10)}
              </p>
              <ul className="work-list">
                {data.teams.map((team) => (
                  <li key={team.team} data-testid={`spend-${team.team}`}>
                    <strong>{team.team}</strong> {usd(team.total)}{' '}
                    {team.budget ? (
                      <span className="muted small">
                        {team.budget.usedPercent.toFixed(1)} % of {usd(team.budget.maxBudget)}
                      </span>
                    ) : null}
                  </li>
                ))}
              </ul>
            </>
          )}
        </QueryState>
      ) : teams.length === 0 ? (
        <p className="muted">You are in no team, so nothing is billed to you.</p>
      ) : (
        <ul className="work-list">
          {teams.map((team, index) => {
            const bill = bills[index]!;
            return (
              <li key={team} data-testid={`spend-${team}`}>
                <strong>{team}</strong>{' '}
                {bill.data ? (
                  <>
                    <span className="big-number">{usd(bill.data.total)}</span>{' '}
                    <span className="muted small">
                      {bill.data.from.slice(0, 10)} to {bill.data.to.slice(0, 10)}
                    </span>
                    <br />
                    <BudgetLine bill={bill.data} />
                  </>
                ) : bill.isError ? (
                  <span className="error">{portalMessage(bill.error)}</span>
                ) : (
                  <span className="muted">Loading…</span>
                )}
              </li>
            );
          })}
        </ul>
      )}
      <p className="small">
        <Link href="/bill">The bill in full</Link>
      </p>
    </section>
  );
}

/** Held jobs waiting for a decision, for managers (and platform-admins). */
function PendingApprovals({ client }: { client: Client }) {
  const approvals = useQuery({
    queryKey: ['approvals', 'pending'],
    queryFn: () => client.approvals.list('pending'),
    refetchInterval: REFRESH_MS,
  });
  return (
    <section className="panel home-card" aria-labelledby="pending" data-testid="home-approvals">
      <h2 id="pending">Waiting for your approval</h2>
      <QueryState query={approvals}>
        {(data) =>
          data.items.length === 0 ? (
            <p className="muted" data-testid="pending-approvals-empty">
              Nothing is waiting for you.
            </p>
          ) : (
            <ul className="work-list" data-testid="pending-approvals">
              {data.items.map((approval) => (
                <li key={approval.id}>
                  <Link href={paths.approval(approval.id)}>
                    {approval.requestedBy} asks to run {approval.jobId}
                  </Link>{' '}
                  <span className="muted small">
                    {approval.team} · {approval.rules.join(', ')} · expires {time(approval.expiresAt)}
                  </span>
                </li>
              ))}
            </ul>
          )
        }
      </QueryState>
    </section>
  );
}

/** Who you are, what runs now, what it costs this period, and what waits for your approval. */
export function HomePage({ client }: { client: Client }) {
  const me = useQuery({ queryKey: ['whoami'], queryFn: () => client.whoami() });
  const teams = useQuery({ queryKey: ['teams'], queryFn: () => client.teams.list() });
  const manager =
    me.data !== undefined &&
    (me.data.user.platformAdmin || me.data.memberships.some((membership) => membership.role === 'manager'));
  return (
    <section>
      <h1>Welcome{me.data ? `, ${me.data.user.name}` : ''}</h1>
      <QueryState query={me}>
        {(data) => (
          <p data-testid="whoami">
            Signed in as <strong>{data.user.name}</strong>
            {data.user.platformAdmin ? ' (platform-admin)' : ''} with token <code>{data.token.name}</code>
            {data.token.expiresAt ? `, which expires ${time(data.token.expiresAt)} (UTC)` : ''}.
          </p>
        )}
      </QueryState>
      <div className="home-grid">
        <RunningWork client={client} />
        <div className="stack">
          {me.data && <Spend client={client} me={me.data} />}
          {manager && <PendingApprovals client={client} />}
        </div>
      </div>
      <h2>Your teams</h2>
      <QueryState query={teams}>
        {(data) =>
          data.items.length === 0 ? (
            <p>You are not in any team yet: ask a platform-admin to add you.</p>
          ) : (
            <ResponsiveTable>
              <table data-testid="teams-table">
                <thead>
                  <tr>
                    <th>Team</th>
                    <th>Members</th>
                  </tr>
                </thead>
                <tbody>
                  {data.items.map((team) => (
                    <tr key={team.id}>
                      <td>{team.name}</td>
                      <td>{team.members.map((member) => `${member.user} (${member.role})`).join(', ')}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </ResponsiveTable>
          )
        }
      </QueryState>
    </section>
  );
}
