// The floor of a gateway written in Node, for bench:gateway: the two HTTP exchanges every proxied request
// needs (node:http from the client, undici to the replica's unix socket, as aicloud's gateway does) and
// nothing else: no key, no check, no limit, no metering, no telemetry. Not a product: a measuring stick.
import { createServer } from 'node:http';
import { Pool } from 'undici';

const flag = (name) =>
  process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined;
const port = Number(flag('--port'));
const upstream = new Pool('http://replica', { socketPath: flag('--socket'), connections: 64 });

const server = createServer((request, response) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', async () => {
    try {
      const answer = await upstream.request({
        path: request.url,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: Buffer.concat(chunks),
      });
      const text = await answer.body.text();
      response.writeHead(answer.statusCode, { 'content-type': 'application/json' });
      response.end(text);
    } catch (error) {
      response.writeHead(502).end(String(error));
    }
  });
});
server.keepAliveTimeout = 30_000;
server.listen(port, '127.0.0.1', () => process.stdout.write(`listening on http://127.0.0.1:${port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
