/** A box of the drawing: its step, its layer (column) and row, and its position. */
export interface DagBox {
  name: string;
  layer: number;
  row: number;
  x: number;
  y: number;
}

/** The drawing of a DAG: a box per step in topological layers, an edge per dependency. */
export interface DagLayout {
  boxes: DagBox[];
  edges: { from: string; to: string; x1: number; y1: number; x2: number; y2: number }[];
  width: number;
  height: number;
}

export const BOX = { width: 180, height: 64, gapX: 56, gapY: 18 } as const;

/**
 * Lays out steps left to right: a step sits one layer right of its deepest dependency (steps with none in
 * layer 0), in the order given within a layer. Unknown dependencies are ignored and a cycle (which the
 * server refuses) cannot loop: a step seen again on the path counts as layer 0.
 */
export function dagLayout(steps: { name: string; dependsOn: string[] }[]): DagLayout {
  const byName = new Map(steps.map((step) => [step.name, step]));
  const layers = new Map<string, number>();
  const layerOf = (name: string, path: Set<string>): number => {
    const known = layers.get(name);
    if (known !== undefined) return known;
    const step = byName.get(name);
    if (!step || path.has(name)) return 0;
    path.add(name);
    const deps = step.dependsOn.filter((dep) => byName.has(dep));
    const layer = deps.length === 0 ? 0 : 1 + Math.max(...deps.map((dep) => layerOf(dep, path)));
    path.delete(name);
    layers.set(name, layer);
    return layer;
  };
  const rows = new Map<number, number>();
  const boxes = steps.map((step) => {
    const layer = layerOf(step.name, new Set());
    const row = rows.get(layer) ?? 0;
    rows.set(layer, row + 1);
    return {
      name: step.name,
      layer,
      row,
      x: layer * (BOX.width + BOX.gapX),
      y: row * (BOX.height + BOX.gapY),
    };
  });
  const at = new Map(boxes.map((box) => [box.name, box]));
  const edges = steps.flatMap((step) =>
    step.dependsOn.flatMap((dep) => {
      const from = at.get(dep);
      const to = at.get(step.name)!;
      if (!from) return [];
      return [
        {
          from: dep,
          to: step.name,
          x1: from.x + BOX.width,
          y1: from.y + BOX.height / 2,
          x2: to.x,
          y2: to.y + BOX.height / 2,
        },
      ];
    }),
  );
  const layerCount = Math.max(0, ...boxes.map((box) => box.layer)) + 1;
  const rowCount = Math.max(1, ...rows.values());
  return {
    boxes,
    edges,
    width: layerCount * BOX.width + (layerCount - 1) * BOX.gapX,
    height: rowCount * BOX.height + (rowCount - 1) * BOX.gapY,
  };
}
