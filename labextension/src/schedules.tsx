/**
 * The panel's Schedules view: the triggers of deployed tasks (`@env.task(triggers=...)`, then
 * `flyte.deploy`), each with its task and version, its schedule, whether it is active or paused,
 * its next and last fire and the run the last fire started (a click opens it), and Pause / Resume.
 *
 * Pause and resume go to the server (`POST /flyte/api/triggers/NAME/pause|resume`, with the task so
 * two tasks' triggers of one name stay apart); a refusal is shown on the trigger's row in the
 * backend's words, and the row shows what the server answered, not a guess. The list is read again
 * every 15 s while the tab shows, so new fires appear.
 */
import * as React from 'react';
import { Button } from '@jupyterlab/ui-components';

import { ITrigger } from './api';
import { formatStart } from './format';

/** What the view needs of the panel's model. */
export interface ISchedulesHost {
  client: {
    listTriggers(): Promise<ITrigger[]>;
    setTriggerActive(
      name: string,
      task: string,
      active: boolean
    ): Promise<ITrigger>;
  };
  /** Show a run in the panel (a trigger's last run). */
  select(run: string): Promise<void>;
}

const POLL_MS = 15000;

const keyOf = (t: ITrigger) => `${t.project}/${t.domain}/${t.task}/${t.name}`;

/** `in 4m`, `3h ago`: how far a fire time is from now, beside the clock time. */
export function relativeText(at: number, now: number): string {
  const d = at - now;
  const abs = Math.abs(d);
  const text =
    abs < 60
      ? `${Math.round(abs)}s`
      : abs < 3600
        ? `${Math.round(abs / 60)}m`
        : abs < 86400 * 2
          ? `${Math.round(abs / 3600)}h`
          : `${Math.round(abs / 86400)}d`;
  return d >= 0 ? `in ${text}` : `${text} ago`;
}

function When(props: { at: number | null; now: number; none: string }) {
  if (!props.at) {
    return <span className="jp-FlyteMuted">{props.none}</span>;
  }
  return (
    <span title={new Date(props.at * 1000).toISOString()}>
      {formatStart(props.at)}{' '}
      <span className="jp-FlyteMuted">
        ({relativeText(props.at, props.now)})
      </span>
    </span>
  );
}

function TriggerRow(props: {
  trigger: ITrigger;
  now: number;
  host: ISchedulesHost;
  onChanged: (t: ITrigger) => void;
}): JSX.Element {
  const { trigger: t, host } = props;
  const [busy, setBusy] = React.useState(false);
  const [error, setError] = React.useState<string | null>(null);
  const toggle = async () => {
    setBusy(true);
    setError(null);
    try {
      props.onChanged(
        await host.client.setTriggerActive(t.name, t.task, !t.active)
      );
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <li
      className={'jp-FlyteTrigger' + (t.active ? '' : ' jp-mod-paused')}
      data-trigger={t.name}
      data-task={t.task}
      data-active={t.active ? 'true' : 'false'}
    >
      <div className="jp-FlyteTrigger-row">
        <span className="jp-FlyteTrigger-name" title={t.description || t.name}>
          {t.name}
        </span>
        <span
          className={
            'jp-FlyteBadge jp-FlyteTrigger-state ' +
            (t.active ? 'jp-FlytePhase-RUNNING' : 'jp-FlytePhase-QUEUED')
          }
          data-state={t.active ? 'active' : 'paused'}
        >
          {t.active ? 'active' : 'paused'}
        </span>
        <Button
          small
          className="jp-FlyteTrigger-toggle"
          disabled={busy}
          title={
            t.active
              ? 'Pause: no runs start until it is resumed'
              : 'Resume: it fires from its next tick (not for the ticks it missed)'
          }
          onClick={() => void toggle()}
        >
          {t.active ? 'Pause' : 'Resume'}
        </Button>
      </div>
      <div className="jp-FlyteMuted jp-FlyteTrigger-task">
        {t.task} @ {t.version}
      </div>
      <div className="jp-FlyteTrigger-schedule">{t.schedule}</div>
      <table className="jp-FlyteTrigger-facts">
        <tbody>
          <tr data-fact="next">
            <th>next</th>
            <td>
              <When
                at={t.next_fire}
                now={props.now}
                none={t.active ? '—' : 'paused'}
              />
            </td>
          </tr>
          <tr data-fact="last">
            <th>last</th>
            <td>
              <When at={t.last_fire} now={props.now} none="never fired" />
            </td>
          </tr>
          <tr data-fact="run">
            <th>last run</th>
            <td>
              {t.last_run ? (
                <a
                  href="#"
                  className="jp-FlyteTrigger-lastRun"
                  data-run={t.last_run}
                  title="Open this run"
                  onClick={e => {
                    e.preventDefault();
                    void host.select(t.last_run!);
                  }}
                >
                  {t.last_run}
                </a>
              ) : (
                <span className="jp-FlyteMuted">none yet</span>
              )}
            </td>
          </tr>
        </tbody>
      </table>
      {error ? (
        <div className="jp-FlyteError jp-FlyteTrigger-error" role="alert">
          {error}
        </div>
      ) : null}
    </li>
  );
}

export function SchedulesView(props: {
  host: ISchedulesHost;
  now: number;
}): JSX.Element {
  const { host } = props;
  const [rows, setRows] = React.useState<ITrigger[] | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const load = React.useCallback(async () => {
    try {
      setRows(await host.client.listTriggers());
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  }, [host]);
  React.useEffect(() => {
    void load();
    // fires happen while the tab is open: their last fire and run come in without a refresh
    const timer = window.setInterval(() => void load(), POLL_MS);
    return () => window.clearInterval(timer);
  }, [load]);
  if (error) {
    return <div className="jp-FlyteError jp-FlytePanel-error">{error}</div>;
  }
  if (rows === null) {
    return <div className="jp-FlyteEmpty">Loading schedules…</div>;
  }
  if (!rows.length) {
    return (
      <div className="jp-FlyteEmpty jp-FlyteSchedules-none">
        No deployed task of this project and domain has a trigger. Give a task{' '}
        <code>triggers=flyte.Trigger.hourly()</code> and deploy it, then
        refresh.
      </div>
    );
  }
  const changed = (t: ITrigger) =>
    setRows(old => (old ?? []).map(r => (keyOf(r) === keyOf(t) ? t : r)));
  return (
    <ul className="jp-FlyteSchedules" role="list">
      {rows.map(t => (
        <TriggerRow
          key={keyOf(t)}
          trigger={t}
          now={props.now}
          host={host}
          onChanged={changed}
        />
      ))}
    </ul>
  );
}
