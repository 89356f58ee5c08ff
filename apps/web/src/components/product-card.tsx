import type { Client } from '@aicloud/client';
import type { Dataset, Product, Team } from '@aicloud/contracts';
import { usd } from './format.ts';
import { LaunchForm } from './launch-form.tsx';

/** Product kinds that run as jobs; notebooks and endpoints have their own pages. */
const jobKinds = ['fine-tune', 'training', 'batch-inference'];

function gpuRange(product: Product): string {
  if (product.gpu.max === 0 || product.gpu.types.length === 0) return 'none (CPU only)';
  const count =
    product.gpu.min === product.gpu.max ? `${product.gpu.max}` : `${product.gpu.min}–${product.gpu.max}`;
  return `${count} × ${product.gpu.types.join(' or ')}`;
}

/** One catalog product: what it offers and costs, and (when open) its launch form. */
export function ProductCard({
  client,
  product,
  teams,
  datasets,
  open,
  onToggle,
}: {
  client: Client;
  product: Product;
  teams: Team[];
  datasets: Dataset[];
  open: boolean;
  onToggle: () => void;
}) {
  const launchable = jobKinds.includes(product.kind);
  return (
    <article className={`card${open ? ' card-open' : ''}`} data-testid={`product-${product.name}`}>
      <header className="card-head">
        <h2>{product.name}</h2>
        <span className={`kind kind-${product.kind}`}>{product.kind}</span>
      </header>
      <p className="description">{product.description}</p>
      <div className="specs">
        <dl className="kv">
          <dt>GPUs</dt>
          <dd>{gpuRange(product)}</dd>
          <dt>Machine</dt>
          <dd>
            {product.cpus} CPUs, {product.memoryGiB} GiB
          </dd>
          <dt>Max runtime</dt>
          <dd>{product.maxDuration}</dd>
          <dt>Idle stop</dt>
          <dd>{product.idleDuration ? `after ${product.idleDuration} idle` : 'none'}</dd>
          <dt>Spot</dt>
          <dd>{product.spotPolicy === 'auto' ? 'on request (auto)' : product.spotPolicy}</dd>
          {product.egress === 'blocked' && (
            <>
              <dt>Egress</dt>
              <dd>blocked</dd>
            </>
          )}
        </dl>
        <table className="prices">
          <thead>
            <tr>
              <th>Per hour</th>
              <th>On-demand</th>
              <th>Spot</th>
            </tr>
          </thead>
          <tbody>
            {Object.entries(product.prices).map(([unit, price]) => (
              <tr key={unit}>
                <td>{unit === 'cpu' ? 'CPU machine' : `1 × ${unit}`}</td>
                <td>{usd(price.onDemand)}</td>
                <td>{usd(price.spot)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {launchable ? (
        <button
          type="button"
          className={open ? '' : 'primary'}
          aria-expanded={open}
          aria-label={`${open ? 'Close' : 'Launch'} ${product.name}`}
          onClick={onToggle}
        >
          {open ? 'Close' : 'Launch…'}
        </button>
      ) : (
        <p className="muted small">
          {product.kind === 'endpoint' ? 'An' : 'A'} {product.kind} is started from the{' '}
          {product.kind === 'notebook' ? 'Notebooks' : 'Endpoints'} page.
        </p>
      )}
      {open && launchable && (
        <LaunchForm client={client} product={product} teams={teams} datasets={datasets} />
      )}
    </article>
  );
}
