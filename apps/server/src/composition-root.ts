import { join } from 'node:path';
import {
  type ApiAddress,
  type Clock,
  createApiAddress,
  createPlatform,
  type Platform,
  type PlatformConfig,
} from '@aicloud/core';
import {
  createLocalExecutor,
  createSlurmExecutor,
  type Executor,
  type SlurmGresTypes,
} from '@aicloud/executors';
import { repoRoot as shippedRepoRoot } from './repo-paths.ts';

/** A Slurm cluster reachable with the Slurm commands on this host, for products with `executor: slurm`. */
export interface SlurmSettings {
  /** The partition every job is submitted to. */
  partition: string;
  /** The cluster account (`--account`) of each team's jobs by team name; a team not listed: its own name. */
  accounts?: Record<string, string> | undefined;
  /** How the cluster's gres names the catalog's GPU types; read from the partition when absent. */
  gresTypes?: SlurmGresTypes | undefined;
}

/** What the executors are built from. */
export interface ExecutorSettings {
  clock?: Clock | undefined;
  /** Where the repository is: its examples, packages and node_modules are read-only in every sandbox. */
  repoRoot?: string | undefined;
  /**
   * How local workloads (jobs, notebooks, replicas) are isolated: `sandbox` (own uid, namespaces, limits;
   * needs root and bubblewrap) or `none` (the server's own user). Default: `sandbox` where this machine can.
   */
  isolation?: 'sandbox' | 'none' | undefined;
  /** Host paths every sandboxed workload also sees read-only (a site runtime's install, shared tools). */
  sandboxReadOnly?: string[] | undefined;
  /** A Slurm cluster: an executor named `slurm` besides `local`. */
  slurm?: SlurmSettings | undefined;
}

/**
 * The executors a platform runs workloads on, by the name products give (`local`, and `slurm` when a
 * cluster is configured), and the API address the local sandbox forwards to (set once the server listens).
 */
export function createExecutors(settings: ExecutorSettings): {
  executors: Record<string, Executor>;
  apiAddress: ApiAddress;
} {
  const apiAddress = createApiAddress();
  const root = settings.repoRoot ?? shippedRepoRoot;
  const clock = settings.clock;
  // One sandbox configuration for every local workload: the API (its socket, and its port inside), and the
  // installation's code read-only (the examples it runs, the SDKs and their packages): never the data dir.
  const local = createLocalExecutor({
    ...(clock ? { clock } : {}),
    ...(settings.isolation ? { isolation: settings.isolation } : {}),
    sandbox: {
      platformApi: apiAddress.sandboxApi,
      readOnly: [
        ...['examples', 'packages', 'node_modules'].map((dir) => join(root, dir)),
        ...(settings.sandboxReadOnly ?? []),
      ],
    },
  });
  const slurm = settings.slurm;
  const executors: Record<string, Executor> = {
    local,
    ...(slurm
      ? {
          slurm: createSlurmExecutor({
            partition: slurm.partition,
            gresTypes: slurm.gresTypes,
            ...(clock ? { clock } : {}),
          }),
        }
      : {}),
  };
  return { executors, apiAddress };
}

/** The platform's settings, with what the executors are built from in place of the executors. */
export type CompositionConfig = Omit<PlatformConfig, 'executors' | 'apiAddress' | 'slurmAccounts'> &
  ExecutorSettings;

/** Builds the executors, then the platform's services on them: the one place aicloud is wired together. */
export async function composePlatform(config: CompositionConfig): Promise<Platform> {
  const { isolation, sandboxReadOnly, slurm, ...platformConfig } = config;
  const { executors, apiAddress } = createExecutors(config);
  try {
    return await createPlatform({
      ...platformConfig,
      executors,
      apiAddress,
      slurmAccounts: slurm?.accounts,
    });
  } catch (error) {
    for (const executor of Object.values(executors)) await executor.shutdown();
    throw error;
  }
}
