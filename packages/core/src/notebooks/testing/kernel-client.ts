import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { request } from 'node:http';
import type { Socket } from 'node:net';

/** Where to reach a Jupyter server: directly (with its token) or through the platform's proxy (with a cookie). */
export interface JupyterEndpoint {
  host: string;
  port: number;
  /** `/notebooks/<id>/`. */
  basePath: string;
  /** Extra request headers: `authorization: token …` directly, `cookie: …` through the proxy. */
  headers: Record<string, string>;
}

/** Sends one HTTP request and answers status and body text. */
export function httpCall(
  endpoint: JupyterEndpoint,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        host: endpoint.host,
        port: endpoint.port,
        method,
        path: `${endpoint.basePath}${path}`,
        headers: {
          ...endpoint.headers,
          ...(payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
        },
        agent: false,
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            headers: res.headers,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** A minimal RFC 6455 client: text frames out (masked), text frames in; enough for Jupyter's kernel channels. */
export interface MiniWebSocket {
  send(text: string): void;
  onMessage(listener: (text: string) => void): void;
  close(): void;
}

/** Opens a websocket on `path` (below the base path); rejects with the HTTP status when the upgrade is refused. */
export function openWebSocket(endpoint: JupyterEndpoint, path: string): Promise<MiniWebSocket> {
  const key = randomBytes(16).toString('base64');
  return new Promise((resolve, reject) => {
    const req = request({
      host: endpoint.host,
      port: endpoint.port,
      path: `${endpoint.basePath}${path}`,
      agent: false,
      headers: {
        ...endpoint.headers,
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-key': key,
        'sec-websocket-version': '13',
      },
    });
    req.on('response', (res) => {
      res.resume();
      reject(
        Object.assign(new Error(`websocket upgrade refused: HTTP ${res.statusCode}`), {
          status: res.statusCode,
        }),
      );
    });
    req.on('error', reject);
    req.on('upgrade', (res, socket: Socket, head: Buffer) => {
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      if (res.headers['sec-websocket-accept'] !== accept) {
        socket.destroy();
        reject(new Error('bad Sec-WebSocket-Accept'));
        return;
      }
      const listeners: ((text: string) => void)[] = [];
      let buffer = head;
      let fragments: Buffer[] = [];
      const writeFrame = (opcode: number, data: Buffer) => {
        const mask = randomBytes(4);
        const length = data.length;
        const header =
          length < 126
            ? Buffer.from([0x80 | opcode, 0x80 | length])
            : length < 65536
              ? Buffer.from([0x80 | opcode, 0x80 | 126, length >> 8, length & 0xff])
              : Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 127]), bigLength(length)]);
        const masked = Buffer.alloc(length);
        for (let i = 0; i < length; i += 1) masked[i] = (data[i] ?? 0) ^ (mask[i % 4] ?? 0);
        socket.write(Buffer.concat([header, mask, masked]));
      };
      const drain = () => {
        for (;;) {
          if (buffer.length < 2) return;
          const first = buffer[0] ?? 0;
          const second = buffer[1] ?? 0;
          let length = second & 0x7f;
          let offset = 2;
          if (length === 126) {
            if (buffer.length < 4) return;
            length = buffer.readUInt16BE(2);
            offset = 4;
          } else if (length === 127) {
            if (buffer.length < 10) return;
            length = Number(buffer.readBigUInt64BE(2));
            offset = 10;
          }
          const masked = (second & 0x80) !== 0;
          const maskKey = masked ? buffer.subarray(offset, offset + 4) : null;
          if (masked) offset += 4;
          if (buffer.length < offset + length) return;
          const data = Buffer.from(buffer.subarray(offset, offset + length));
          if (maskKey)
            for (let i = 0; i < data.length; i += 1) data[i] = (data[i] ?? 0) ^ (maskKey[i % 4] ?? 0);
          buffer = buffer.subarray(offset + length);
          const opcode = first & 0x0f;
          const fin = (first & 0x80) !== 0;
          if (opcode === 9) writeFrame(10, data);
          else if (opcode === 8) socket.end();
          else if (opcode === 1 || opcode === 2 || opcode === 0) {
            fragments.push(data);
            if (fin) {
              const text = Buffer.concat(fragments).toString('utf8');
              fragments = [];
              for (const listener of listeners) listener(text);
            }
          }
        }
      };
      socket.on('data', (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk]);
        drain();
      });
      socket.on('error', () => undefined);
      resolve({
        send: (text) => writeFrame(1, Buffer.from(text, 'utf8')),
        onMessage: (listener) => {
          listeners.push(listener);
          drain();
        },
        close: () => {
          try {
            writeFrame(8, Buffer.alloc(0));
          } catch {
            // already closed
          }
          socket.end();
          setTimeout(() => socket.destroy(), 200).unref();
        },
      });
    });
    req.end();
  });
}

function bigLength(length: number): Buffer {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64BE(BigInt(length));
  return buffer;
}

/** Starts a python3 kernel, runs `code` in it over the kernel's websocket and answers its stdout (and errors). */
export async function runInKernel(
  endpoint: JupyterEndpoint,
  code: string,
  timeoutMs = 20_000,
): Promise<{ stdout: string; error: string | null; kernelId: string }> {
  const started = await httpCall(endpoint, 'POST', 'api/kernels', { name: 'python3' });
  if (started.status !== 201) throw new Error(`kernel start answered ${started.status}: ${started.body}`);
  const kernelId = (JSON.parse(started.body) as { id: string }).id;
  const socket = await openWebSocket(endpoint, `api/kernels/${kernelId}/channels?session_id=${randomUUID()}`);
  try {
    const msgId = randomUUID();
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`kernel did not finish in ${timeoutMs} ms`)),
        timeoutMs,
      );
      let stdout = '';
      let error: string | null = null;
      socket.onMessage((text) => {
        const message = JSON.parse(text) as {
          channel: string;
          msg_type: string;
          parent_header: { msg_id?: string };
          content: Record<string, unknown>;
        };
        if (message.parent_header?.msg_id !== msgId) return;
        if (message.msg_type === 'stream') stdout += String(message.content.text ?? '');
        if (message.msg_type === 'error') error = `${message.content.ename}: ${message.content.evalue}`;
        if (message.channel === 'shell' && message.msg_type === 'execute_reply') {
          clearTimeout(timer);
          // Output on iopub may trail the reply on shell by a moment.
          setTimeout(() => resolve({ stdout, error, kernelId }), 300);
        }
      });
      socket.send(
        JSON.stringify({
          header: {
            msg_id: msgId,
            username: 'test',
            session: randomUUID(),
            msg_type: 'execute_request',
            version: '5.3',
            date: new Date().toISOString(),
          },
          parent_header: {},
          metadata: {},
          content: {
            code,
            silent: false,
            store_history: false,
            user_expressions: {},
            allow_stdin: false,
            stop_on_error: true,
          },
          channel: 'shell',
          buffers: [],
        }),
      );
    });
  } finally {
    socket.close();
  }
}
