import { join } from 'node:path';

/** Where one notebook keeps its files under the data dir: `<dataDir>/notebooks/<id>/`. */
export interface NotebookPaths {
  root: string;
  /** The notebook directory Jupyter serves (the user's files); kept when the notebook stops. */
  files: string;
  /** HOME of the Jupyter server and its kernels. */
  home: string;
  runtimeDir: string;
  configDir: string;
  dataDir: string;
  ipythonDir: string;
  /** Jupyter's output (the token masked). */
  logFile: string;
  outputDir: string;
  checkpointDir: string;
}

/** The paths of one notebook, derived from its id alone so they can be found after a restart. */
export function notebookPaths(dataDir: string, id: string): NotebookPaths {
  const root = join(dataDir, 'notebooks', id);
  return {
    root,
    files: join(root, 'files'),
    home: join(root, 'home'),
    runtimeDir: join(root, 'jupyter', 'runtime'),
    configDir: join(root, 'jupyter', 'config'),
    dataDir: join(root, 'jupyter', 'data'),
    ipythonDir: join(root, 'ipython'),
    logFile: join(root, 'jupyter.log'),
    outputDir: join(root, 'output'),
    checkpointDir: join(root, 'checkpoints'),
  };
}
