/**
 * One run: where it came from, Abort / Re-run / Clone, why its actions wait, its failure (the root
 * cause once, and the path of actions it travelled), the live action tree, and the selected
 * action's attempts, inputs, outputs and logs.
 *
 * The same view serves the sidebar (`layout="side"`, one column) and a run opened in the main
 * area (`layout="main"`: the tree beside the action, logs at full height).
 */
import * as React from 'react';
import { Button } from '@jupyterlab/ui-components';

import {
  FlyteClient,
  IAction,
  IActionError,
  IAttempt,
  IAttemptUsage,
  IRunDetail,
  isSuccess,
  isTerminal
} from './api';
import {
  durationOf,
  formatDuration,
  formatStart,
  rootCause,
  shortTask
} from './format';
import { FlyteModel } from './panel';
import { OriginLink, PhaseBadge, TriggerTag } from './runs';
import { KernelCommands } from './commands';
import { memoryText, TimelineView } from './timeline';
import { ActionLinks, ActionTree, RecoveredFrom, TaskTypeTag } from './tree';

const MAX_LOG_CHARS = 500_000;
/** Timeline rows before big groups fold: fewer in the narrow sidebar than in the main area. */
const SIDE_ROWS = 60;
const MAIN_ROWS = 200;

/** A chatty action must not grow the page without bound: keep the newest part of its log. */
function keepTail(text: string): string {
  if (text.length <= MAX_LOG_CHARS) {
    return text;
  }
  const cut = text.indexOf('\n', text.length - MAX_LOG_CHARS);
  return '[earlier output omitted]\n' + text.slice(cut + 1);
}

/** A log pane: fetches once for finished actions, follows while the action runs. */
function Logs(props: {
  client: FlyteClient;
  run: string;
  action: IAction;
  attempt?: number;
  title?: string;
}): JSX.Element {
  const [text, setText] = React.useState('');
  const [error, setError] = React.useState<string | null>(null);
  const [loaded, setLoaded] = React.useState(false);
  const latest = !props.attempt || props.attempt >= props.action.attempts;
  const running = latest && !isTerminal(props.action.phase);
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
        controller.signal,
        props.attempt
      )
      .then(() => setLoaded(true))
      .catch(e => {
        if (!controller.signal.aborted) {
          setError((e as Error).message);
        }
      });
    return () => controller.abort();
    // follow mode ends when the action does; refetch once it is finished to get the full log
  }, [props.run, props.action.name, running, props.attempt]);
  React.useEffect(() => {
    if (ref.current) {
      ref.current.scrollTop = ref.current.scrollHeight;
    }
  }, [text]);
  const attemptLog = props.attempt !== undefined;
  return (
    <div className={attemptLog ? 'jp-FlyteAttempt-logs' : 'jp-FlyteLogs'}>
      {attemptLog ? null : (
        <div className="jp-FlyteSection-title">
          {props.title ?? 'Logs'}
          {running ? <span className="jp-FlyteMuted"> (following)</span> : null}
        </div>
      )}
      {error ? <div className="jp-FlyteMessage">{error}</div> : null}
      <pre
        ref={ref}
        className={attemptLog ? 'jp-FlyteAttempt-log' : 'jp-FlyteLogs-text'}
        data-action={props.action.name}
        data-attempt={props.attempt ?? undefined}
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

/** Inputs, outputs and attempts are read on demand (they live in storage), again as the action moves. */
function useActionDetail(
  client: FlyteClient,
  run: string,
  action: IAction | null
): IAction | null {
  const [detail, setDetail] = React.useState<IAction | null>(null);
  const name = action?.name;
  const phase = action?.phase;
  const attempts = action?.attempts;
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
  }, [run, name, phase, attempts]);
  return detail && detail.name === name ? detail : null;
}

/** An error once: its root cause (nested "action … failed:" prefixes taken off), the traceback folded. */
function ErrorBox(props: {
  error: IActionError;
  className?: string;
}): JSX.Element {
  const cause = rootCause(props.error);
  return (
    <details
      className={props.className ?? 'jp-FlyteError'}
      title="Show the traceback"
    >
      <summary>
        <b>{cause.kind}</b>:{' '}
        <span className="jp-FlyteError-message">{cause.message}</span>
      </summary>
      {props.error.traceback ? <pre>{props.error.traceback}</pre> : null}
    </details>
  );
}

