import type { Client } from '@aicloud/client';
import type { JobStatus } from '@aicloud/contracts';
import { useQuery } from '@tanstack/react-query';
import { finalStatuses } from '../components/format.ts';
import { JobDetails } from '../components/job-details.tsx';
import { JobGpu } from '../components/job-gpu.tsx';
import { JobLogs } from '../components/job-logs.tsx';
import { JobMetricsCharts } from '../components/job-metrics.tsx';
import { Link } from '../components/link.tsx';
import { StatusBadge } from '../components/outcome-badge.tsx';
import { QueryState } from './query-state.tsx';

/** Jobs in these states have no log (yet): they never reached the executor. */
const notStarted: JobStatus[] = ['pending_approval', 'queued', 'admitted', 'rejected'];

/** A job at its own URL (`/jobs/ID`): its details, its log as it is written, a chart per metric and its GPUs over time. */
export function JobPage({ client, id }: { client: Client; id: string }) {
  const job = useQuery({
    queryKey: ['jobs', 'one', id],
    queryFn: () => client.jobs.get(id),
    refetchInterval: (query) => {
      const status = query.state.data?.status;
      return status && finalStatuses.includes(status) ? false : 2000;
    },
  });
  return (
    <section className="job-page" data-testid="job-page">
      <p className="crumbs">
        <Link href="/jobs">Jobs</Link> / <code>{id}</code>
      </p>
      <QueryState query={job}>
        {(data) => {
          const final = finalStatuses.includes(data.status);
          return (
            <>
              <h1>
                {data.name} <StatusBadge status={data.status} />
              </h1>
              <JobDetails client={client} id={id} />
              <JobLogs id={id} started={!notStarted.includes(data.status)} final={final} />
              <JobMetricsCharts client={client} id={id} live={!final} />
              <JobGpu client={client} id={id} gpus={data.gpus} live={!final} />
            </>
          );
        }}
      </QueryState>
    </section>
  );
}
