import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalExecutor } from '@aicloud/executors';
import { describe, expect, it } from 'vitest';
import { hostAndPort, JUPYTER_BINARY, jupyterSpec } from './jupyter-launch.ts';
import { namespaceSupport } from './notebook-netns.ts';
import type { NotebookRow } from './notebook-record.ts';

const token = 'f00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeed';

function row(overrides: Partial<NotebookRow> = {}): NotebookRow {
  return {
    id: 'nb_launch0123456789',
    name: 'n',
    team: 'legal-rag',
    owner: 'alice',
    product: 'notebook-gpu',
    gpus: 1,
    gpu_type: 'A100',
    gpu_indexes: '[3]',
    egress: 'allowed',
    status: 'starting',
    host: '127.0.0.1',
    port: 24_000,
    token_sealed: 'sealed',
    netns: null,
    work_dir: '/data/notebooks/nb_launch0123456789/files',
    rate_micros: 3_670_000,
    estimate_micros: 44_040_000,
    created_at: '2026-12-04T10:00:00.000Z',
    started_at: null,
    last_activity_at: null,
    idle_timeout_s: 3600,
    max_lifetime_s: 12 * 3600,
    warned_at: null,
    warning: null,
    snoozed_until: null,
    stopped_at: null,
    stop_reason: null,
    stop_message: null,
    metered_until: null,
    cost_micros: 0,
    external_id: null,
    ...overrides,
  };
}

const options = (isolation: 'sandbox' | 'none') => ({
  dataDir: '/data',
  jupyterBinary: JUPYTER_BINARY,
  executor: { isolation },
});

describe('jupyterSpec', () => {
  it('runs a sandboxed Jupyter as its own uid on its address, the token only as a secret', () => {
    const spec = jupyterSpec(options('sandbox'), row(), { graceSeconds: 7 }, token);
    expect(spec.command).toMatch(/^exec '\/usr\/bin\/jupyter-notebook' '--no-browser' '--ip=127\.0\.0\.1'/);
    expect(spec.command).toContain(`'--port=24000' '--port-retries=0'`);
    expect(spec.command).toContain(`'--NotebookApp.base_url=/notebooks/nb_launch0123456789/'`);
    expect(spec.command).not.toContain('--allow-root');
    expect(spec.command).not.toContain(token);
    expect(JSON.stringify(spec.env)).not.toContain(token);
    expect(spec.secrets).toEqual({ JUPYTER_TOKEN: token });
    expect(spec).toMatchObject({
      id: 'nb_launch0123456789',
      workDir: '/data/notebooks/nb_launch0123456789/files',
      gpus: ['3'],
      graceSeconds: 7,
      // The executor's backstop comes two minutes after the max lifetime the culler enforces.
      maxRuntimeSeconds: 12 * 3600 + 120,
      sandbox: { egress: 'open', home: '/data/notebooks/nb_launch0123456789/home' },
    });
    expect(spec.sandbox?.netnsPath).toBeUndefined();
  });

  it('blocks egress through the notebook’s own namespace, sandboxed or entered with ip netns exec', () => {
    const blocked = row({ egress: 'blocked', netns: 'aic-launch01', host: '10.231.0.2', port: 8888 });
    const sandboxed = jupyterSpec(options('sandbox'), blocked, { graceSeconds: 5 }, token);
    expect(sandboxed.sandbox).toMatchObject({ egress: 'blocked', netnsPath: '/run/netns/aic-launch01' });
    expect(sandboxed.command).toMatch(/^exec '\/usr\/bin\/jupyter-notebook'/);
    const plain = jupyterSpec(options('none'), blocked, { graceSeconds: 5 }, token);
    const support = namespaceSupport();
    const ip = support.ok ? support.ip : 'ip';
    expect(plain.command).toContain(`exec '${ip}' 'netns' 'exec' 'aic-launch01'`);
    expect(plain.command).toContain(`'--allow-root' '--ip=10.231.0.2' '--port=8888'`);
  });

  it('exposes Jupyter at its chosen address, with the same egress as its sandbox', () => {
    const open = jupyterSpec(options('sandbox'), row(), { graceSeconds: 5 }, token);
    expect(open.exposure).toEqual({ host: '127.0.0.1', port: 24_000, egress: 'open' });
    const blocked = row({ egress: 'blocked', netns: 'aic-launch01', host: '10.231.0.2', port: 8888 });
    const inNamespace = jupyterSpec(options('sandbox'), blocked, { graceSeconds: 5 }, token);
    expect(inNamespace.exposure).toEqual({ host: '10.231.0.2', port: 8888, egress: 'blocked' });
    expect(inNamespace.sandbox?.egress).toBe(inNamespace.exposure?.egress);
  });
});

describe('the address a notebook is reached at', () => {
  it('is what the local executor returns for the spec: host:port, namespace address included', async () => {
    const executor = createLocalExecutor({ isolation: 'none' });
    const scratch = mkdtempSync(join(tmpdir(), 'aicloud-jupyter-address-'));
    try {
      for (const [host, port] of [
        ['127.0.0.1', 24_001],
        ['10.231.0.2', 8888],
      ] as const) {
        const spec = jupyterSpec(
          options('none'),
          row({ id: `nb_addr${port}`, host, port, work_dir: '' }),
          { graceSeconds: 1 },
          token,
        );
        const root = join(scratch, String(port));
        const handle = await executor.start({
          ...spec,
          // Only the address matters here: a command that ends at once, in a scratch folder.
          command: 'true',
          workDir: `${root}/work`,
          logFile: `${root}/log`,
          outputDir: `${root}/output`,
          checkpointDir: `${root}/checkpoints`,
        });
        expect(handle.address).toBe(`${host}:${port}`);
        expect(hostAndPort(handle.address!)).toEqual({ host, port });
      }
    } finally {
      await executor.shutdown();
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('parses host:port and [v6]:port, and nothing else', () => {
    expect(hostAndPort('[::1]:8888')).toEqual({ host: '::1', port: 8888 });
    expect(hostAndPort('/data/notebooks/nb_x/jupyter.sock')).toBeUndefined();
    expect(hostAndPort('127.0.0.1:0')).toBeUndefined();
    expect(hostAndPort('127.0.0.1:70000')).toBeUndefined();
    expect(hostAndPort('127.0.0.1')).toBeUndefined();
  });
});
