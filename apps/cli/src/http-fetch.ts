import type { IncomingMessage } from 'node:http';
import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';

/** The response headers, readable as `Headers` are and usable as `HeadersInit` (name/value pairs). */
class ResponseHeaders implements Iterable<[string, string]> {
  readonly #pairs: [string, string][] = [];

  constructor(raw: string[]) {
    for (let index = 0; index + 1 < raw.length; index += 2)
      this.#pairs.push([raw[index]!.toLowerCase(), raw[index + 1]!]);
  }

  get(name: string): string | null {
    const values = this.#pairs.filter(([key]) => key === name.toLowerCase()).map(([, value]) => value);
    return values.length > 0 ? values.join(', ') : null;
  }

  has(name: string): boolean {
    return this.get(name) !== null;
  }

  forEach(callback: (value: string, name: string) => void): void {
    for (const [name, value] of this.#pairs) callback(value, name);
  }

  entries(): IterableIterator<[string, string]> {
    return this.#pairs[Symbol.iterator]();
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }
}

/** What the API client reads of a `Response`. */
class HttpResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: ResponseHeaders;
  readonly url: string;
  readonly redirected: boolean;
  readonly #message: IncomingMessage;
  #used = false;

  constructor(message: IncomingMessage, url: string, redirected: boolean) {
    this.#message = message;
    this.status = message.statusCode ?? 0;
    this.statusText = message.statusMessage ?? '';
    this.headers = new ResponseHeaders(message.rawHeaders);
    this.url = url;
    this.redirected = redirected;
  }

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  get bodyUsed(): boolean {
    return this.#used;
  }

  /** The body as a web stream (`jobs logs -f`, the bill's CSV), made on first use. */
  get body(): ReadableStream<Uint8Array> {
    this.#used = true;
    return Readable.toWeb(this.#message) as ReadableStream<Uint8Array>;
  }

  async text(): Promise<string> {
    if (this.#used) throw new TypeError('Body is unusable: Body has already been read');
    this.#used = true;
    const chunks: Buffer[] = [];
    for await (const chunk of this.#message) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }
}

const redirects = new Set([301, 302, 303, 307, 308]);

/** One request over node:http(s); rejects as fetch does (`TypeError('fetch failed')` with the cause). */
async function send(url: URL, method: string, headers: Record<string, string>, body: string | undefined) {
  // node:https (TLS) only for an https URL.
  const request = url.protocol === 'https:' ? (await import('node:https')).request : httpRequest;
  return new Promise<IncomingMessage>((resolve, reject) => {
    const outgoing = request(
      url,
      {
        method,
        headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) },
      },
      resolve,
    );
    outgoing.on('error', (cause) => reject(new TypeError('fetch failed', { cause })));
    outgoing.end(body);
  });
}

/**
 * `fetch` for the CLI's API calls, over node:http(s). Node 20's global fetch loads undici on first use, which
 * costs about as much as starting Node itself; what the client sends (a string URL, a method, plain headers, a
 * string body) goes through here, anything else to the global fetch. Redirects are followed as fetch follows
 * them, without the credentials when one leaves the origin.
 */
export const httpFetch: typeof fetch = async (input, init) => {
  const plainHeaders =
    init?.headers === undefined ||
    (typeof init.headers === 'object' &&
      !Array.isArray(init.headers) &&
      Object.getPrototypeOf(init.headers) === Object.prototype);
  const supported =
    (typeof input === 'string' || input instanceof URL) &&
    plainHeaders &&
    (init?.body === undefined || init.body === null || typeof init.body === 'string') &&
    !init?.signal &&
    (init?.redirect === undefined || init.redirect === 'follow');
  if (!supported) return fetch(input, init);
  let url = new URL(String(input));
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return fetch(input, init);
  let method = (init?.method ?? 'GET').toUpperCase();
  let headers = { ...(init?.headers as Record<string, string> | undefined) };
  let body = typeof init?.body === 'string' ? init.body : undefined;
  for (let hop = 0; ; hop += 1) {
    const message = await send(url, method, headers, body);
    const location = message.headers.location;
    if (!redirects.has(message.statusCode ?? 0) || !location)
      return new HttpResponse(message, url.href, hop > 0) as unknown as Response;
    message.resume();
    if (hop >= 20) throw new TypeError('fetch failed', { cause: new Error('redirect count exceeded') });
    const next = new URL(location, url);
    if (next.origin !== url.origin) {
      headers = Object.fromEntries(
        Object.entries(headers).filter(([name]) => !['authorization', 'cookie'].includes(name.toLowerCase())),
      );
    }
    if (message.statusCode === 303 ? method !== 'HEAD' : method === 'POST' && message.statusCode! <= 302) {
      method = 'GET';
      body = undefined;
      headers = Object.fromEntries(
        Object.entries(headers).filter(([name]) => !name.toLowerCase().startsWith('content-')),
      );
    }
    url = next;
  }
};
