import type { PipelineStepSpec } from '@aicloud/contracts';
import { AppError } from '../app-error.ts';

/** Refuses a step declared twice, a dependency on an unknown step, and a cycle (naming it). */
export function checkDag(steps: PipelineStepSpec[]): void {
  const names = new Set<string>();
  for (const step of steps) {
    if (names.has(step.name)) throw new AppError('invalid_input', `step ${step.name} is declared twice`);
    names.add(step.name);
  }
  for (const step of steps) {
    for (const dep of step.dependsOn) {
      if (!names.has(dep))
        throw new AppError('invalid_input', `step ${step.name} depends on unknown step ${dep}`);
    }
  }
  const state = new Map<string, 'visiting' | 'done'>();
  const byName = new Map(steps.map((step) => [step.name, step]));
  const visit = (name: string, path: string[]) => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      throw new AppError('invalid_input', `the steps form a cycle: ${[...path, name].join(' → ')}`);
    }
    state.set(name, 'visiting');
    for (const dep of byName.get(name)!.dependsOn) visit(dep, [...path, name]);
    state.set(name, 'done');
  };
  for (const step of steps) visit(step.name, []);
}
