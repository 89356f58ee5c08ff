import { useSyncExternalStore } from 'react';

/**
 * A tiny router: the current path, from the address bar. Every page and resource has its own URL
 * (`/jobs/ID`, `/models/TEAM/NAME`, …); the server answers the portal's index page for all of them, so a
 * URL opened in a new tab or shared works as it is.
 */
const NAVIGATED = 'aicloud:navigated';

function subscribe(onChange: () => void): () => void {
  window.addEventListener('popstate', onChange);
  window.addEventListener(NAVIGATED, onChange);
  return () => {
    window.removeEventListener('popstate', onChange);
    window.removeEventListener(NAVIGATED, onChange);
  };
}

const currentPath = () => window.location.pathname;

/** Goes to a portal URL without reloading the page. */
export function navigate(path: string): void {
  if (path === window.location.pathname + window.location.search) return;
  window.history.pushState(null, '', path);
  window.scrollTo(0, 0);
  window.dispatchEvent(new Event(NAVIGATED));
}

/** The current path, updated on navigation. */
export function useRoute(): [string, (path: string) => void] {
  return [useSyncExternalStore(subscribe, currentPath), navigate];
}

/** A path's segments, decoded: `/models/legal-rag/tiny` → ['models', 'legal-rag', 'tiny']. */
export function segments(path: string): string[] {
  return path
    .split('/')
    .filter((segment) => segment !== '')
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        return segment;
      }
    });
}

/** The portal URL of each kind of resource. */
export const paths = {
  job: (id: string) => `/jobs/${encodeURIComponent(id)}`,
  model: (team: string, name: string) => `/models/${encodeURIComponent(team)}/${encodeURIComponent(name)}`,
  endpoint: (name: string) => `/endpoints/${encodeURIComponent(name)}`,
  /** Singular: `/notebooks/ID/…` is the notebook itself (Jupyter, through the platform's proxy). */
  notebook: (id: string) => `/notebook/${encodeURIComponent(id)}`,
  approval: (id: string) => `/approvals/${encodeURIComponent(id)}`,
  experiment: (id: string) => `/experiments/${encodeURIComponent(id)}`,
  pipeline: (id: string) => `/pipelines/${encodeURIComponent(id)}`,
  /** A dataset path, `model@version` or an endpoint name, as one segment (a dataset path's slashes encoded). */
  lineage: (kind: 'dataset' | 'model' | 'endpoint', ref: string) =>
    `/lineage/${kind}/${encodeURIComponent(ref)}`,
};
