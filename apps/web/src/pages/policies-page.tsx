import type { Client } from '@aicloud/client';
import { useQuery } from '@tanstack/react-query';
import { time } from '../components/format.ts';
import { ResponsiveTable } from '../components/responsive-table.tsx';
import { QueryState } from './query-state.tsx';

/** The file name of a policy's source, without the folder it was loaded from. */
function fileName(path: string | undefined): string {
  return path ? (path.split('/').at(-1) ?? path) : '—';
}

/** The active policy set (digest and policies) and the time-boxed exceptions to it. */
export function PoliciesPage({ client }: { client: Client }) {
  const policies = useQuery({ queryKey: ['policies'], queryFn: () => client.policy.list() });
  const exceptions = useQuery({ queryKey: ['policy-exceptions'], queryFn: () => client.policy.exceptions() });
  return (
    <section>
      <h1>Policies</h1>
      <QueryState query={policies}>
        {(data) => (
          <>
            <p data-testid="policy-digest">
              Active policy set <code>{data.digest}</code>, {data.items.length} policies.
            </p>
            <ResponsiveTable>
              <table data-testid="policies-table">
                <thead>
                  <tr>
                    <th>Policy</th>
                    <th>Effect</th>
                    <th>Outcome</th>
                    <th>Enforcement</th>
                    <th>Reason</th>
                    <th>File</th>
                  </tr>
                </thead>
                <tbody>
                  {data.items.map((policy) => (
                    <tr key={policy.id}>
                      <td>
                        <code>{policy.id}</code>
                      </td>
                      <td>{policy.effect}</td>
                      <td>
                        <span className={`badge badge-policy-${policy.outcome}`}>{policy.outcome}</span>
                      </td>
                      <td>{policy.effect === 'permit' ? '—' : policy.enforcement}</td>
                      <td>{policy.reason}</td>
                      <td title={policy.file}>{fileName(policy.file)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </ResponsiveTable>
          </>
        )}
      </QueryState>
      <h2>Exceptions</h2>
      <QueryState query={exceptions}>
        {(data) =>
          data.items.length === 0 ? (
            <p className="muted" data-testid="exceptions-empty">
              No policy exceptions. A platform-admin grants one with{' '}
              <code>aicloud policy exceptions grant --policy ID --team TEAM …</code>
            </p>
          ) : (
            <ResponsiveTable>
              <table data-testid="exceptions-table">
                <thead>
                  <tr>
                    <th>Exception</th>
                    <th>Policy</th>
                    <th>Team</th>
                    <th>Why</th>
                    <th>Expires (UTC)</th>
                    <th>Granted by</th>
                  </tr>
                </thead>
                <tbody>
                  {data.items.map((exception) => (
                    <tr key={exception.id}>
                      <td>
                        <code>{exception.id}</code>
                      </td>
                      <td>
                        <code>{exception.policyId}</code>
                      </td>
                      <td>{exception.team}</td>
                      <td>{exception.description}</td>
                      <td>{time(exception.expiresAt)}</td>
                      <td>
                        {exception.grantedBy} on {time(exception.createdAt)}
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
