// A gateway worker's entry (`aicloud up --gateway-workers N`; apps/server/src/gateway-workers.ts forks it):
// loads the server module named by the primary (the compiled server, or its sources through tsx) and runs
// the worker.
const module = process.env.AICLOUD_SERVER_MODULE ?? '';
try {
  if (module.endsWith('.ts')) {
    const { register } = await import('tsx/esm/api');
    register();
  }
  const { runGatewayWorker } = await import(module);
  await runGatewayWorker();
} catch (error) {
  // The primary reports it (a port in use, say) and stops.
  process.send?.({ failed: error instanceof Error ? error.message : String(error) });
  process.exit(1);
}