/** The chain of failed actions from the root down to the one where the failure started. */
export function failurePath(actions: IAction[]): IAction[] {
  const byParent = new Map<string, IAction[]>();
  for (const a of actions) {
    if (a.parent) {
      const list = byParent.get(a.parent) ?? [];
      list.push(a);
      byParent.set(a.parent, list);
    }
  }
  const failed = (a: IAction) =>
    (a.phase === 'FAILED' || a.phase === 'TIMED_OUT') && !!a.error;
  let node = actions.find(a => !a.parent && failed(a));
  const path: IAction[] = [];
  const seen = new Set<string>();
  while (node && !seen.has(node.name)) {
    seen.add(node.name);
    path.push(node);
    const kids = (byParent.get(node.name) ?? []).filter(failed);
    kids.sort((x, y) => (x.ended_at ?? Infinity) - (y.ended_at ?? Infinity));
    node = kids[0];
  }
  return path;
}

function Failure(props: {
  run: IRunDetail;
  labels: Record<string, string>;
  onSelect: (action: string) => void;
}): JSX.Element | null {
  const { run } = props;
  const path = failurePath(run.actions);
  const deepest = path[path.length - 1];
  const error = deepest?.error ?? run.error;
  if (!error) {
    return null;
  }
  const cause = rootCause(error);
  const label = (a: IAction) => props.labels[a.name] ?? shortTask(a.task);
  return (
    <div className="jp-FlyteError jp-FlyteFailure" data-action={deepest?.name}>
      <div className="jp-FlyteFailure-cause">
        <b>{cause.kind}</b>:{' '}
        <span className="jp-FlyteError-message">{cause.message}</span>
      </div>
      {path.length > 1 ? (
        <div
          className="jp-FlyteFailure-path"
          aria-label="Where the failure went"
        >
          {path.map((a, i) => (
            <React.Fragment key={a.name}>
              {i ? <span className="jp-FlyteMuted"> › </span> : null}
              <a
                href="#"
                className="jp-FlyteFailure-hop"
                data-action={a.name}
                title={`${a.name} (${a.task})${i === path.length - 1 ? ': where it failed' : ''}`}
                onClick={e => {
                  e.preventDefault();
                  props.onSelect(a.name);
                }}
              >
                {label(a)}
              </a>
            </React.Fragment>
          ))}
        </div>
      ) : null}
      {error.traceback ? (
        <details title="Show the traceback">
          <summary className="jp-FlyteMuted">traceback</summary>
          <pre>{error.traceback}</pre>
        </details>
      ) : null}
    </div>
  );
}

function AttemptRow(props: {
  client: FlyteClient;
  run: string;
  action: IAction;
  attempt: IAttempt;
  last: boolean;
  now: number;
}): JSX.Element {
  const { attempt: at } = props;
  const [open, setOpen] = React.useState(false);
  const phase = at.phase ?? 'RUNNING';
  const took = formatDuration(
    durationOf(at.started_at, at.ended_at, props.now)
  );
  return (
    <li
      className="jp-FlyteAttempt"
      data-attempt={at.attempt}
      data-phase={phase}
    >
      <div className="jp-FlyteAttempt-row">
        <span className={`jp-FlyteDot jp-FlytePhase-${phase}`} />
        <b>attempt {at.attempt}</b>
        <span className="jp-FlyteMuted">{phase.replace('_', ' ')}</span>
        <span
          className="jp-FlyteMuted"
          title={
            at.times_seen
              ? ''
              : 'Estimated from the previous attempt and the backoff'
          }
        >
          {at.started_at ? formatStart(at.started_at) : ''}
          {took ? ` · ${at.times_seen ? '' : '~'}${took}` : ''}
        </span>
        <Button
          minimal
          small
          className="jp-FlyteAttempt-logToggle"
          onClick={() => setOpen(!open)}
        >
          {open ? 'hide log' : 'log'}
        </Button>
      </div>
      {at.error && !(props.last && isSuccess(phase)) ? (
        <ErrorBox error={at.error} className="jp-FlyteAttempt-error" />
      ) : null}
      {!props.last && at.backoff !== null ? (
        <div
          className="jp-FlyteMuted jp-FlyteAttempt-backoff"
          title={
            at.backoff_seen
              ? 'The wait seen before the next attempt started'
              : "The task's retry policy"
          }
        >
          ↻ retried after {formatDuration(at.backoff) || '0s'}
          {at.backoff_seen ? '' : ' (retry policy)'}
        </div>
      ) : null}
      {open ? (
        <Logs
          client={props.client}
          run={props.run}
          action={props.action}
          attempt={at.attempt}
        />
      ) : null}
    </li>
  );
}

