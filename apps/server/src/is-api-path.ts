/**
 * Whether a raw request URL, as a router or a proxy in front could read it, names `/v1`, `/metrics`,
 * `/api` or `/ajax-api` (or something below them): percent-encoding decoded (repeatedly), case, `\`,
 * empty and dot segments ignored. Only for requests no route matched: a matched route's own `config.auth` decides those.
 */
export function isApiPath(url: string): boolean {
  let path = url.split(/[?#]/)[0] ?? '';
  for (let round = 0; round < 8; round++) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      return true; // malformed: never a portal page
    }
    if (decoded === path) break;
    path = decoded;
  }
  const segments: string[] = [];
  for (const segment of path.replaceAll('\\', '/').toLowerCase().split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  // `/api` and `/ajax-api`: MLflow's tracking API, whose unknown paths answer MLflow's JSON 404.
  return ['v1', 'metrics', 'api', 'ajax-api'].includes(segments[0] ?? '');
}
