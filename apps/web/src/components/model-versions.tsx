import type { Client } from '@aicloud/client';
import { ApiError } from '@aicloud/client';
import type { Model, ModelVersion } from '@aicloud/contracts';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { QueryState } from '../pages/query-state.tsx';
import { paths } from '../use-route.ts';
import { errorMessage } from './api-errors.ts';
import { time, usd } from './format.ts';
import { Link } from './link.tsx';
import { StatusBadge } from './outcome-badge.tsx';
import { ResponsiveTable } from './responsive-table.tsx';
import { ScanBadge } from './scan-badge.tsx';

function metricsText(metrics: Record<string, number>) {
  const entries = Object.entries(metrics);
  return entries.length === 0
    ? '—'
    : entries.map(([name, value]) => `${name}=${Number(value.toFixed(4))}`).join(', ');
}

/** What the scan found wrong: its problems and every import outside the allow-list, file by file. */
function scanFindings(version: ModelVersion): string[] {
  const findings = [...version.scan.problems];
  for (const file of version.scan.files) {
    for (const problem of file.problems) findings.push(`${file.path}: ${problem}`);
    for (const found of file.imports)
      if (found.classification !== 'allowed')
        findings.push(
          `${file.path}: ${found.classification} import ${found.module}.${found.name} (${found.reason})`,
        );
  }
  return [...new Set(findings)];
}

/** Deploy a version as an endpoint; the server's refusal, if any, is shown as it answered. */
function DeployForm({
  client,
  version,
  onClose,
}: {
  client: Client;
  version: ModelVersion;
  onClose: () => void;
}) {
  const queryClient = useQueryClient();
  const defaultName = version.model
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/^[^a-z]+/, '');
  const [name, setName] = useState(defaultName.length >= 2 ? defaultName : `model-${defaultName}`);
  const [scaleToZero, setScaleToZero] = useState(true);
  const [maxReplicas, setMaxReplicas] = useState(1);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<
    { ok: true; name: string; url: string } | { ok: false; code: string; message: string } | null
  >(null);
  const id = `deploy-${version.model}-${version.version}`;
  return (
    <form
      className="deploy-form panel"
      data-testid="deploy-form"
      onSubmit={async (event) => {
        event.preventDefault();
        setBusy(true);
        setResult(null);
        try {
          const endpoint = await client.endpoints.deploy({
            model: version.model,
            team: version.team,
            version: version.version,
            name: name || undefined,
            scaleToZero,
            maxReplicas,
          });
          setResult({ ok: true, name: endpoint.name, url: endpoint.url });
          await queryClient.invalidateQueries({ queryKey: ['endpoints'] });
          await queryClient.invalidateQueries({ queryKey: ['lineage'] });
        } catch (error) {
          setResult({
            ok: false,
            code: error instanceof ApiError ? error.code : 'error',
            message: errorMessage(error),
          });
        } finally {
          setBusy(false);
        }
      }}
    >
      <h3>
        Deploy {version.model}@{version.version}
      </h3>
      {version.scanVerdict !== 'passed' && (
        <p className="hint">
          This version's scan verdict is <ScanBadge verdict={version.scanVerdict} />: the platform will refuse
          to deploy it unless its policy allows.
        </p>
      )}
      <div className="field-row">
        <div className="field">
          <label htmlFor={`${id}-name`}>Endpoint name</label>
          <input id={`${id}-name`} value={name} onChange={(event) => setName(event.target.value)} />
        </div>
        <div className="field">
          <label htmlFor={`${id}-max`}>Max replicas</label>
          <input
            id={`${id}-max`}
            type="number"
            min={1}
            max={16}
            value={maxReplicas}
            onChange={(event) => setMaxReplicas(Number(event.target.value))}
          />
        </div>
      </div>
      <div className="field check">
        <input
          id={`${id}-zero`}
          type="checkbox"
          checked={scaleToZero}
          onChange={(event) => setScaleToZero(event.target.checked)}
        />
        <label htmlFor={`${id}-zero`}>Scale to zero when idle</label>
      </div>
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Deploying…' : 'Deploy endpoint'}
        </button>
        <button type="button" onClick={onClose}>
          Cancel
        </button>
      </div>
      {result &&
        (result.ok ? (
          <p className="result" data-testid="deploy-result">
            Deployed endpoint <code>{result.name}</code> at <code>{result.url}</code>. Create a key on the
            Endpoints page.
          </p>
        ) : (
          <p className="result error" role="alert" data-testid="deploy-result">
            Refused (<code>{result.code}</code>): {result.message}
          </p>
        ))}
    </form>
  );
}

