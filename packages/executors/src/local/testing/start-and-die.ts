// Run with tsx: starts one workload from the spec given as JSON in argv[2], prints its handle and dies by
// SIGKILL, as a crashed server would; the test then reattaches from another process.
import { createLocalExecutor } from '../local-executor.ts';

const spec = JSON.parse(process.argv[2] ?? '{}');
const handle = await createLocalExecutor().start(spec);
process.stdout.write(`${JSON.stringify(handle)}\n`, () => process.kill(process.pid, 'SIGKILL'));
