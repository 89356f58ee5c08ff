import { ApiError, type Client } from '@aicloud/client';
import type { CreatedKey, Endpoint } from '@aicloud/contracts';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { QueryState } from '../pages/query-state.tsx';
import { navigate, paths } from '../use-route.ts';
import { errorMessage } from './api-errors.ts';
import { duration, gpuText, time } from './format.ts';
import { Link } from './link.tsx';
import { StatusBadge } from './outcome-badge.tsx';
import { ResponsiveTable } from './responsive-table.tsx';

/** Milliseconds, rounded, or a dash. */
export function ms(value: number | null): string {
  return value === null ? '—' : `${Math.round(value)} ms`;
}

function failure(error: unknown): string {
  return error instanceof ApiError ? `${error.code}: ${error.message}` : errorMessage(error);
}

/** An endpoint's keys: create one (its secret shown once) and revoke. */
function Keys({ client, endpoint }: { client: Client; endpoint: Endpoint }) {
  const queryClient = useQueryClient();
  const keys = useQuery({
    queryKey: ['keys', endpoint.name],
    queryFn: () => client.keys.list(endpoint.name),
  });
  const [name, setName] = useState('default');
  const [rpm, setRpm] = useState('');
  const [tpm, setTpm] = useState('');
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['keys', endpoint.name] });
  return (
    <div data-testid="endpoint-keys">
      <h3>Keys</h3>
      <QueryState query={keys}>
        {(data) =>
          data.items.length === 0 ? (
            <p className="muted">No keys yet.</p>
          ) : (
            <ResponsiveTable>
              <table>
                <thead>
                  <tr>
                    <th>Name</th>
                    <th>Prefix</th>
                    <th>rpm</th>
                    <th>tpm</th>
                    <th>Created</th>
                    <th>Revoked</th>
                    <th />
                  </tr>
                </thead>
                <tbody>
                  {data.items.map((key) => (
                    <tr key={key.id} data-testid={`key-row-${key.name}`}>
                      <td>{key.name}</td>
                      <td>
                        <code>{key.prefix}…</code>
                      </td>
                      <td>{key.rpm ?? '—'}</td>
                      <td>{key.tpm ?? '—'}</td>
                      <td>
                        {time(key.createdAt)} <span className="muted small">by {key.createdBy}</span>
                      </td>
                      <td>{time(key.revokedAt)}</td>
                      <td>
                        {!key.revokedAt && (
                          <button
                            type="button"
                            className="danger"
                            onClick={async () => {
                              setProblem(null);
                              try {
                                await client.keys.revoke(key.id);
                              } catch (error) {
                                setProblem(failure(error));
                              }
                              await refresh();
                            }}
                          >
                            Revoke
                          </button>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </ResponsiveTable>
          )
        }
      </QueryState>
      <form
        className="inline-form"
        onSubmit={async (event) => {
          event.preventDefault();
          setProblem(null);
          setCreated(null);
          try {
            setCreated(
              await client.keys.create({
                endpoint: endpoint.name,
                name: name || 'default',
                ...(rpm ? { rpm: Number(rpm) } : {}),
                ...(tpm ? { tpm: Number(tpm) } : {}),
              }),
            );
          } catch (error) {
            setProblem(failure(error));
          }
          await refresh();
        }}
      >
        <div className="field">
          <label htmlFor="key-name">Key name</label>
          <input id="key-name" value={name} onChange={(event) => setName(event.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="key-rpm">Requests / min</label>
          <input
            id="key-rpm"
            type="number"
            min={1}
            value={rpm}
            onChange={(event) => setRpm(event.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="key-tpm">Tokens / min</label>
          <input
            id="key-tpm"
            type="number"
            min={1}
            value={tpm}
            onChange={(event) => setTpm(event.target.value)}
          />
        </div>
        <button type="submit" className="primary">
          Create key
        </button>
      </form>
      {created && (
        <div className="secret" data-testid="created-key">
          <p>
            Key <strong>{created.name}</strong> created. Copy its secret now: it is not shown again.
          </p>
          <code>{created.key}</code>
        </div>
      )}
      {problem && (
        <p role="alert" className="error">
          {problem}
        </p>
      )}
    </div>
  );
}

/** One endpoint's details, keys, scale and delete. */
export function EndpointDetails({ client, endpoint }: { client: Client; endpoint: Endpoint }) {
  const queryClient = useQueryClient();
  const [minReplicas, setMinReplicas] = useState(endpoint.minReplicas);
  const [maxReplicas, setMaxReplicas] = useState(endpoint.maxReplicas);
  const [message, setMessage] = useState<{ error: boolean; text: string } | null>(null);
  const [confirming, setConfirming] = useState(false);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['endpoints'] });
  return (
    <div className="panel" data-testid="endpoint-details">
      <div className="card-head">
        <h2>{endpoint.name}</h2>
        <Link href="/endpoints">All endpoints</Link>
      </div>
      <dl className="kv">
        <dt>Status</dt>
        <dd>
          <StatusBadge status={endpoint.status} />
        </dd>
        <dt>URL</dt>
        <dd>
          <code>{endpoint.url}</code>
        </dd>
        <dt>Model</dt>
        <dd>
          <Link href={paths.model(endpoint.team, endpoint.model)}>
            <code>
              {endpoint.model}@{endpoint.version}
            </code>
          </Link>{' '}
          on <code>{endpoint.runtime}</code>
        </dd>
        <dt>Team</dt>
        <dd>{endpoint.team}</dd>
        <dt>Product</dt>
        <dd>
          {endpoint.product}, {gpuText(endpoint.gpus, endpoint.gpuType)}
        </dd>
        <dt>Scaling</dt>
        <dd>
          {endpoint.minReplicas}–{endpoint.maxReplicas} replicas, target concurrency{' '}
          {endpoint.targetConcurrency}, idle timeout {duration(endpoint.idleTimeoutSeconds)}
        </dd>
        <dt>Tokens</dt>
        <dd>
          {endpoint.stats.tokensIn} in, {endpoint.stats.tokensOut} out, {endpoint.stats.inFlight} in flight
        </dd>
        <dt>Last cold start</dt>
        <dd>{ms(endpoint.stats.lastColdStartMs)}</dd>
        <dt>Created</dt>
        <dd>
          {time(endpoint.createdAt)} by {endpoint.createdBy}
        </dd>
      </dl>
      {endpoint.replicas.length > 0 && (
        <ResponsiveTable>
          <table className="replicas">
            <thead>
              <tr>
                <th>Replica</th>
                <th>Status</th>
                <th>Started</th>
                <th>Ready</th>
              </tr>
            </thead>
            <tbody>
              {endpoint.replicas.map((replica) => (
                <tr key={replica.id}>
                  <td>
                    <code>{replica.id}</code>
                  </td>
                  <td>
                    <StatusBadge status={replica.status} />
                  </td>
                  <td>{time(replica.startedAt)}</td>
                  <td>{time(replica.readyAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </ResponsiveTable>
      )}
      <Keys client={client} endpoint={endpoint} />
      <h3>Scale</h3>
      <form
        className="inline-form"
        onSubmit={async (event) => {
          event.preventDefault();
          setMessage(null);
          try {
            const scaled = await client.endpoints.scale(endpoint.name, { minReplicas, maxReplicas });
            setMessage({
              error: false,
              text: `Scaled to ${scaled.minReplicas}–${scaled.maxReplicas} replicas.`,
            });
          } catch (error) {
            setMessage({ error: true, text: failure(error) });
          }
          await refresh();
        }}
      >
        <div className="field">
          <label htmlFor="scale-min">Min replicas</label>
          <input
            id="scale-min"
            type="number"
            min={0}
            max={16}
            value={minReplicas}
            onChange={(event) => setMinReplicas(Number(event.target.value))}
          />
        </div>
        <div className="field">
          <label htmlFor="scale-max">Max replicas</label>
          <input
            id="scale-max"
            type="number"
            min={1}
            max={16}
            value={maxReplicas}
            onChange={(event) => setMaxReplicas(Number(event.target.value))}
          />
        </div>
        <button type="submit">Scale</button>
      </form>
      <h3>Delete</h3>
      {confirming ? (
        <div className="actions">
          <span>
            Delete <strong>{endpoint.name}</strong>? Its replicas stop and its keys stop working.
          </span>
          <button
            type="button"
            className="danger"
            onClick={async () => {
              setMessage(null);
              try {
                await client.endpoints.delete(endpoint.name);
                await refresh();
                navigate('/endpoints');
              } catch (error) {
                setMessage({ error: true, text: failure(error) });
                setConfirming(false);
              }
            }}
          >
            Yes, delete
          </button>
          <button type="button" onClick={() => setConfirming(false)}>
            Keep it
          </button>
        </div>
      ) : (
        <button type="button" className="danger" onClick={() => setConfirming(true)}>
          Delete endpoint
        </button>
      )}
      {message && (
        <p role={message.error ? 'alert' : 'status'} className={message.error ? 'error' : 'muted'}>
          {message.text}
        </p>
      )}
    </div>
  );
}
