import type { DagLayout } from './dag-layout.ts';

/** The edges of a laid-out DAG as one SVG under its boxes: a line with an arrow head per edge. */
export function DagEdges({ layout }: { layout: DagLayout }) {
  return (
    <svg className="dag-edges" width={layout.width} height={layout.height} aria-hidden="true">
      <defs>
        <marker
          id="dag-arrow"
          viewBox="0 0 8 8"
          refX="8"
          refY="4"
          markerWidth="8"
          markerHeight="8"
          orient="auto"
        >
          <path d="M0,0 L8,4 L0,8 z" fill="#7a8594" />
        </marker>
      </defs>
      {layout.edges.map((edge) => (
        <line
          key={`${edge.from}-${edge.to}`}
          data-edge={`${edge.from}->${edge.to}`}
          x1={edge.x1}
          y1={edge.y1}
          x2={edge.x2 - 2}
          y2={edge.y2}
          markerEnd="url(#dag-arrow)"
        />
      ))}
    </svg>
  );
}
