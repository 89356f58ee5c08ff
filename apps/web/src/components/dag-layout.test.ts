import { describe, expect, it } from 'vitest';
import { BOX, dagLayout } from './dag-layout.ts';

describe('dagLayout', () => {
  it('puts each step one layer right of its deepest dependency, with an edge per dependency', () => {
    const layout = dagLayout([
      { name: 'prepare', dependsOn: [] },
      { name: 'train', dependsOn: ['prepare'] },
      { name: 'lint', dependsOn: [] },
      { name: 'evaluate', dependsOn: ['train', 'prepare'] },
      { name: 'register', dependsOn: ['evaluate', 'lint'] },
    ]);
    const layerOf = Object.fromEntries(layout.boxes.map((box) => [box.name, box.layer]));
    expect(layerOf).toEqual({ prepare: 0, lint: 0, train: 1, evaluate: 2, register: 3 });
    const lint = layout.boxes.find((box) => box.name === 'lint')!;
    expect(lint.row).toBe(1);
    expect(lint.y).toBe(BOX.height + BOX.gapY);
    expect(layout.edges.map((edge) => `${edge.from}->${edge.to}`).sort()).toEqual([
      'evaluate->register',
      'lint->register',
      'prepare->evaluate',
      'prepare->train',
      'train->evaluate',
    ]);
    // An edge leaves its source's right side and enters its target's left side.
    const edge = layout.edges.find((candidate) => candidate.from === 'prepare' && candidate.to === 'train')!;
    expect(edge.x1).toBe(BOX.width);
    expect(edge.x2).toBe(BOX.width + BOX.gapX);
    expect(layout.width).toBe(4 * BOX.width + 3 * BOX.gapX);
    expect(layout.height).toBe(2 * BOX.height + BOX.gapY);
  });

  it('ignores unknown dependencies and does not loop on a cycle', () => {
    const layout = dagLayout([
      { name: 'a', dependsOn: ['b', 'ghost'] },
      { name: 'b', dependsOn: ['a'] },
    ]);
    expect(layout.boxes).toHaveLength(2);
    expect(layout.edges.map((edge) => edge.from).sort()).toEqual(['a', 'b']);
  });
});
