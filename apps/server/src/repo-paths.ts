import { join } from 'node:path';

/** The repository's root, where the shipped catalog, policies and demo seed live. */
export const repoRoot = join(import.meta.dirname, '../../..');

/** Shipped files the platform loads at start. */
export const shipped = {
  catalogDir: join(repoRoot, 'catalog'),
  policiesDir: join(repoRoot, 'policies'),
  seedFile: join(repoRoot, 'seed/demo.yaml'),
};