function Attempts(props: {
  client: FlyteClient;
  run: string;
  action: IAction;
  detail: IAction | null;
  now: number;
}): JSX.Element | null {
  const history = props.detail?.attempt_history;
  if (!history || history.length < 2) {
    return null;
  }
  return (
    <div className="jp-FlyteAttempts">
      <div className="jp-FlyteSection-title">
        Attempts{' '}
        <span className="jp-FlyteMuted">
          {history.length} of {props.detail?.max_attempts ?? history.length}
        </span>
      </div>
      <ol className="jp-FlyteAttempts-list">
        {history.map((at, i) => (
          <AttemptRow
            key={at.attempt}
            client={props.client}
            run={props.run}
            action={props.action}
            attempt={at}
            last={i === history.length - 1}
            now={props.now}
          />
        ))}
      </ol>
    </div>
  );
}

/** The measured attempts of `usage` (CPU seconds or peak memory known). */
function measured(usage: IAttemptUsage[] | undefined): IAttemptUsage[] {
  return (usage ?? []).filter(
    u =>
      (u.cpu_seconds !== null && u.cpu_seconds !== undefined) ||
      (u.peak_memory_bytes !== null && u.peak_memory_bytes !== undefined)
  );
}

function costText(cpu: number | null, peak: number | null): string {
  return [
    cpu !== null ? `CPU ${formatDuration(cpu) || '0ms'}` : '',
    peak !== null ? `peak memory ${memoryText(peak)}` : ''
  ]
    .filter(Boolean)
    .join(' · ');
}

/** What an action's attempts cost: CPU seconds and peak memory, a line per measured attempt. */
function ActionCost(props: { action: IAction }): JSX.Element | null {
  const rows = measured(props.action.usage);
  if (!rows.length) {
    return null;
  }
  return (
    <div className="jp-FlyteMuted jp-FlyteAction-cost">
      {rows.map(u => (
        <div key={u.attempt} data-attempt={u.attempt}>
          {rows.length > 1 || props.action.attempts > 1
            ? `attempt ${u.attempt}: `
            : ''}
          {costText(u.cpu_seconds ?? null, u.peak_memory_bytes ?? null)}
        </div>
      ))}
    </div>
  );
}

/** The run's totals over every measured attempt: CPU summed, the largest peak. */
export function runCost(run: IRunDetail): string {
  let cpu: number | null = null;
  let peak: number | null = null;
  for (const a of run.actions) {
    for (const u of measured(a.usage)) {
      if (u.cpu_seconds !== null && u.cpu_seconds !== undefined) {
        cpu = (cpu ?? 0) + u.cpu_seconds;
      }
      if (u.peak_memory_bytes !== null && u.peak_memory_bytes !== undefined) {
        peak = Math.max(peak ?? 0, u.peak_memory_bytes);
      }
    }
  }
  return cpu === null && peak === null ? '' : costText(cpu, peak);
}

