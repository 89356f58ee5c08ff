import type { Client } from '@aicloud/client';
import { useQuery } from '@tanstack/react-query';
import { QueryState } from './query-state.tsx';

/** Who you are and your teams. */
export function HomePage({ client }: { client: Client }) {
  const me = useQuery({ queryKey: ['whoami'], queryFn: () => client.whoami() });
  const teams = useQuery({ queryKey: ['teams'], queryFn: () => client.teams.list() });
  return (
    <section>
      <h1>Welcome{me.data ? `, ${me.data.user.name}` : ''}</h1>
      <QueryState query={me}>
        {(data) => (
          <p data-testid="whoami">
            Signed in as <strong>{data.user.name}</strong>
            {data.user.platformAdmin ? ' (platform-admin)' : ''} with token <code>{data.token.name}</code>.
          </p>
        )}
      </QueryState>
      <h2>Your teams</h2>
      <QueryState query={teams}>
        {(data) =>
          data.items.length === 0 ? (
            <p>You are not in any team yet: ask a platform-admin to add you.</p>
          ) : (
            <table>
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
          )
        }
      </QueryState>
    </section>
  );
}
