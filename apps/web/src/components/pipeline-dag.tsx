import type { Pipeline } from '@aicloud/contracts';
import { paths } from '../use-route.ts';
import { DagEdges } from './dag-edges.tsx';
import { BOX, dagLayout } from './dag-layout.ts';
import { Link } from './link.tsx';
import './pipeline-dag.css';

/**
 * A pipeline's DAG: a box per step in topological layers (left to right), coloured by the step's state,
 * with its attempt and a link to its latest job; an SVG line per dependency.
 */
export function PipelineDag({ pipeline }: { pipeline: Pipeline }) {
  const layout = dagLayout(
    pipeline.steps.map((step) => ({ name: step.name, dependsOn: step.spec.dependsOn })),
  );
  const steps = new Map(pipeline.steps.map((step) => [step.name, step]));
  return (
    <div className="dag-scroll">
      <section
        className="dag"
        data-testid="pipeline-dag"
        style={{ width: layout.width, height: layout.height }}
        aria-label={`Steps of ${pipeline.name}`}
      >
        <DagEdges layout={layout} />
        {layout.boxes.map((box) => {
          const step = steps.get(box.name)!;
          return (
            <div
              key={box.name}
              className={`dag-step dag-${step.status}`}
              data-testid={`dag-step-${step.name}`}
              data-status={step.status}
              style={{ left: box.x, top: box.y, width: BOX.width, height: BOX.height }}
              title={step.reason ?? undefined}
            >
              <strong>{step.name}</strong>
              <span className="dag-state">
                {step.status}
                {step.attempt > 1 ? ` · try ${step.attempt}` : ''}
              </span>
              {step.jobId ? (
                <Link href={paths.job(step.jobId)} className="dag-job">
                  {step.jobId}
                </Link>
              ) : (
                <span className="dag-job muted">
                  {step.status === 'cached' ? 'from cache' : 'no job yet'}
                </span>
              )}
            </div>
          );
        })}
      </section>
    </div>
  );
}
