import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Where outgoing webhooks (budget alerts) may go. `allowedHosts` lists host names (`hooks.example.com`,
 * `*.example.com` for its subdomains), IP addresses and CIDR ranges; empty allows none. A URL's host must
 * be listed; every address it resolves to is checked when it is sent: link-local and cloud metadata
 * addresses are always refused, loopback and private ranges unless an address or range entry lists them.
 */
export interface WebhookPolicy {
  allowedHosts: readonly string[];
}

/** A webhook URL or address the policy refuses; nothing was sent. */
export class WebhookRefused extends Error {
  override name = 'WebhookRefused';
}

/** Host names of cloud metadata services: never a webhook target, whatever the allow-list says. */
const METADATA_NAMES = new Set(['metadata.google.internal', 'metadata.goog', 'metadata', 'instance-data']);

/** Never a webhook target: link-local (cloud metadata lives there), metadata, unspecified, multicast. */
const ALWAYS_REFUSED = new BlockList();
ALWAYS_REFUSED.addSubnet('169.254.0.0', 16, 'ipv4');
ALWAYS_REFUSED.addSubnet('0.0.0.0', 8, 'ipv4');
ALWAYS_REFUSED.addSubnet('224.0.0.0', 4, 'ipv4');
ALWAYS_REFUSED.addSubnet('240.0.0.0', 4, 'ipv4');
ALWAYS_REFUSED.addSubnet('fe80::', 10, 'ipv6');
ALWAYS_REFUSED.addAddress('fd00:ec2::254', 'ipv6');
ALWAYS_REFUSED.addAddress('::', 'ipv6');
ALWAYS_REFUSED.addSubnet('ff00::', 8, 'ipv6');

/** Loopback and private ranges: refused unless an address or range entry of the allow-list covers them. */
const NON_PUBLIC = new BlockList();
NON_PUBLIC.addSubnet('127.0.0.0', 8, 'ipv4');
NON_PUBLIC.addSubnet('10.0.0.0', 8, 'ipv4');
NON_PUBLIC.addSubnet('172.16.0.0', 12, 'ipv4');
NON_PUBLIC.addSubnet('192.168.0.0', 16, 'ipv4');
NON_PUBLIC.addSubnet('100.64.0.0', 10, 'ipv4');
NON_PUBLIC.addSubnet('192.0.0.0', 24, 'ipv4');
NON_PUBLIC.addSubnet('198.18.0.0', 15, 'ipv4');
NON_PUBLIC.addAddress('::1', 'ipv6');
NON_PUBLIC.addSubnet('fc00::', 7, 'ipv6');
NON_PUBLIC.addSubnet('fec0::', 10, 'ipv6');

type Family = 'ipv4' | 'ipv6';
const familyOf = (address: string): Family | null =>
  isIP(address) === 4 ? 'ipv4' : isIP(address) === 6 ? 'ipv6' : null;

/** `[::1]` → `::1`; `example.com.` → `example.com`. */
function bareHost(hostname: string): string {
  const host = hostname.toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) return host.slice(1, -1);
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

