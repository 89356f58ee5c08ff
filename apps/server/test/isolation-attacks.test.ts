import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Client, createClient } from '@aicloud/client';
import { jobPaths } from '@aicloud/core';
import { sandboxSupport, workloadUid } from '@aicloud/executors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../src/repo-paths.ts';
import { type RunningServer, startServer } from '../src/start-server.ts';
import { trainTinyModel } from './tiny-model.ts';

// Attacks by a member of `search` on the platform and on `legal-rag`'s workloads, as the isolation issue
// lists them. Each attack prints `LEAK <what>` only if it worked; every one must fail while the workload
// itself still works (its dataset readable, its output written, the API reachable with its run token).

let server: RunningServer;
let work: string;
let dataDir: string;
let alice: Client;
let carol: Client;
let hostService: Server;
let hostServicePort: number;
const secretValue = 'legal-rag-secret-0123456789abcdef';

async function waitFor<T>(
  what: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await what();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function finished(client: Client, id: string) {
  return waitFor(
    () => client.jobs.get(id),
    (job) => !['admitted', 'queued', 'running', 'pending_approval'].includes(job.status),
  );
}

beforeAll(async () => {
  const support = sandboxSupport();
  if (!support.ok) {
    throw new Error(
      `workload sandboxes cannot run here (${support.reason}); as root: apt-get install bubblewrap`,
    );
  }
  work = mkdtempSync(join(tmpdir(), 'aicloud-attacks-'));
  dataDir = join(work, 'data');
  // A host service on every address (like slurmctld or a database): no workload may reach it.
  hostService = createServer((socket) => socket.on('error', () => undefined).end('host-service\n'));
  await new Promise<void>((resolve) => hostService.listen(0, '0.0.0.0', resolve));
  hostServicePort = (hostService.address() as { port: number }).port;
  trainTinyModel(work, 20);
  server = await startServer({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    seedFile: join(repoRoot, 'seed/demo.yaml'),
    webRoot: null,
    importRoots: { 'legal-rag': [work] },
    tickIntervalMs: 200,
  });
  const tokens = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8'));
  alice = createClient({ url: server.url, token: tokens.alice.token });
  carol = createClient({ url: server.url, token: tokens.carol.token });
}, 120_000);

afterAll(async () => {
  await alice?.endpoints.delete('legal-answerer').catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await server?.stop();
  await new Promise((resolve) => hostService?.close(resolve));
});

describe('a member of search attacks the platform and legal-rag from a job', () => {
  it('reads nothing it was not given, reaches no other workload or host service, and still works', async () => {
    // legal-rag's running work: a job holding a secret and its run token, and a model replica.
    await alice.secrets.set('legal-rag', 'HF_TOKEN', secretValue);
    const { job: victim } = await alice.jobs.submit({
      product: 'batch-inference',
      maxRuntime: '5m',
      secrets: ['HF_TOKEN'],
      command: 'echo "victim $HF_TOKEN"; echo victim-ready; sleep 120',
    });
    const victimPaths = jobPaths(dataDir, victim!.id);
    await waitFor(
      async () => readFileSync(victimPaths.logFile, 'utf8'),
      (log) => log.includes('victim-ready'),
    ).catch(() => undefined);
    await alice.models.register({ name: 'legal-answerer', source: `path:${join(work, 'model')}` });
    const endpoint = await alice.endpoints.deploy({ model: 'legal-answerer', version: 1, minReplicas: 1 });
    const ready = await waitFor(
      () => alice.endpoints.get('legal-answerer'),
      (current) => current.status === 'ready',
    );
    expect(ready.replicas.length).toBeGreaterThan(0);
    const replicaSocket = join(dataDir, 'endpoints', endpoint.id, ready.replicas[0]!.id, 'replica.sock');
    const victimSpool = join(victimPaths.workDir, '.aicloud', `${victim!.id}.stdout`);
    const legalDataset = join(dataDir, 'lake', 'legal-rag', 'v2');
    const probe = (target: string) =>
      `/usr/bin/node -e 'const s=require("net").connect(${target});s.setTimeout(2000,()=>{console.log("ERR timeout");s.destroy()});s.on("data",d=>{console.log("GOT "+d);s.destroy()});s.on("error",e=>console.log("ERR "+e.code))'`;
    const attack = [
      'echo "uid=$(id -u)"',
      // Inside, the data dir is only the empty folder above the job's own mounts: `jobs` and nothing else.
      `ls -A '${dataDir}' 2>/dev/null | grep -qv '^jobs$' && echo "LEAK data dir"`,
      `cat '${join(dataDir, 'credentials.json')}' >/dev/null 2>&1 && echo "LEAK credentials.json"`,
      `cat '${join(dataDir, 'secret.key')}' >/dev/null 2>&1 && echo "LEAK secret.key"`,
      `cat '${join(dataDir, 'aicloud.db')}' >/dev/null 2>&1 && echo "LEAK sqlite store"`,
      `ls '${legalDataset}' >/dev/null 2>&1 && echo "LEAK legal-rag dataset"`,
      `ls '${victimPaths.workDir}' >/dev/null 2>&1 && echo "LEAK other job's work dir"`,
      `cat '${victimSpool}' >/dev/null 2>&1 && echo "LEAK other job's spool file"`,
      `cat '${victimPaths.logFile}' >/dev/null 2>&1 && echo "LEAK other job's log"`,
      `cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -q -e '${secretValue}' -e 'AICLOUD_JOB_ID=${victim!.id}' && echo "LEAK /proc environ"`,
      // Patterns written so that they do not match this script, which is the sandbox init's own cmdline.
      `cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' '\\n' | grep -q -e 'sleep 12[0]' -e 'serve[r].mjs' && echo "LEAK /proc cmdline"`,
      `cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep '^AICLOUD_WORKLOAD_ID=' | grep -qv "=$AICLOUD_WORKLOAD_ID$" && echo "LEAK another workload's process"`,
      `echo "processes=$(ls -d /proc/[0-9]* | wc -l)"`,
      `${probe(`"${replicaSocket}"`)} | sed 's/^GOT.*/LEAK replica socket/'`,
      `${probe(`${hostServicePort},"127.0.0.1"`)} | sed 's/^GOT.*/LEAK host service on 127.0.0.1/'`,
      `${probe(`${hostServicePort},"10.231.0.1"`)} | sed 's/^GOT.*/LEAK host service on a veth address/'`,
      // The workload still works: its API (with its own run token, through the sandbox's forwarder).
      `/usr/bin/node -e 'fetch(process.env.AICLOUD_URL+"/v1/jobs/"+process.env.AICLOUD_JOB_ID,{headers:{authorization:"Bearer "+process.env.AICLOUD_RUN_TOKEN}}).then(r=>console.log("api "+r.status),e=>console.log("api error "+e.message))'`,
      'echo done > "$AICLOUD_OUTPUT_DIR/result.txt" && echo output-written',
    ].join('\n');
    const { job } = await carol.jobs.submit({
      product: 'batch-inference',
      maxRuntime: '2m',
      command: attack,
    });
    const ended = await finished(carol, job!.id);
    const log = readFileSync(jobPaths(dataDir, job!.id).logFile, 'utf8');

    expect(ended.status, log).toBe('succeeded');
    expect(log).toContain(`uid=${workloadUid(job!.id)}`);
    expect(log.split('\n').filter((line) => line.includes('LEAK'))).toEqual([]);
    // Its shell and the few commands of the line that counts them, and the sandbox's init.
    expect(Number(/processes=(\d+)/.exec(log)?.[1])).toBeLessThanOrEqual(8);
    expect(log).toContain('api 200');
    expect(log).toContain('output-written');
    expect(readFileSync(join(jobPaths(dataDir, job!.id).outputDir, 'result.txt'), 'utf8')).toBe('done\n');
    // The victim was never disturbed.
    expect((await alice.jobs.get(victim!.id)).status).toBe('running');
    await alice.jobs.cancel(victim!.id);
  }, 180_000);

  it("a dataset swapped for a link into another team's lake after admission is not mounted", async () => {
    const tokens = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8'));
    const bob = createClient({ url: server.url, token: tokens.bob.token });
    const lake = join(dataDir, 'lake');
    // Six GPUs wait for bob's approval: time to swap legal-rag's v2 for a link to search's data.
    const { job } = await alice.jobs.submit({
      product: 'fine-tune',
      gpus: 6,
      gpuType: 'A100',
      maxRuntime: '1h',
      datasets: ['projects/legal-rag/datasets/v2'],
      command: `ls '${join(lake, 'legal-rag', 'v2')}'`,
    });
    expect(job!.status).toBe('pending_approval');
    mkdirSync(join(lake, 'search', 'private'), { recursive: true });
    writeFileSync(join(lake, 'search', 'private', 'search-only.txt'), 'search data\n');
    renameSync(join(lake, 'legal-rag', 'v2'), join(lake, 'legal-rag', 'v2-real'));
    symlinkSync(join(lake, 'search', 'private'), join(lake, 'legal-rag', 'v2'));
    try {
      await bob.approvals.approve(job!.approvalId!);
      const ended = await finished(alice, job!.id);
      // Refused before anything ran (re-admission after the approval resolves the location again; the
      // runner checks once more at the start): the reason says why, and the job never listed search's files.
      expect(['rejected', 'failed']).toContain(ended.status);
      expect(JSON.stringify(ended.reasons)).toContain('dataset-own-team');
      expect(existsSync(jobPaths(dataDir, job!.id).logFile)).toBe(false);
    } finally {
      unlinkSync(join(lake, 'legal-rag', 'v2'));
      renameSync(join(lake, 'legal-rag', 'v2-real'), join(lake, 'legal-rag', 'v2'));
    }
  }, 120_000);

  it('a fine-tune job (egress blocked) reads its own admitted dataset read-only and reaches nothing', async () => {
    const legalDataset = join(dataDir, 'lake', 'legal-rag', 'v2');
    const { job } = await alice.jobs.submit({
      product: 'fine-tune',
      gpus: 1,
      gpuType: 'A100',
      maxRuntime: '5m',
      datasets: ['projects/legal-rag/datasets/v2'],
      command: [
        `ls '${legalDataset}' | head -3`,
        `touch '${legalDataset}/planted' 2>/dev/null && echo "LEAK dataset writable"`,
        `cat '${join(dataDir, 'secret.key')}' >/dev/null 2>&1 && echo "LEAK secret.key"`,
        `/usr/bin/node -e 'fetch(process.env.AICLOUD_URL+"/healthz").then(r=>console.log("LEAK api reachable "+r.status),e=>console.log("no network"))'`,
      ].join('\n'),
    });
    const ended = await finished(alice, job!.id);
    const log = readFileSync(jobPaths(dataDir, job!.id).logFile, 'utf8');
    expect(ended.status, log).toBe('succeeded');
    expect(log).toContain('train.jsonl');
    expect(log).toContain('no network');
    expect(log.split('\n').filter((line) => line.includes('LEAK'))).toEqual([]);
  }, 120_000);
});
