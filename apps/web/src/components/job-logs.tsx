import { ApiError } from '@aicloud/client';
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { isSignedOut, portalClient, portalMessage } from '../session.ts';
import { finalStatuses } from './format.ts';

/** The most log text kept in the page; the CLI prints all of it. */
const MAX_CHARS = 1_000_000;

type State = 'connecting' | 'following' | 'reconnecting' | 'ended' | 'failed';

const stateText: Record<State, string> = {
  connecting: 'connecting…',
  following: 'live: following the log',
  reconnecting: 'connection lost, reconnecting…',
  ended: 'complete',
  failed: 'could not be read',
};

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

/**
 * A job's log, streamed from `GET /v1/jobs/ID/logs?follow=true` as it is written, until the job ends; a
 * dropped connection resumes from the last byte received. The view keeps to the end of the log unless you
 * scroll up.
 */
export function JobLogs({ id, started, final }: { id: string; started: boolean; final: boolean }) {
  const [text, setText] = useState('');
  const [trimmed, setTrimmed] = useState(false);
  const [state, setState] = useState<State>('connecting');
  const [problem, setProblem] = useState<string | null>(null);
  const pre = useRef<HTMLPreElement>(null);
  const stickToEnd = useRef(true);
  const finalRef = useRef(final);
  finalRef.current = final;

  useEffect(() => {
    if (!started) return;
    const abort = new AbortController();
    const client = portalClient(abort.signal);
    const encoder = new TextEncoder();
    let buffer = '';
    let offset = 0; // bytes received: where a new connection resumes
    setText('');
    setTrimmed(false);
    setState('connecting');
    setProblem(null);
    void (async () => {
      while (!abort.signal.aborted) {
        try {
          for await (const chunk of client.jobs.logs(id, { follow: true, offset })) {
            offset += encoder.encode(chunk).length;
            buffer += chunk;
            if (buffer.length > MAX_CHARS) {
              const cut = buffer.indexOf('\n', buffer.length - MAX_CHARS);
              buffer = buffer.slice(cut >= 0 ? cut + 1 : buffer.length - MAX_CHARS);
              setTrimmed(true);
            }
            setText(buffer);
            setState('following');
            setProblem(null);
          }
          // The server ends a followed log when the job ends; anything else (a restart) resumes.
          if (finalRef.current || finalStatuses.includes((await client.jobs.get(id)).status)) {
            setState('ended');
            return;
          }
          setState('reconnecting');
          await sleep(1000, abort.signal);
        } catch (error) {
          if (abort.signal.aborted) return;
          if (isSignedOut(error) || (error instanceof ApiError && error.code === 'not_found')) {
            setState('failed');
            setProblem(portalMessage(error));
            return;
          }
          setState('reconnecting');
          setProblem(portalMessage(error));
          await sleep(2000, abort.signal);
        }
      }
    })();
    return () => abort.abort();
  }, [id, started]);

  // After every render (new text): keep the end of the log in view unless the reader scrolled up.
  useLayoutEffect(() => {
    const element = pre.current;
    if (element && stickToEnd.current) element.scrollTop = element.scrollHeight;
  });

  return (
    <section className="panel" aria-label="Log" data-testid="job-log-panel">
      <div className="card-head">
        <h2>Log</h2>
        {started && (
          <span className={`log-state log-${state}`} data-testid="log-state">
            {stateText[state]}
          </span>
        )}
      </div>
      {!started ? (
        <p className="muted" data-testid="log-empty">
          {final ? 'The job never started, so it has no log.' : 'No log yet: the job has not started.'}
        </p>
      ) : (
        <>
          {trimmed && (
            <p className="muted small">
              Only the last part of the log is shown here; <code>aicloud jobs logs {id}</code> prints all of
              it.
            </p>
          )}
          <pre
            ref={pre}
            className="log"
            data-testid="job-logs"
            // biome-ignore lint/a11y/noNoninteractiveTabindex: the log scrolls, so keyboards must reach it
            tabIndex={0}
            onScroll={(event) => {
              const element = event.currentTarget;
              stickToEnd.current = element.scrollHeight - element.scrollTop - element.clientHeight < 24;
            }}
          >
            {text}
          </pre>
          {state === 'ended' && text === '' && <p className="muted">The job wrote nothing.</p>}
          {problem && (
            <p role="alert" className="error">
              {problem}
            </p>
          )}
        </>
      )}
    </section>
  );
}