/** The IPv4 address a NAT64 (64:ff9b::/96) address carries, else null (IPv4-mapped ones BlockList handles). */
function nat64Embedded(address: string): string | null {
  const match = /^64:ff9b::(?:([0-9a-f]{1,4}):([0-9a-f]{1,4})|(\d+\.\d+\.\d+\.\d+))$/i.exec(address);
  if (!match) return null;
  if (match[3]) return match[3];
  const high = Number.parseInt(match[1]!, 16);
  const low = Number.parseInt(match[2]!, 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

interface ParsedPolicy {
  names: Set<string>;
  suffixes: string[];
  addresses: BlockList;
}

const parsedPolicies = new WeakMap<readonly string[], ParsedPolicy>();

/** Why an allow-list entry is malformed, or null when it is a host name, an address or a CIDR range. */
export function allowedHostProblem(entry: string): string | null {
  const value = entry.trim().toLowerCase();
  if (!value) return 'an allowed webhook host is empty';
  const cidr = /^(.+)\/(\d{1,3})$/.exec(value);
  if (cidr) {
    const family = familyOf(bareHost(cidr[1]!));
    const bits = Number(cidr[2]);
    if (!family || bits > (family === 'ipv4' ? 32 : 128))
      return `'${entry}' is not a CIDR range such as 10.0.0.0/8`;
    return null;
  }
  if (familyOf(bareHost(value))) return null;
  if (!/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/.test(value))
    return `'${entry}' is not a host name, IP address or CIDR range`;
  return null;
}

function parsePolicy(allowedHosts: readonly string[]): ParsedPolicy {
  const cached = parsedPolicies.get(allowedHosts);
  if (cached) return cached;
  const parsed: ParsedPolicy = { names: new Set(), suffixes: [], addresses: new BlockList() };
  for (const entry of allowedHosts) {
    if (allowedHostProblem(entry)) continue;
    const value = entry.trim().toLowerCase();
    const cidr = /^(.+)\/(\d{1,3})$/.exec(value);
    if (cidr) {
      const address = bareHost(cidr[1]!);
      parsed.addresses.addSubnet(address, Number(cidr[2]), familyOf(address)!);
    } else if (familyOf(bareHost(value))) {
      const address = bareHost(value);
      parsed.addresses.addAddress(address, familyOf(address)!);
    } else if (value.startsWith('*.')) parsed.suffixes.push(bareHost(value.slice(1)));
    else parsed.names.add(bareHost(value));
  }
  parsedPolicies.set(allowedHosts, parsed);
  return parsed;
}

/** Why the webhook may not go to this address, or null when it may. */
export function addressRefusal(address: string, policy: WebhookPolicy): string | null {
  const bare = bareHost(address);
  const family = familyOf(bare);
  if (!family) return `${address} is not an IP address`;
  const embedded = family === 'ipv6' ? nat64Embedded(bare) : null;
  if (embedded) return addressRefusal(embedded, policy);
  if (ALWAYS_REFUSED.check(bare, family))
    return `${bare} is a link-local, metadata or otherwise unroutable address; webhooks never go there`;
  if (NON_PUBLIC.check(bare, family) && !parsePolicy(policy.allowedHosts).addresses.check(bare, family))
    return `${bare} is a loopback or private address; allow it explicitly (aicloud up --webhook-allow-host ${bare}) if it is meant`;
  return null;
}

/**
 * Why a webhook URL is refused without resolving it (scheme, allow-list, literal addresses, metadata host
 * names), or null when it may be sent once its resolved addresses pass too.
 */
export function webhookUrlRefusal(url: string, policy: WebhookPolicy): string | null {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return `'${url}' is not a URL`;
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:')
    return `webhooks are http(s) URLs; '${target.protocol}' is not`;
  const host = bareHost(target.hostname);
  if (METADATA_NAMES.has(host)) return `${host} is a cloud metadata service; webhooks never go there`;
  const parsed = parsePolicy(policy.allowedHosts);
  if (familyOf(host)) {
    const refusal = addressRefusal(host, policy);
    if (refusal) return refusal;
    if (!parsed.addresses.check(host, familyOf(host)!))
      return `${host} is not an allowed webhook host (allowed: ${describeAllowed(policy)})`;
    return null;
  }
  if (!parsed.names.has(host) && !parsed.suffixes.some((suffix) => host.endsWith(suffix)))
    return `${host} is not an allowed webhook host (allowed: ${describeAllowed(policy)})`;
  return null;
}

function describeAllowed(policy: WebhookPolicy): string {
  return policy.allowedHosts.length > 0
    ? policy.allowedHosts.join(', ')
    : 'none; a platform-admin starts aicloud with --webhook-allow-host HOST';
}

/** Resolves a host name to all its addresses (A and AAAA), as the connection would. */
export type WebhookResolver = (host: string) => Promise<{ address: string; family: number }[]>;

const systemResolver: WebhookResolver = (host) => dnsLookup(host, { all: true, verbatim: true });

/**
 * Checks a URL and every address its host resolves to now; answers the addresses to connect to, or
 * throws WebhookRefused (nothing is sent).
 */
export async function resolveWebhookTarget(
  url: string,
  policy: WebhookPolicy,
  resolve: WebhookResolver = systemResolver,
): Promise<{ address: string; family: number }[]> {
  const refusal = webhookUrlRefusal(url, policy);
  if (refusal) throw new WebhookRefused(refusal);
  const host = bareHost(new URL(url).hostname);
  const literal = isIP(host);
  if (literal) return [{ address: host, family: literal }];
  const addresses = await resolve(host);
  if (addresses.length === 0) throw new Error(`${host} does not resolve`);
  for (const { address } of addresses) {
    const refused = addressRefusal(address, policy);
    if (refused) throw new WebhookRefused(`${host} resolves to ${address}: ${refused}`);
  }
  return addresses;
}

/**
 * POSTs a webhook: resolves and checks the host at send time, connects only to the addresses checked (a
 * DNS answer that changes between check and connect is never used), never follows a redirect (a 3xx is
 * an answer like any other, not a success).
 */
export async function postWebhook(
  url: string,
  init: { body: string; headers: Record<string, string>; timeoutMs: number },
  policy: WebhookPolicy,
  resolve: WebhookResolver = systemResolver,
): Promise<{ ok: boolean; status: number }> {
  const addresses = await resolveWebhookTarget(url, policy, resolve);
  const pinned: LookupFunction = (_hostname, options, callback) => {
    if (options.all) callback(null, addresses);
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  };
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolvePost, reject) => {
    const request = send(target, {
      method: 'POST',
      headers: { ...init.headers, 'content-length': String(Buffer.byteLength(init.body)) },
      agent: false,
      lookup: pinned,
      signal: AbortSignal.timeout(init.timeoutMs),
    });
    request.on('response', (response) => {
      response.resume();
      const status = response.statusCode ?? 0;
      resolvePost({ ok: status >= 200 && status < 300, status });
    });
    request.on('error', reject);
    request.end(init.body);
  });
}
