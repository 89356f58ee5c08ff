// Load generator for bench:gateway, in its own thread so it does not compete with the gateway for the
// server's event loop: POSTs the payload `total` times with `concurrency` connections; reports latencies.
import { parentPort, workerData } from 'node:worker_threads';
import { Pool } from 'undici';

const { origin, headers, concurrency, total, payload } = workerData;
const pool = new Pool(origin, { connections: concurrency });
const latencies = [];
let next = 0;
const started = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < total) {
      next += 1;
      const t0 = performance.now();
      const response = await pool.request({
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { 'content-type': 'application/json', ...headers },
        body: payload,
      });
      await response.body.text();
      if (response.statusCode !== 200) throw new Error(`HTTP ${response.statusCode}`);
      latencies.push(performance.now() - t0);
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
await pool.close();
parentPort.postMessage({ latencies, perSecond: total / seconds });
