import type { Client } from '@aicloud/client';
import type { Bill, BillLine, TeamsBill } from '@aicloud/contracts';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { BillChart, categoryColors } from '../components/bill-chart.tsx';
import { time, usd } from '../components/format.ts';
import { JobDetails } from '../components/job-details.tsx';
import { ResponsiveTable } from '../components/responsive-table.tsx';
import { QueryState } from './query-state.tsx';
import './bill-page.css';

type Window = { kind: 'current' } | { kind: 'since'; since: string } | { kind: 'period'; period: string };

function windowQuery(window: Window): { period?: string; since?: string } {
  if (window.kind === 'since') return { since: window.since };
  if (window.kind === 'period') return { period: window.period };
  return {};
}

const quantityText = (line: BillLine) =>
  line.quantity === null || line.unit === null ? '—' : `${Number(line.quantity.toFixed(3))} ${line.unit}`;

/** The Bill: spend per day by category against the budget and its forecast, totals, top spenders, drill-down. */
export function BillPage({ client }: { client: Client }) {
  const me = useQuery({ queryKey: ['whoami'], queryFn: () => client.whoami() });
  const [chosenTeam, setTeam] = useState<string | null>(null);
  const [window, setWindow] = useState<Window>({ kind: 'current' });
  const [selected, setSelected] = useState<BillLine | null>(null);
  const admin = me.data?.user.platformAdmin ?? false;
  const memberships = me.data?.memberships.map((membership) => membership.team) ?? [];
  // Members of one team see it; platform-admins and members of several start with all teams side by side.
  const team = chosenTeam ?? (me.data && memberships.length === 1 && !admin ? memberships[0]! : '');
  const teams = useQuery({ queryKey: ['teams'], queryFn: () => client.teams.list(), enabled: admin });
  const query = { ...(team ? { team } : {}), ...windowQuery(window) };
  const bill = useQuery({
    queryKey: ['bill', query],
    queryFn: () => client.bill.get({ ...query, by: 'workload' }),
    enabled: me.isSuccess,
    refetchInterval: 15_000,
  });
  const sideBySide = useQuery({
    queryKey: ['bill', 'teams', windowQuery(window)],
    queryFn: () => client.bill.teams(windowQuery(window)),
    enabled: me.isSuccess && team === '' && (admin || memberships.length > 1),
    refetchInterval: 15_000,
  });
  const teamOptions = admin ? (teams.data?.items.map((item) => item.name) ?? memberships) : memberships;
  return (
    <section className="bill-page">
      <h1>Bill</h1>
      <div className="filters">
        <label htmlFor="bill-team">Team</label>
        <select
          id="bill-team"
          value={team}
          onChange={(event) => {
            setTeam(event.target.value);
            setSelected(null);
          }}
        >
          {admin || memberships.length !== 1 ? <option value="">all teams</option> : null}
          {teamOptions.map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
        <label htmlFor="bill-window">Window</label>
        <select
          id="bill-window"
          value={window.kind === 'period' ? 'period' : window.kind === 'since' ? window.since : 'current'}
          onChange={(event) => {
            const value = event.target.value;
            if (value === 'current') setWindow({ kind: 'current' });
            else if (value === 'period')
              setWindow({ kind: 'period', period: new Date().toISOString().slice(0, 7) });
            else setWindow({ kind: 'since', since: value });
          }}
        >
          <option value="current">current budget period</option>
          <option value="7d">last 7 days</option>
          <option value="30d">last 30 days</option>
          <option value="period">a month…</option>
        </select>
        {window.kind === 'period' ? (
          <input
            type="month"
            aria-label="Month"
            value={window.period}
            onChange={(event) =>
              event.target.value && setWindow({ kind: 'period', period: event.target.value })
            }
          />
        ) : null}
        <span className="muted small">refreshes every 15 s</span>
      </div>
      {team === '' && (admin || memberships.length > 1) ? (
        <QueryState query={sideBySide}>
          {(data) => <TeamsTable bill={data} onPick={(name) => setTeam(name)} />}
        </QueryState>
      ) : null}
      <QueryState query={bill}>
        {(data) => (
          <>
            <Summary bill={data} />
            <Status bill={data} />
            <BillChart bill={data} />
            <div className="bill-columns">
              <TopTable
                title="Top workloads"
                testId="top-workloads"
                lines={data.topWorkloads}
                selected={selected}
                onSelect={setSelected}
                workload
              />
              <TopTable title="Top users" testId="top-users" lines={data.topUsers} />
            </div>
            {selected?.sourceId ? (
              <DrillDown
                client={client}
                team={selected.team ?? (team || data.teams[0] || '')}
                line={selected}
                windowQuery={windowQuery(window)}
                onClose={() => setSelected(null)}
              />
            ) : null}
          </>
        )}
      </QueryState>
    </section>
  );
}

function Summary({ bill }: { bill: Bill }) {
  return (
    <div className="bill-summary">
      <div className="bill-card bill-total">
        <div className="muted small">
          {bill.team ?? (bill.teams.length === 1 ? bill.teams[0] : 'all teams')} · {bill.from.slice(0, 10)} to{' '}
          {bill.to.slice(0, 10)}
        </div>
        <div className="bill-amount" data-testid="bill-total">
          {usd(bill.total)}
        </div>
        <div className="muted small">{bill.rows} ledger rows</div>
      </div>
      {bill.categories.map((total) => (
        <div className="bill-card" key={total.category} data-testid={`total-${total.category}`}>
          <div className="bill-category">
            <span className="swatch" style={{ background: categoryColors[total.category] }} />
            {total.category}
          </div>
          <div className="bill-amount">{usd(total.cost)}</div>
          <div className="muted small">{total.share.toFixed(1)} %</div>
        </div>
      ))}
    </div>
  );
}

function Status({ bill }: { bill: Bill }) {
  const budget = bill.budget;
  const forecast = bill.forecast;
  return (
    <div className="bill-status">
      {budget ? (
        <div className="bill-card bill-budget" data-testid="bill-budget">
          <div className="bill-category">Budget {usd(budget.maxBudget)}</div>
          <div className="meter" role="img" aria-label={`budget used ${budget.usedPercent} %`}>
            <div className="meter-spent" style={{ width: `${Math.min(budget.usedPercent, 100)}%` }} />
            <div
              className="meter-committed"
              style={{
                left: `${Math.min(budget.usedPercent, 100)}%`,
                width: `${Math.max(Math.min(budget.committedPercent, 100) - Math.min(budget.usedPercent, 100), 0)}%`,
              }}
            />
          </div>
          <div className="small" data-testid="budget-used">
            {usd(budget.spent)} used ({budget.usedPercent.toFixed(1)} %) · {usd(budget.committed)} committed ·{' '}
            {usd(budget.remaining)} left
          </div>
        </div>
      ) : (
        <div className="bill-card bill-budget muted small">
          {bill.team ? 'No budget: nothing limits this spend.' : 'Budgets are per team: see each team above.'}
        </div>
      )}
      {forecast ? (
        <div className="bill-card bill-forecast" data-testid="bill-forecast">
          <div className="bill-category">Forecast</div>
          <div className="small">
            {usd(forecast.burnRatePerDay)}/day (last {forecast.lookbackHours} h) →{' '}
            {usd(forecast.projectedTotal)} by {forecast.projectedTo.slice(0, 10)}
          </div>
          <div className="small" data-testid="runs-out">
            {forecast.exhausted
              ? 'Budget spent: new work is refused'
              : forecast.runsOutAt
                ? `Budget runs out ${time(forecast.runsOutAt)} UTC`
                : budget
                  ? 'Budget lasts this period at this rate'
                  : ''}
          </div>
        </div>
      ) : null}
    </div>
  );
}

function TeamsTable({ bill, onPick }: { bill: TeamsBill; onPick: (team: string) => void }) {
  return (
    <ResponsiveTable>
      <table className="bill-teams" data-testid="bill-teams">
        <thead>
          <tr>
            <th>Team</th>
            <th className="num">Training</th>
            <th className="num">Inference</th>
            <th className="num">Notebooks</th>
            <th className="num">Storage</th>
            <th className="num">Total</th>
            <th className="num">Budget used</th>
            <th className="num">Committed</th>
            <th>Runs out</th>
          </tr>
        </thead>
        <tbody>
          {bill.teams.map((team) => (
            <tr key={team.team} data-testid={`team-row-${team.team}`}>
              <td>
                <button type="button" className="link" onClick={() => onPick(team.team)}>
                  {team.team}
                </button>
              </td>
              <td className="num">{usd(team.byCategory.training)}</td>
              <td className="num">{usd(team.byCategory.inference)}</td>
              <td className="num">{usd(team.byCategory.notebooks)}</td>
              <td className="num">{usd(team.byCategory.storage)}</td>
              <td className="num">{usd(team.total)}</td>
              <td className="num">
                {team.budget
                  ? `${team.budget.usedPercent.toFixed(1)} % of ${usd(team.budget.maxBudget)}`
                  : '—'}
              </td>
              <td className="num">{team.budget ? usd(team.budget.committed) : '—'}</td>
              <td>
                {team.forecast?.exhausted
                  ? 'exhausted'
                  : team.forecast?.runsOutAt
                    ? team.forecast.runsOutAt.slice(0, 10)
                    : '—'}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </ResponsiveTable>
  );
}

function TopTable({
  title,
  testId,
  lines,
  selected,
  onSelect,
  workload = false,
}: {
  title: string;
  testId: string;
  lines: BillLine[];
  selected?: BillLine | null;
  onSelect?: (line: BillLine) => void;
  workload?: boolean;
}) {
  return (
    <div className="bill-top">
      <h2>{title}</h2>
      {lines.length === 0 ? (
        <p className="muted">No usage in this window.</p>
      ) : (
        <ResponsiveTable>
          <table data-testid={testId} className={workload ? 'clickable' : ''}>
            <thead>
              <tr>
                <th>{workload ? 'Workload' : 'User'}</th>
                {workload ? <th>Category</th> : null}
                <th className="num">{workload ? 'Usage' : 'Rows'}</th>
                <th className="num">Cost</th>
              </tr>
            </thead>
            <tbody>
              {lines.map((line) => (
                <tr
                  key={line.key}
                  data-testid={`${workload ? 'workload' : 'user'}-${line.key}`}
                  className={selected?.key === line.key ? 'selected' : ''}
                  onClick={onSelect ? () => onSelect(line) : undefined}
                >
                  <td>
                    {workload ? (
                      <button type="button" className="link" onClick={() => onSelect?.(line)}>
                        {line.label}
                      </button>
                    ) : (
                      line.label
                    )}
                    {workload ? <div className="muted small">{line.key}</div> : null}
                  </td>
                  {workload ? <td>{line.category ?? 'mixed'}</td> : null}
                  <td className="num">{workload ? quantityText(line) : line.rows}</td>
                  <td className="num">{usd(line.cost)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </ResponsiveTable>
      )}
    </div>
  );
}

function DrillDown({
  client,
  team,
  line,
  windowQuery: window,
  onClose,
}: {
  client: Client;
  team: string;
  line: BillLine;
  windowQuery: { period?: string; since?: string };
  onClose: () => void;
}) {
  const rows = useQuery({
    queryKey: ['bill', 'rows', team, line.sourceId, window],
    queryFn: () => client.bill.rows({ team, sourceId: line.sourceId!, ...window, limit: 50 }),
  });
  return (
    <aside className="panel bill-drill" data-testid="bill-drilldown" aria-label={`Usage of ${line.label}`}>
      <header className="card-head">
        <h2>
          {line.label} <code>{line.sourceId}</code> · {usd(line.cost)}
        </h2>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </header>
      <QueryState query={rows}>
        {(data) => (
          <ResponsiveTable>
            <table data-testid="ledger-rows">
              <thead>
                <tr>
                  <th>Window (UTC)</th>
                  <th>User</th>
                  <th>Resource</th>
                  <th className="num">Quantity</th>
                  <th className="num">Rate</th>
                  <th className="num">Cost</th>
                </tr>
              </thead>
              <tbody>
                {data.items.map((row) => (
                  <tr key={row.id}>
                    <td>
                      {time(row.windowStart)} – {row.windowEnd.slice(11, 19)}
                    </td>
                    <td>{row.user}</td>
                    <td>{row.resource}</td>
                    <td className="num">
                      {Number(row.quantity.toFixed(4))} {row.unit}
                    </td>
                    <td className="num">${row.rate.toFixed(6).replace(/0{1,4}$/, '')}</td>
                    <td className="num">${row.cost.toFixed(4)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </ResponsiveTable>
        )}
      </QueryState>
      {line.sourceKind === 'job' ? (
        <div className="bill-job">
          <a href={`/jobs?job=${encodeURIComponent(line.sourceId!)}`}>Open in Jobs</a>
          <JobDetails client={client} id={line.sourceId!} onClose={onClose} />
        </div>
      ) : null}
    </aside>
  );
}