function ActionPane(props: {
  model: FlyteModel;
  run: IRunDetail;
  action: IAction;
  now: number;
  labels: Record<string, string>;
  onOpenRun: (run: string, action: string | null) => void;
}): JSX.Element {
  const { action, model, run } = props;
  const extra = useActionDetail(model.client, run.name, action);
  const retried = action.attempts > 1;
  // a retried action that then succeeded shows no error of an earlier attempt here: its attempts do
  const error = action.error && !isSuccess(action.phase) ? action.error : null;
  return (
    <div className="jp-FlyteAction" data-action={action.name}>
      <div className="jp-FlyteAction-header">
        <span className="jp-FlyteTree-task" title={action.task}>
          {props.labels[action.name] ?? shortTask(action.task)}
        </span>{' '}
        <span className="jp-FlyteMuted">{action.name}</span>{' '}
        <TaskTypeTag type={action.task_type} />{' '}
        <PhaseBadge phase={action.phase} /> <ActionLinks action={action} />
      </div>
      {action.phase === 'RECOVERED' ? (
        <div className="jp-FlyteMuted jp-FlyteAction-recovered">
          <RecoveredFrom
            origin={action.recovered_from}
            onOpenRun={props.onOpenRun}
            className="jp-FlyteAction-recoveredFrom"
          />{' '}
          (its outputs were reused; it did not run again)
        </div>
      ) : null}
      <div className="jp-FlyteMuted jp-FlyteAction-meta">
        attempt {Math.max(action.attempts, 1)}
        {extra?.max_attempts && extra.max_attempts > 1
          ? ` of ${extra.max_attempts}`
          : ''}{' '}
        ·{' '}
        {formatDuration(
          durationOf(action.started_at, action.ended_at, props.now)
        ) || 'not started'}
        {action.cache_hit ? ' · cache hit' : ''}
        {action.phase === 'QUEUED' && model.waitReason()
          ? ` · waiting: ${model.waitReason()}`
          : ''}
      </div>
      <ActionCost action={action} />
      {error ? <ErrorBox error={error} /> : null}
      {retried ? (
        <Attempts
          client={model.client}
          run={run.name}
          action={action}
          detail={extra}
          now={props.now}
        />
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
          !extra ? 'loading…' : isTerminal(action.phase) ? 'none' : 'not yet'
        }
      />
      <Logs
        client={model.client}
        run={run.name}
        action={action}
        title={retried ? `Logs of attempt ${action.attempts}` : 'Logs'}
      />
    </div>
  );
}

export interface IRunDetailProps {
  model: FlyteModel;
  run: IRunDetail;
  now: number;
  layout: 'side' | 'main';
  onBack?: () => void;
  /** Show another run (a re-run or clone just started). */
  onShow: (name: string) => void;
}

export function RunDetail(props: IRunDetailProps): JSX.Element {
  const { run, model } = props;
  const [selected, setSelected] = React.useState<string | null>(
    model.wantedAction.get(run.name) ?? null
  );
  React.useEffect(() => {
    const wanted = model.wantedAction.get(run.name);
    if (wanted) {
      model.wantedAction.delete(run.name);
      setSelected(wanted);
    }
  });
  const [shown, setShown] = React.useState<'tree' | 'timeline'>('tree');
  const action = run.actions.find(a => a.name === selected) ?? null;
  // what the timeline is fetched again on: the actions' phases and attempts
  const version = run.actions
    .map(a => `${a.name}:${a.phase}:${a.attempts}`)
    .join(',');
  const labels = model.labels.get(run.name) ?? {};
  const live = !isTerminal(run.phase);
  const cost = runCost(run);
  const queued = live && run.actions.some(a => a.phase === 'QUEUED');
  const reason = queued ? model.waitReason() : null;
  const openRun = (name: string, at: string | null) => {
    if (at) {
      model.wantedAction.set(name, at);
    }
    props.onShow(name);
  };
  const rerun = async () => {
    const next = await model.rerun(run.name);
    if (next) {
      props.onShow(next.name);
    }
  };
  const clone = async () => {
    const next = await model.clone(run.name);
    if (next) {
      props.onShow(next.name);
    }
  };
  const header = (
    <>
      <div className="jp-FlyteDetail-header">
        {props.onBack ? (
          <Button
            minimal
            small
            onClick={props.onBack}
            title="Back to all runs"
            className="jp-FlyteBack"
          >
            ‹ Runs
          </Button>
        ) : (
          <span className="jp-FlyteDetail-kind jp-FlyteMuted">Flyte run</span>
        )}
        <span className="jp-FlyteDetail-headerEnd">
          {props.layout === 'side' && model.opener ? (
            <Button
              minimal
              small
              className="jp-FlyteOpenMain"
              title="Open this run in the main area, full width (drag its tab beside a notebook)"
              onClick={() => model.opener?.openMain(run.name, selected)}
            >
              ⤢
            </Button>
          ) : null}
          <PhaseBadge phase={run.phase} />
        </span>
      </div>
      <div className="jp-FlyteDetail-name" title={run.url ?? run.name}>
        {run.name}
        {run.series && run.series !== run.name ? (
          <span
            className="jp-FlyteTag jp-FlyteDetail-series"
            title="The series of runs of one named cell"
          >
            series {run.series}
          </span>
        ) : null}
        <TriggerTag run={run} />
      </div>
      <div className="jp-FlyteDetail-meta jp-FlyteMuted">
        <OriginLink run={run} onOpen={r => void model.openOrigin(r)} />
        <span>
          {formatStart(run.started_at)}{' '}
          {formatDuration(durationOf(run.started_at, run.ended_at, props.now))}
        </span>
      </div>
      {cost ? (
        <div
          className="jp-FlyteMuted jp-FlyteDetail-cost"
          title="The run's totals over every measured attempt: CPU seconds summed, the largest peak memory"
        >
          total {cost}
        </div>
      ) : null}
      {run.deployed ? (
        <div
          className="jp-FlyteMuted jp-FlyteDetail-deployed"
          data-task={run.deployed.name}
          data-version={run.deployed.version}
        >
          deployed task{' '}
          <a
            href="#"
            className="jp-FlyteDeployedLink"
            title="Show this version in the Tasks view"
            onClick={e => {
              e.preventDefault();
              model.setView('tasks', run.deployed);
            }}
          >
            {run.deployed.name} @ {run.deployed.version}
          </a>{' '}
          in {run.deployed.project} / {run.deployed.domain}
        </div>
      ) : null}
      {run.origin?.rerun_of ? (
        <div className="jp-FlyteMuted jp-FlyteDetail-rerunOf">
          re-run of{' '}
          <a
            href="#"
            onClick={e => {
              e.preventDefault();
              props.onShow(run.origin!.rerun_of!);
            }}
          >
            {run.origin.rerun_of}
          </a>
        </div>
      ) : null}
      <div className="jp-FlyteDetail-actions">
        <Button
          small
          className="jp-FlyteAbort"
          disabled={isTerminal(run.phase) || model.busy}
          onClick={() => void model.abort(run.name)}
          title="Abort this run and all of its actions"
        >
          Abort
        </Button>
        <Button
          small
          className="jp-FlyteRerun"
          disabled={model.busy || run.can_rerun === false}
          onClick={() => void rerun()}
          title={
            run.can_rerun === false
              ? 'This backend keeps no task to run again'
              : run.origin?.panel
                ? 'Start a new run of the same task with the same inputs, from the notebook as saved now'
                : 'Start a new run of the same code with the same inputs' +
                  (run.series
                    ? ` (the next name of the series ${run.series})`
                    : '')
          }
        >
          Re-run
        </Button>
        <Button
          small
          className="jp-FlyteClone"
          disabled={model.busy || run.can_rerun === false}
          onClick={() => void clone()}
          title="Start a new run with some inputs changed (a form with this run's inputs)"
        >
          Clone…
        </Button>
      </div>
      {reason ? (
        <div className="jp-FlyteWaiting" role="status">
          Actions wait: {reason} ({model.waitRule()}).
        </div>
      ) : null}
      {run.phase === 'FAILED' || run.phase === 'TIMED_OUT' ? (
        <Failure run={run} labels={labels} onSelect={setSelected} />
      ) : null}
      {run.phase === 'FAILED' ||
      run.phase === 'TIMED_OUT' ||
      run.phase === 'ABORTED' ? (
        <KernelCommands
          run={run.name}
          failedAction={failurePath(run.actions).pop()?.name ?? null}
          runner={
            model.opener ? code => model.opener!.runInNotebook(code) : null
          }
        />
      ) : null}
    </>
  );
  const tab = (which: 'tree' | 'timeline', label: string, tip: string) => (
    <button
      className={'jp-FlyteTab' + (shown === which ? ' jp-mod-selected' : '')}
      data-view={which}
      role="tab"
      aria-selected={shown === which}
      title={tip}
      onClick={() => setShown(which)}
    >
      {label}
    </button>
  );
  const tree = (
    <>
      <div className="jp-FlyteViewTabs" role="tablist">
        {tab('tree', 'Actions', 'The live action tree')}
        {tab(
          'timeline',
          'Timeline',
          'When each action waited, started and ran, retries apart; the critical path outlined'
        )}
      </div>
      {shown === 'timeline' ? (
        <TimelineView
          client={model.client}
          run={run.name}
          version={version}
          live={live}
          selected={selected}
          onSelect={setSelected}
          labels={labels}
          maxRows={props.layout === 'side' ? SIDE_ROWS : MAIN_ROWS}
        />
      ) : (
        <ActionTree
          actions={run.actions}
          selected={selected}
          now={props.now}
          onSelect={setSelected}
          labels={labels}
          waitReason={reason}
          onOpenRun={openRun}
        />
      )}
    </>
  );
  const pane = action ? (
    <ActionPane
      model={model}
      run={run}
      action={action}
      now={props.now}
      labels={labels}
      onOpenRun={openRun}
    />
  ) : (
    <div className="jp-FlyteEmpty">
      Select an action to see its logs, inputs and outputs.
    </div>
  );
  if (props.layout === 'main') {
    return (
      <div
        className={
          'jp-FlyteDetail jp-FlyteDetail-main' +
          (shown === 'timeline' ? ' jp-mod-timeline' : '')
        }
        data-run={run.name}
      >
        <div className="jp-FlyteDetail-left">
          {header}
          {tree}
        </div>
        <div className="jp-FlyteDetail-right">{pane}</div>
      </div>
    );
  }
  return (
    <div className="jp-FlyteDetail" data-run={run.name}>
      {header}
      {tree}
      {pane}
    </div>
  );
}
