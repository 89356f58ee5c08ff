/** Where workloads reach the platform's API; known once the server listens, read when a workload starts. */
export interface ApiAddress {
  /** The API's URL, given to workloads as `AICLOUD_URL`. */
  url(): string;
  /** Records the URL the server listens on. */
  setUrl(url: string): void;
  /** Records the API's unix socket (bound into sandboxes whose egress is `platform`), or its absence. */
  setSocket(path: string | undefined): void;
  /** The socket and the port a sandbox's forwarder answers on, once the server listens on both. */
  sandboxApi(): { socket: string; port: number } | undefined;
}

/** Creates the address holder the composition root shares between the local executor and the platform. */
export function createApiAddress(url = 'http://127.0.0.1:8787'): ApiAddress {
  let current = url;
  let socket: string | undefined;
  return {
    url: () => current,
    setUrl(next) {
      current = next;
    },
    setSocket(path) {
      socket = path;
    },
    sandboxApi() {
      const port = Number(new URL(current).port);
      return socket && port > 0 ? { socket, port } : undefined;
    },
  };
}
