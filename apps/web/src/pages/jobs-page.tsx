import type { Client } from '@aicloud/client';
import { JobStatus } from '@aicloud/contracts';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { gpuText, usd } from '../components/format.ts';
import { Link, rowLink } from '../components/link.tsx';
import { StatusBadge } from '../components/outcome-badge.tsx';
import { ResponsiveTable } from '../components/responsive-table.tsx';
import { paths } from '../use-route.ts';
import { QueryState } from './query-state.tsx';

/** The jobs of your teams, refreshed every 5 s; a row opens the job's own page (details, log, metrics). */
export function JobsPage({ client }: { client: Client }) {
  const [status, setStatus] = useState<JobStatus | ''>('');
  const jobs = useQuery({
    queryKey: ['jobs', 'list', status],
    queryFn: () => client.jobs.list({ status: status || undefined, limit: 200 }),
    refetchInterval: 5000,
  });
  return (
    <section>
      <h1>Jobs</h1>
      <div className="filters">
        <label htmlFor="jobs-status">Status</label>
        <select
          id="jobs-status"
          value={status}
          onChange={(event) => setStatus(event.target.value as JobStatus | '')}
        >
          <option value="">all</option>
          {JobStatus.options.map((option) => (
            <option key={option} value={option}>
              {option}
            </option>
          ))}
        </select>
        <span className="muted small">refreshes every 5 s</span>
      </div>
      <QueryState query={jobs}>
        {(data) =>
          data.items.length === 0 ? (
            <p className="muted">No jobs yet: launch one from the Catalog.</p>
          ) : (
            <ResponsiveTable>
              <table data-testid="jobs-table" className="clickable">
                <thead>
                  <tr>
                    <th>Job</th>
                    <th>Name</th>
                    <th>Team / owner</th>
                    <th>Product</th>
                    <th>GPUs</th>
                    <th>Status</th>
                    <th>Queue</th>
                    <th>Estimate</th>
                    <th>Cost</th>
                    <th>Reason</th>
                  </tr>
                </thead>
                <tbody>
                  {data.items.map((job) => (
                    <tr key={job.id} data-testid={`job-row-${job.id}`} {...rowLink(paths.job(job.id))}>
                      <td>
                        <Link href={paths.job(job.id)} className="id-link">
                          {job.id}
                        </Link>
                      </td>
                      <td className="wrap-text">{job.name}</td>
                      <td>
                        {job.team} <span className="muted">/ {job.owner}</span>
                      </td>
                      <td>{job.product}</td>
                      <td>{gpuText(job.gpus, job.gpuType)}</td>
                      <td>
                        <StatusBadge status={job.status} />
                      </td>
                      <td>{job.queuePosition ?? '—'}</td>
                      <td>{usd(job.estimatedCost)}</td>
                      <td>{usd(job.cost)}</td>
                      <td className="wrap-text">
                        {job.reasons[0] ? <code>{job.reasons[0].code}</code> : '—'}
                      </td>
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
