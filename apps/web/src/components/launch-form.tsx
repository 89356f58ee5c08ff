import type { Client } from '@aicloud/client';
import type { Dataset, Product, SubmitJobRequest, Team } from '@aicloud/contracts';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { AdmissionView } from './admission-view.tsx';
import { errorMessage, fieldIssues } from './api-errors.ts';
import { FieldError, invalidProps } from './field-error.tsx';
import { initialFields, type LaunchFields, toRequest } from './launch-request.ts';
import { SubmitResult } from './submit-result.tsx';
import { useDebounced } from './use-debounced.ts';

/** Fields the form shows; other issue paths are listed above the buttons. */
const formFields = ['team', 'gpus', 'gpuType', 'datasets', 'command', 'maxRuntime', 'spot', 'name'];

/** Launch a job from a product: a live dry-run preview of cost and policy, then the real submission. */
export function LaunchForm({
  client,
  product,
  teams,
  datasets,
}: {
  client: Client;
  product: Product;
  teams: Team[];
  datasets: Dataset[];
}) {
  const queryClient = useQueryClient();
  const [fields, setFields] = useState<LaunchFields>(() => initialFields(product, ''));
  const team = fields.team || teams[0]?.name || '';
  const { request, issues: localIssues } = toRequest(product, { ...fields, team });
  const [settled, settling] = useDebounced({ request, ok: Object.keys(localIssues).length === 0 }, 300);

  const preview = useQuery({
    queryKey: ['job-preview', settled.request],
    queryFn: () => client.jobs.submit({ ...settled.request, dryRun: true }),
    enabled: settled.ok,
    placeholderData: keepPreviousData,
  });
  const submit = useMutation({
    mutationFn: (job: SubmitJobRequest) => client.jobs.submit(job),
    onSettled: () =>
      Promise.all([
        queryClient.invalidateQueries({ queryKey: ['jobs'] }),
        queryClient.invalidateQueries({ queryKey: ['job-preview'] }),
        queryClient.invalidateQueries({ queryKey: ['approvals'] }),
      ]),
  });

  const current = JSON.stringify(request);
  const submitted = JSON.stringify(submit.variables) === current;
  const submitIssues = submitted && submit.isError ? fieldIssues(submit.error) : {};
  const previewIssues = preview.isError && !settling ? fieldIssues(preview.error) : {};
  const issues: Record<string, string> = { ...previewIssues, ...submitIssues, ...localIssues };
  const otherIssues = Object.entries(issues).filter(([key]) => !formFields.includes(key));

  const set = <K extends keyof LaunchFields>(key: K, value: LaunchFields[K]) =>
    setFields((previous) => ({ ...previous, [key]: value }));
  const id = (field: string) => `${product.name}-${field}`;
  const hasGpus = product.gpu.types.length > 0 && product.gpu.max > 0;
  const spotFixed = product.spotPolicy !== 'auto';
  const gpusNumber = Number(fields.gpus);

  return (
    <div className="launch">
      <form
        className="launch-form"
        aria-label={`Launch ${product.name}`}
        onSubmit={(event) => {
          event.preventDefault();
          if (Object.keys(localIssues).length === 0) submit.mutate(request);
        }}
      >
        {teams.length > 1 && (
          <div className="field">
            <label htmlFor={id('team')}>Team</label>
            <select
              id={id('team')}
              value={team}
              onChange={(event) => set('team', event.target.value)}
              {...invalidProps(id('team'), issues.team)}
            >
              {teams.map((team) => (
                <option key={team.id} value={team.name}>
                  {team.name}
                </option>
              ))}
            </select>
            <FieldError id={`${id('team')}-error`} message={issues.team} />
          </div>
        )}
        {hasGpus && (
          <div className="field-row">
            <div className="field">
              <label htmlFor={id('gpus')}>GPUs</label>
              <input
                id={id('gpus')}
                type="number"
                min={0}
                step={1}
                value={fields.gpus}
                onChange={(event) => set('gpus', event.target.value)}
                {...invalidProps(id('gpus'), issues.gpus)}
              />
              <span className="hint">
                {product.gpu.min}–{product.gpu.max} on this product
              </span>
              <FieldError id={`${id('gpus')}-error`} message={issues.gpus} />
            </div>
            <div className="field">
              <label htmlFor={id('gpuType')}>GPU type</label>
              <select
                id={id('gpuType')}
                value={fields.gpuType}
                disabled={!(gpusNumber > 0)}
                onChange={(event) => set('gpuType', event.target.value)}
                {...invalidProps(id('gpuType'), issues.gpuType)}
              >
                {product.gpu.types.map((type) => (
                  <option key={type} value={type}>
                    {type}
                  </option>
                ))}
              </select>
              <FieldError id={`${id('gpuType')}-error`} message={issues.gpuType} />
            </div>
          </div>
        )}
        <fieldset className="field datasets" {...invalidProps(id('datasets'), issues.datasets)}>
          <legend>Datasets</legend>
          {datasets.length === 0 && <span className="hint">No registered datasets in your teams.</span>}
          {datasets.map((dataset) => {
            const checkboxId = `${id('dataset')}-${dataset.path}`;
            return (
              <div key={dataset.path} className="check dataset-option">
                <input
                  id={checkboxId}
                  type="checkbox"
                  checked={fields.datasets.includes(dataset.path)}
                  onChange={(event) =>
                    set(
                      'datasets',
                      event.target.checked
                        ? [...fields.datasets, dataset.path]
                        : fields.datasets.filter((path) => path !== dataset.path),
                    )
                  }
                />
                <label htmlFor={checkboxId}>
                  {dataset.path}
                  <span className="hint">
                    {' '}
                    {dataset.classification ?? 'unclassified'}
                    {dataset.encrypted ? ', encrypted' : ', not encrypted'}
                    {dataset.inApprovedLocation ? '' : ', outside the approved lake'}
                  </span>
                </label>
              </div>
            );
          })}
          <label htmlFor={id('otherDatasets')}>Other dataset paths (comma separated)</label>
          <input
            id={id('otherDatasets')}
            value={fields.otherDatasets}
            placeholder="projects/<team>/datasets/<name>"
            onChange={(event) => set('otherDatasets', event.target.value)}
          />
          <FieldError id={`${id('datasets')}-error`} message={issues.datasets} />
        </fieldset>
        <div className="field">
          <label htmlFor={id('command')}>Command</label>
          <input
            id={id('command')}
            value={fields.command}
            placeholder='echo "hello from aicloud"'
            onChange={(event) => set('command', event.target.value)}
            {...invalidProps(id('command'), issues.command)}
          />
          <FieldError id={`${id('command')}-error`} message={issues.command} />
        </div>
        <div className="field-row">
          <div className="field">
            <label htmlFor={id('maxRuntime')}>Max runtime</label>
            <input
              id={id('maxRuntime')}
              value={fields.maxRuntime}
              placeholder={product.maxDuration}
              onChange={(event) => set('maxRuntime', event.target.value)}
              {...invalidProps(id('maxRuntime'), issues.maxRuntime)}
            />
            <span className="hint">up to {product.maxDuration}; 90s, 30m, 8h</span>
            <FieldError id={`${id('maxRuntime')}-error`} message={issues.maxRuntime} />
          </div>
          <div className="field">
            <label htmlFor={id('name')}>Name</label>
            <input
              id={id('name')}
              value={fields.name}
              placeholder="optional"
              onChange={(event) => set('name', event.target.value)}
              {...invalidProps(id('name'), issues.name)}
            />
            <FieldError id={`${id('name')}-error`} message={issues.name} />
          </div>
        </div>
        <div className="field check">
          <input
            id={id('spot')}
            type="checkbox"
            checked={fields.spot}
            disabled={spotFixed}
            onChange={(event) => set('spot', event.target.checked)}
            {...invalidProps(id('spot'), issues.spot)}
          />
          <label htmlFor={id('spot')}>Spot capacity</label>
          <span className="hint">
            {product.spotPolicy === 'auto'
              ? 'cheaper; the job may be preempted'
              : `this product runs on ${product.spotPolicy} capacity only`}
          </span>
          <FieldError id={`${id('spot')}-error`} message={issues.spot} />
        </div>
        {otherIssues.length > 0 && (
          <ul className="error" role="alert">
            {otherIssues.map(([key, message]) => (
              <li key={key}>
                {key || 'request'}: {message}
              </li>
            ))}
          </ul>
        )}
        <div className="actions">
          <button
            type="submit"
            className="primary"
            disabled={submit.isPending || Object.keys(localIssues).length > 0}
          >
            {submit.isPending ? 'Submitting…' : 'Submit job'}
          </button>
        </div>
      </form>
      <div className="preview" aria-live="polite">
        <h3>
          Preview {(settling || preview.isFetching) && <span className="muted small">(updating…)</span>}
        </h3>
        {!settled.ok ? (
          <p className="muted">Fix the marked fields to see the estimate.</p>
        ) : preview.isError && !settling ? (
          <p role="alert" className="error" data-testid="preview-error">
            {errorMessage(preview.error)}
          </p>
        ) : preview.data ? (
          <AdmissionView admission={preview.data.admission} testId="preview" />
        ) : (
          <p className="muted">Estimating…</p>
        )}
        <SubmitResult mutation={submit} current={submitted} />
      </div>
    </div>
  );
}
