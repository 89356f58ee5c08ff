// A stub OpenAI-compatible upstream for bench:gateway: answers at once, so only the gateway's own cost shows.
import { createServer } from 'node:http';

const flag = (name) =>
  process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined;
const port = Number(flag('--port'));
const socket = flag('--socket');
const body = JSON.stringify({
  id: 'chatcmpl-stub',
  object: 'chat.completion',
  created: 1,
  model: 'stub',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'ok', refusal: null },
      finish_reason: 'stop',
      logprobs: null,
    },
  ],
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
});
const server = createServer((request, response) => {
  if (request.url === '/health') {
    response.writeHead(200).end('ok');
    return;
  }
  request.resume();
  request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end(body));
});
server.keepAliveTimeout = 30_000;
// As a replica it listens on the unix socket the platform gives it; as the bench's direct baseline, on a port.
if (socket) server.listen(socket, () => process.stdout.write(`listening on unix:${socket}\n`));
else server.listen(port, '127.0.0.1', () => process.stdout.write(`listening on http://127.0.0.1:${port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
