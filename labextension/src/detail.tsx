/** One run: header with Abort and Re-run, the live action tree, and the selected action's details. */
import * as React from 'react';
import { Button } from '@jupyterlab/ui-components';

import { FlyteClient, IAction, IRunDetail, isTerminal } from './api';
import { durationOf, formatDuration, formatStart, shortTask } from './format';
import { ActionTree } from './tree';
import { PhaseBadge } from './runs';

const MAX_LOG_CHARS = 500_000;

/** A chatty action must not grow the page without bound: keep the newest part of its log. */
function keepTail(text: string): string {
  if (text.length <= MAX_LOG_CHARS) {
    return text;
  }
  const cut = text.indexOf('\n', text.length - MAX_LOG_CHARS);
  return '[earlier output omitted]\n' + text.slice(cut + 1);
}

/** The log pane: fetches once for finished actions, follows while the action runs. */
function Logs(props: {
  client: FlyteClient;
  run: string;
  action: IAction;
}): JSX.Element {
  const [text, setText] = React.useState('');
  const [error, setError] = React.useState<string | null>(null);
  const [loaded, setLoaded] = React.useState(false);
  const running = !isTerminal(props.action.phase);
  const ref = React.useRef<HTMLPreElement>(null);
  React.useEffect(() => {
    const controller = new AbortController();
    setText('');
    setError(null);
    setLoaded(false);
    props.client
      .streamLogs(
        props.run,
        props.action.name,
        running,
        chunk => setText(t => keepTail(t + chunk)),
        controller.signal
      )
      .then(() => setLoaded(true))
      .catch(e => {
        if (!controller.signal.aborted) {
          setError((e as Error).message);
        }
      });
    return () => controller.abort();
    // follow mode ends when the action does; refetch once it is finished to get the full log
  }, [props.run, props.action.name, running]);
  React.useEffect(() => {
    if (ref.current) {
      ref.current.scrollTop = ref.current.scrollHeight;
    }
  }, [text]);
  return (
    <div className="jp-FlyteLogs">
      <div className="jp-FlyteSection-title">
        Logs
        {running ? <span className="jp-FlyteMuted"> (following)</span> : null}
      </div>
      {error ? <div className="jp-FlyteError">{error}</div> : null}
      <pre
        ref={ref}
        className="jp-FlyteLogs-text"
        data-action={props.action.name}
      >
        {text ||
          (running
            ? 'Waiting for output…'
            : loaded
              ? '(no output)'
              : 'Loading…')}
      </pre>
    </div>
  );
}

function KeyValues(props: {
  title: string;
  values: Record<string, string> | null | undefined;
  empty: string;
}) {
  const v = props.values;
  return (
    <div className={`jp-FlyteKV jp-FlyteKV-${props.title.toLowerCase()}`}>
      <div className="jp-FlyteSection-title">{props.title}</div>
      {!v || !Object.keys(v).length ? (
        <div className="jp-FlyteMuted jp-FlyteKV-empty">{props.empty}</div>
      ) : (
        <table>
          <tbody>
            {Object.entries(v).map(([k, val]) => (
              <tr key={k}>
                <th>{k}</th>
                <td>
                  <code>{String(val)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** Inputs and outputs are read on demand (they live in storage), again once the action ends. */
function useActionDetail(
  client: FlyteClient,
  run: string,
  action: IAction | null
): IAction | null {
  const [detail, setDetail] = React.useState<IAction | null>(null);
  const name = action?.name;
  const phase = action?.phase;
  React.useEffect(() => {
    if (!name) {
      setDetail(null);
      return;
    }
    let live = true;
    client
      .getAction(run, name)
      .then(d => live && setDetail(d))
      .catch(() => live && setDetail(null));
    return () => {
      live = false;
    };
  }, [run, name, phase]);
  return detail && detail.name === name ? detail : null;
}

export interface IRunDetailProps {
  client: FlyteClient;
  run: IRunDetail;
  now: number;
  busy: boolean;
  onBack: () => void;
  onAbort: () => void;
  onRerun: () => void;
}

export function RunDetail(props: IRunDetailProps): JSX.Element {
  const { run } = props;
  const [selected, setSelected] = React.useState<string | null>(null);
  const action = run.actions.find(a => a.name === selected) ?? null;
  const extra = useActionDetail(props.client, run.name, action);
  return (
    <div className="jp-FlyteDetail" data-run={run.name}>
      <div className="jp-FlyteDetail-header">
        <Button
          minimal
          small
          onClick={props.onBack}
          title="Back to all runs"
          className="jp-FlyteBack"
        >
          ‹ Runs
        </Button>
        <PhaseBadge phase={run.phase} />
      </div>
      <div className="jp-FlyteDetail-name" title={run.url ?? run.name}>
        {run.name}
      </div>
      <div className="jp-FlyteDetail-meta jp-FlyteMuted">
        <span title={run.source ?? ''}>{run.source ?? ''}</span>
        <span>
          {formatStart(run.started_at)}{' '}
          {formatDuration(durationOf(run.started_at, run.ended_at, props.now))}
        </span>
      </div>
      <div className="jp-FlyteDetail-actions">
        <Button
          small
          className="jp-FlyteAbort"
          disabled={isTerminal(run.phase) || props.busy}
          onClick={props.onAbort}
          title="Abort this run and all of its actions"
        >
          Abort
        </Button>
        <Button
          small
          className="jp-FlyteRerun"
          disabled={props.busy || run.can_rerun === false}
          onClick={props.onRerun}
          title={
            run.can_rerun === false
              ? 'Only runs submitted from a notebook with this panel can be re-run here'
              : 'Start a new run of the same task with the same inputs, from the notebook as saved now'
          }
        >
          Re-run
        </Button>
      </div>
      {run.error ? (
        <div className="jp-FlyteError">
          <b>{run.error.kind}</b>: {run.error.message}
        </div>
      ) : null}
      <div className="jp-FlyteSection-title">Actions</div>
      <ActionTree
        actions={run.actions}
        selected={selected}
        now={props.now}
        onSelect={setSelected}
      />
      {action ? (
        <div className="jp-FlyteAction" data-action={action.name}>
          <div className="jp-FlyteAction-header">
            <span className="jp-FlyteTree-task" title={action.task}>
              {shortTask(action.task)}
            </span>{' '}
            <span className="jp-FlyteMuted">{action.name}</span>{' '}
            <PhaseBadge phase={action.phase} />
          </div>
          <div className="jp-FlyteMuted">
            attempt {Math.max(action.attempts, 1)} ·{' '}
            {formatDuration(
              durationOf(action.started_at, action.ended_at, props.now)
            ) || 'not started'}
            {action.cache_hit ? ' · cache hit' : ''}
          </div>
          {action.error ? (
            <details className="jp-FlyteError" title="Show the traceback">
              <summary>
                <b>{action.error.kind}</b>: {action.error.message}
              </summary>
              {action.error.traceback ? (
                <pre>{action.error.traceback}</pre>
              ) : null}
            </details>
          ) : null}
          <KeyValues
            title="Inputs"
            values={extra?.inputs}
            empty={extra ? 'none' : 'loading…'}
          />
          <KeyValues
            title="Outputs"
            values={extra?.outputs}
            empty={
              !extra
                ? 'loading…'
                : isTerminal(action.phase)
                  ? 'none'
                  : 'not yet'
            }
          />
          <Logs client={props.client} run={run.name} action={action} />
        </div>
      ) : (
        <div className="jp-FlyteEmpty">
          Select an action to see its logs, inputs and outputs.
        </div>
      )}
    </div>
  );
}
