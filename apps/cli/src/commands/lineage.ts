import {
  type LineageDirection,
  type LineageEdge,
  type LineageGraph,
  type LineageNode,
  type LineageRootKind,
  routes,
} from '@aicloud/contracts';
import { Command, Option } from 'commander';
import { client } from '../context.ts';
import { outputFormat, print, UsageError } from '../output.ts';

/** One node as people read it: what it is, its state, and what lineage cares about (hash, metrics, times). */
export function describeNode(node: LineageNode): string {
  const status = node.status ? `  ${node.status}` : '';
  switch (node.kind) {
    case 'dataset':
      return `dataset ${node.label}${status}  sha256 ${node.contentHash ?? '- (not readable here)'}`;
    case 'pipeline_run':
      return `pipeline ${node.label}${status}`;
    case 'step_job':
      return `step ${node.details.step} (job ${String(node.id).slice('job:'.length)})${status}`;
    case 'job':
      return `job ${node.label}${status}`;
    case 'tracking_run':
      return `mlflow run ${node.label}${status}`;
    case 'model_version': {
      const metrics = Object.entries(node.metrics ?? {})
        .map(([name, value]) => `${name}=${value}`)
        .join(' ');
      return [
        `model ${node.team}/${node.label}  scan ${node.status}`,
        metrics ? `  metrics ${metrics}` : '',
        `  source_run_id ${node.sourceRunId ?? '-'}`,
      ].join('');
    }
    case 'endpoint':
      return `endpoint ${node.label}${status}  served ${node.from ?? '?'} → ${node.to ?? 'now'}`;
  }
}

/** The graph as two trees from its root: what it came from (up) and what came of it (down). */
export function describeGraph(graph: LineageGraph): string {
  const nodes = new Map(graph.nodes.map((node) => [node.id, node]));
  const lines = [describeNode(nodes.get(graph.root)!)];
  const tree = (title: string, next: (id: string) => [LineageEdge, string][]) => {
    const children = next(graph.root);
    if (children.length === 0) return;
    lines.push(title);
    const shown = new Set([graph.root]);
    const walk = (id: string, prefix: string) => {
      const links = next(id);
      links.forEach(([edge, childId], index) => {
        const last = index === links.length - 1;
        const child = nodes.get(childId);
        if (!child) return;
        const hash =
          edge.kind === 'consumed' && edge.contentHash ? ` [${edge.contentHash.slice(0, 12)}]` : '';
        const again = shown.has(childId);
        lines.push(
          `${prefix}${last ? '└─' : '├─'} ${edge.kind}${hash} ${describeNode(child)}${again ? ' (shown above)' : ''}`,
        );
        if (again) return;
        shown.add(childId);
        walk(childId, `${prefix}${last ? '   ' : '│  '}`);
      });
    };
    walk(graph.root, '');
  };
  if (graph.direction !== 'down')
    tree('upstream (where it came from)', (id) =>
      graph.edges.filter((edge) => edge.to === id).map((edge) => [edge, edge.from]),
    );
  if (graph.direction !== 'up')
    tree('downstream (what came of it)', (id) =>
      graph.edges.filter((edge) => edge.from === id).map((edge) => [edge, edge.to]),
    );
  if (graph.truncated) lines.push('(the graph was cut at its node limit; narrow it with --direction)');
  return lines.join('\n');
}

const ROOTS: { kind: LineageRootKind; ref: string; what: string }[] = [
  { kind: 'dataset', ref: '<path>', what: 'a dataset (projects/TEAM/datasets/NAME)' },
  { kind: 'model', ref: '<ref>', what: 'a model version (NAME@VERSION, a number or an alias)' },
  { kind: 'endpoint', ref: '<name>', what: 'an endpoint (its name)' },
];

/** `aicloud lineage dataset|model|endpoint REF [--direction up|down|both] [-o json]`. */
export function lineageCommand(): Command {
  const lineage = new Command('lineage').description(
    'lineage as one graph: datasets (content hash) → pipeline runs → jobs → model versions → endpoints',
  );
  for (const root of ROOTS) {
    lineage
      .command(root.kind)
      .description(`the lineage of ${root.what}`)
      .argument(root.ref, root.what)
      .addOption(
        new Option('-d, --direction <direction>', 'up (ancestors), down (descendants) or both')
          .choices(['up', 'down', 'both'])
          .default('both'),
      )
      .addOption(new Option('--team <team>', 'the team, when the name exists in several'))
      .addOption(new Option('-o, --output <format>', 'table or json').default('table'))
      .action(
        async (ref: string, options: { direction: LineageDirection; team?: string; output: string }) => {
          const format = outputFormat(options.output);
          if (root.kind === 'model' && !/^.+@.+$/.test(ref))
            throw new UsageError(`'${ref}' is not NAME@VERSION`);
          const graph = await client().call(routes.getLineage, {
            params: { kind: root.kind, ref },
            query: { direction: options.direction, team: options.team },
          });
          print(format, graph, () => describeGraph(graph));
        },
      );
  }
  return lineage;
}
