import type { Client } from '@aicloud/client';
import { JobStatus } from '@aicloud/contracts';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { gpuText, usd } from '../components/format.ts';
import { JobDetails } from '../components/job-details.tsx';
import { StatusBadge } from '../components/outcome-badge.tsx';
import { QueryState } from './query-state.tsx';

/** The jobs of your teams, refreshed every 5 s; a row opens the job's details. */
export function JobsPage({ client }: { client: Client }) {
  const [status, setStatus] = useState<JobStatus | ''>('');
  const [selected, setSelected] = useState<string | null>(null);
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
            <table data-testid="jobs-table" className="clickable">
              <thead>
                <tr>
                  <th>Job</th>
                  <th>Name</th>
                  <th>Team</th>
                  <th>Owner</th>
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
                  <tr
                    key={job.id}
                    data-testid={`job-row-${job.id}`}
                    className={selected === job.id ? 'selected' : ''}
                    onClick={() => setSelected(job.id)}
                  >
                    <td>
                      <button
                        type="button"
                        className="link"
                        onClick={(event) => {
                          event.stopPropagation();
                          setSelected(job.id);
                        }}
                      >
                        {job.id}
                      </button>
                    </td>
                    <td>{job.name}</td>
                    <td>{job.team}</td>
                    <td>{job.owner}</td>
                    <td>{job.product}</td>
                    <td>{gpuText(job.gpus, job.gpuType)}</td>
                    <td>
                      <StatusBadge status={job.status} />
                    </td>
                    <td>{job.queuePosition ?? '—'}</td>
                    <td>{usd(job.estimatedCost)}</td>
                    <td>{usd(job.cost)}</td>
                    <td>{job.reasons[0] ? <code>{job.reasons[0].code}</code> : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </QueryState>
      {selected && (
        <JobDetails key={selected} client={client} id={selected} onClose={() => setSelected(null)} />
      )}
    </section>
  );
}
