import { request } from 'node:http';

/** Where one Jupyter server listens (loopback or the inside end of its veth) and how to call it. */
export interface JupyterTarget {
  host: string;
  port: number;
  token: string;
  /** Jupyter's base URL: `/notebooks/<id>/`. */
  basePath: string;
}

/** What Jupyter's API says about activity. */
export interface JupyterActivity {
  /** Latest activity Jupyter saw (API requests, kernel messages), in ms since the epoch. */
  lastActivity: number | null;
  /** Whether a kernel is executing right now (counts as activity now). */
  busy: boolean;
  kernels: number;
}

/** GETs one JSON document from Jupyter with its token; rejects on anything but 200 or after `timeoutMs`. */
export function jupyterGet(target: JupyterTarget, path: string, timeoutMs = 3000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.host,
        port: target.port,
        path: `${target.basePath}${path}`,
        method: 'GET',
        headers: { authorization: `token ${target.token}`, accept: 'application/json' },
        timeout: timeoutMs,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          if (res.statusCode !== 200) {
            reject(new Error(`Jupyter answered ${res.statusCode} to GET ${path}`));
            return;
          }
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch (error) {
            reject(error as Error);
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`Jupyter did not answer GET ${path} in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

function time(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const parsed = Date.parse(value);
  return Number.isFinite(parsed) ? parsed : null;
}

/**
 * Reads activity without creating any: `GET /api/status` (not tracked as activity by Jupyter) and
 * `GET /api/kernels?no_track_activity=1` (a plain /api/kernels would count as activity itself).
 */
export async function pollActivity(target: JupyterTarget, timeoutMs = 3000): Promise<JupyterActivity> {
  const [status, kernels] = await Promise.all([
    jupyterGet(target, 'api/status', timeoutMs),
    jupyterGet(target, 'api/kernels?no_track_activity=1', timeoutMs),
  ]);
  let lastActivity = time((status as { last_activity?: unknown }).last_activity);
  let busy = false;
  const list = Array.isArray(kernels)
    ? (kernels as { last_activity?: unknown; execution_state?: unknown }[])
    : [];
  for (const kernel of list) {
    const at = time(kernel.last_activity);
    if (at !== null && (lastActivity === null || at > lastActivity)) lastActivity = at;
    if (kernel.execution_state === 'busy') busy = true;
  }
  return { lastActivity, busy, kernels: list.length };
}

/** Waits until Jupyter answers `/api/status`; rejects when `alive()` turns false or the time is up. */
export async function waitUntilReady(
  target: JupyterTarget,
  options: { timeoutMs: number; alive: () => boolean },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let last: Error | null = null;
  while (Date.now() < deadline) {
    if (!options.alive()) throw new Error(`Jupyter exited while starting${last ? ` (${last.message})` : ''}`);
    try {
      await jupyterGet(target, 'api/status', 1000);
      return;
    } catch (error) {
      last = error as Error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `Jupyter did not answer within ${Math.round(options.timeoutMs / 1000)} s${last ? ` (${last.message})` : ''}`,
  );
}
