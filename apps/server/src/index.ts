export { type AppOptions, buildApp } from './build-app.ts';
export {
  type CompositionConfig,
  composePlatform,
  createExecutors,
  type ExecutorSettings,
  type SlurmSettings,
} from './composition-root.ts';
export { toErrorBody } from './error-handler.ts';
export { runGatewayWorker } from './gateway-worker.ts';
export { ensurePortalBuilt, webRoot } from './portal-build.ts';
export { repoRoot, shipped } from './repo-paths.ts';
export { type RunningServer, type ServerOptions, serverRunFiles, startServer } from './start-server.ts';
