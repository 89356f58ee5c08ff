import type { LineageGraph as Graph, LineageNode } from '@aicloud/contracts';
import { paths } from '../use-route.ts';
import { DagEdges } from './dag-edges.tsx';
import { BOX, dagLayout } from './dag-layout.ts';
import { Link } from './link.tsx';
import './pipeline-dag.css';

const KIND_LABEL: Record<LineageNode['kind'], string> = {
  dataset: 'dataset',
  pipeline_run: 'pipeline run',
  step_job: 'step job',
  job: 'job',
  tracking_run: 'MLflow run',
  model_version: 'model version',
  endpoint: 'endpoint',
};

/** Where a node's own page is in the portal, when it has one. */
function hrefOf(node: LineageNode): string | null {
  const ref = node.id.slice(node.id.indexOf(':') + 1);
  if (node.kind === 'job' || node.kind === 'step_job') return paths.job(ref);
  if (node.kind === 'pipeline_run') return paths.pipeline(ref);
  if (node.kind === 'endpoint') return paths.endpoint(node.label);
  if (node.kind === 'model_version' && node.team) return paths.model(node.team, node.label.split('@')[0]!);
  return null;
}

/** What lineage cares about on a node: a dataset's content hash, a version's metrics, an endpoint's time. */
function factOf(node: LineageNode): string {
  if (node.contentHash) return `sha256 ${node.contentHash.slice(0, 12)}…`;
  if (node.metrics && Object.keys(node.metrics).length > 0)
    return Object.entries(node.metrics)
      .map(([name, value]) => `${name} ${Number(value.toPrecision(4))}`)
      .join(', ');
  if (node.kind === 'endpoint' && node.from) return `since ${node.from.slice(0, 16).replace('T', ' ')}`;
  return node.status ?? '';
}

/** The lineage graph left to right, upstream first: a box per node, an arrow per edge (downstream). */
export function LineageGraph({ graph }: { graph: Graph }) {
  const layout = dagLayout(
    graph.nodes.map((node) => ({
      name: node.id,
      dependsOn: graph.edges.filter((edge) => edge.to === node.id).map((edge) => edge.from),
    })),
  );
  const nodes = new Map(graph.nodes.map((node) => [node.id, node]));
  return (
    <div className="dag-scroll">
      <section
        className="dag"
        data-testid="lineage-graph"
        style={{ width: layout.width, height: layout.height }}
        aria-label={`Lineage of ${graph.root}`}
      >
        <DagEdges layout={layout} />
        {layout.boxes.map((box) => {
          const node = nodes.get(box.name)!;
          const href = hrefOf(node);
          return (
            <div
              key={node.id}
              className={`dag-step${node.id === graph.root ? ' dag-running' : ''}`}
              data-testid={`lineage-node-${node.id}`}
              data-kind={node.kind}
              style={{ left: box.x, top: box.y, width: BOX.width, height: BOX.height }}
              title={node.id}
            >
              <span className="dag-state">{KIND_LABEL[node.kind]}</span>
              {href ? (
                <Link href={href}>
                  <strong>{node.label}</strong>
                </Link>
              ) : (
                <strong>{node.label}</strong>
              )}
              <span className="dag-job">{factOf(node)}</span>
            </div>
          );
        })}
      </section>
    </div>
  );
}
