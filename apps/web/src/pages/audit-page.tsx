import type { Client } from '@aicloud/client';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { ResponsiveTable } from '../components/responsive-table.tsx';
import { QueryState } from './query-state.tsx';

/** The audit trail the caller may see, with filters. */
export function AuditPage({ client }: { client: Client }) {
  const [actor, setActor] = useState('');
  const [action, setAction] = useState('');
  const records = useQuery({
    queryKey: ['audit', actor, action],
    queryFn: () => client.audit.list({ actor: actor || undefined, action: action || undefined, limit: 200 }),
  });
  return (
    <section>
      <h1>Audit</h1>
      <div className="filters">
        <label>
          Actor <input value={actor} onChange={(event) => setActor(event.target.value)} placeholder="alice" />
        </label>
        <label>
          Action{' '}
          <input value={action} onChange={(event) => setAction(event.target.value)} placeholder="team.*" />
        </label>
      </div>
      <QueryState query={records}>
        {(data) => (
          <ResponsiveTable>
            <table data-testid="audit-table">
              <thead>
                <tr>
                  <th>#</th>
                  <th>Time</th>
                  <th>Actor</th>
                  <th>Action</th>
                  <th>Resource</th>
                  <th>Outcome</th>
                </tr>
              </thead>
              <tbody>
                {data.items.map((record) => (
                  <tr key={record.id}>
                    <td>{record.seq}</td>
                    <td>{record.time}</td>
                    <td>{record.actor}</td>
                    <td>{record.action}</td>
                    <td>{record.resource}</td>
                    <td className={`outcome-${record.outcome}`}>{record.outcome}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </ResponsiveTable>
        )}
      </QueryState>
    </section>
  );
}
