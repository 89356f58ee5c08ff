import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { dirname } from 'node:path';

/**
 * The platform's API on a unix socket, for sandboxed workloads whose egress is `platform`: they have no
 * route to the host's TCP ports, and the sandbox binds this one socket in. Connections are handed to the
 * same HTTP server, so every request is authenticated exactly as over TCP; the socket is mode 0666 because
 * the token, not the uid, is what grants access.
 */
export async function listenApiSocket(http: HttpServer, path: string): Promise<Server> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o711 });
  rmSync(path, { force: true });
  const server = createServer((socket) => http.emit('connection', socket));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o666);
  return server;
}