/** dataset → job → model version → endpoints, as a chain of boxes. */
function Lineage({ client, version }: { client: Client; version: ModelVersion }) {
  const lineage = useQuery({
    queryKey: ['lineage', version.team, version.model, version.version],
    queryFn: () => client.models.lineage(version.model, version.version, version.team),
    refetchInterval: 10_000,
  });
  return (
    <div className="panel" data-testid="lineage">
      <h3>
        Lineage of {version.model}@{version.version}{' '}
        <Link href={paths.lineage('model', `${version.model}@${version.version}`)} className="small">
          whole graph
        </Link>
      </h3>
      <QueryState query={lineage}>
        {(data) => (
          <div className="chain">
            <div className="chain-node" data-testid="lineage-datasets">
              <h4>Datasets</h4>
              {data.datasets.length === 0 ? (
                <p className="muted small">none recorded</p>
              ) : (
                <ul>
                  {data.datasets.map((dataset) => (
                    <li key={dataset.path}>
                      <code>{dataset.path}</code>{' '}
                      <span className="muted small">
                        {dataset.registered ? (dataset.classification ?? 'unclassified') : 'not registered'}
                      </span>
                    </li>
                  ))}
                </ul>
              )}
            </div>
            <div className="chain-arrow" aria-hidden="true">
              →
            </div>
            <div className="chain-node" data-testid="lineage-job">
              <h4>Job</h4>
              {data.job ? (
                <dl className="kv">
                  <dt>id</dt>
                  <dd>
                    <Link href={paths.job(data.job.id)}>
                      <code>{data.job.id}</code>
                    </Link>
                  </dd>
                  <dt>product</dt>
                  <dd>{data.job.product}</dd>
                  <dt>owner</dt>
                  <dd>{data.job.owner}</dd>
                  <dt>cost</dt>
                  <dd>{usd(data.job.cost)}</dd>
                </dl>
              ) : (
                <p className="muted small">
                  none: registered from <code>{data.source}</code>
                </p>
              )}
            </div>
            <div className="chain-arrow" aria-hidden="true">
              →
            </div>
            <div className="chain-node chain-current" data-testid="lineage-version">
              <h4>Model version</h4>
              <p>
                <code>
                  {data.model}@{data.version}
                </code>
              </p>
              <ScanBadge verdict={data.scanVerdict} />
            </div>
            <div className="chain-arrow" aria-hidden="true">
              →
            </div>
            <div className="chain-node" data-testid="lineage-endpoints">
              <h4>Endpoints</h4>
              {data.endpoints.length === 0 ? (
                <p className="muted small">not deployed</p>
              ) : (
                <ul>
                  {data.endpoints.map((endpoint) => (
                    <li key={endpoint.name}>
                      <Link href={paths.endpoint(endpoint.name)}>
                        <code>{endpoint.name}</code>
                      </Link>{' '}
                      {endpoint.status && <StatusBadge status={endpoint.status} />}
                    </li>
                  ))}
                </ul>
              )}
            </div>
          </div>
        )}
      </QueryState>
    </div>
  );
}

/** A model's versions (scan, runtime, metrics), the selected version's lineage, and a deploy form. */
export function ModelVersions({ client, model }: { client: Client; model: Model }) {
  const [selected, setSelected] = useState<number | null>(model.latestVersion);
  const [deploying, setDeploying] = useState<number | null>(null);
  const versions = useQuery({
    queryKey: ['models', 'versions', model.team, model.name],
    queryFn: () => client.models.versions(model.name, model.team),
  });
  return (
    <div className="panel" data-testid="model-versions">
      <h2>
        {model.name} <span className="muted small">team {model.team}</span>
      </h2>
      <QueryState query={versions}>
        {(data) => {
          const current = data.items.find((version) => version.version === selected);
          const deployVersion = data.items.find((version) => version.version === deploying);
          return (
            <>
              <ResponsiveTable>
                <table className="clickable" data-testid="versions-table">
                  <thead>
                    <tr>
                      <th>Version</th>
                      <th>Scan</th>
                      <th>Runtime</th>
                      <th>Source</th>
                      <th>Metrics</th>
                      <th>Aliases</th>
                      <th>Created</th>
                      <th />
                    </tr>
                  </thead>
                  <tbody>
                    {data.items.map((version) => (
                      <tr
                        key={version.version}
                        data-testid={`version-row-${version.version}`}
                        className={selected === version.version ? 'selected' : ''}
                        onClick={() => setSelected(version.version)}
                      >
                        <td>{version.version}</td>
                        <td>
                          <ScanBadge verdict={version.scanVerdict} />
                        </td>
                        <td>
                          <code>{version.runtime}</code>
                        </td>
                        <td className="wrap">
                          <code>{version.source}</code>
                        </td>
                        <td>{metricsText(version.metrics)}</td>
                        <td>
                          {version.aliases.length === 0
                            ? '—'
                            : version.aliases.map((alias) => (
                                <span key={alias} className="kind">
                                  {alias}
                                </span>
                              ))}
                        </td>
                        <td>
                          {time(version.createdAt)}{' '}
                          <span className="muted small">by {version.createdBy}</span>
                        </td>
                        <td>
                          <button
                            type="button"
                            className={version.scanVerdict === 'passed' ? 'primary' : ''}
                            title={
                              version.scanVerdict === 'passed'
                                ? 'Deploy as an endpoint'
                                : `scan verdict ${version.scanVerdict}: the platform is expected to refuse`
                            }
                            onClick={(event) => {
                              event.stopPropagation();
                              setSelected(version.version);
                              setDeploying(version.version);
                            }}
                          >
                            Deploy
                          </button>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </ResponsiveTable>
              {current && scanFindings(current).length > 0 && (
                <ul className="scan-problems" data-testid="scan-problems">
                  {scanFindings(current).map((finding) => (
                    <li key={finding}>{finding}</li>
                  ))}
                </ul>
              )}
              {deployVersion && (
                <DeployForm
                  key={deployVersion.version}
                  client={client}
                  version={deployVersion}
                  onClose={() => setDeploying(null)}
                />
              )}
              {current && <Lineage client={client} version={current} />}
            </>
          );
        }}
      </QueryState>
    </div>
  );
}

/** The models of your teams; a model opens its versions, a version its lineage and a deploy form. */
