/**
 * The panel's Tasks view: tasks deployed to the backend (`flyte-jupyter deploy`), grouped by
 * project and domain, each with its versions (newest first, the newest marked `latest`); the
 * interface of the chosen version, and a Launch form made from its typed inputs.
 *
 * The form reuses the submit and clone dialogs' fields: each value is checked as it is typed and
 * Launch stays off while one is wrong. The server checks every value again against the types the
 * registration recorded; a refusal (a wrong type, a platform limit, a run name taken) is shown in
 * its own words under the form. A launched run opens in the panel like any other.
 */
import * as React from 'react';
import { Button } from '@jupyterlab/ui-components';

import { FlyteAPIError, IDeployedInput, IDeployedTask, IRun } from './api';
import { collect, FieldKind, Fields, IFieldSpec, kindOf } from './fields';
import { formatStart } from './format';

/** What the view needs of the panel's model. */
export interface ITasksHost {
  client: {
    listTasks(): Promise<IDeployedTask[]>;
    launchTask(
      name: string,
      version: string,
      inputs: Record<string, unknown>
    ): Promise<IRun>;
  };
  /** A task (and version) to show when the view opens, e.g. from a run's detail. */
  wantedTask: { name: string; version: string } | null;
  /** Show a new run in the panel. */
  show(run: IRun): Promise<void>;
}

const DATES = /^datetime\.(datetime|date)$/;

/** `Optional[X]` -> `X`. */
function innerType(type: string): string {
  const m = /^Optional\[(.*)\]$/s.exec(type.replace(/\s/g, ''));
  return m ? m[1] : type.replace(/\s/g, '');
}

/** The field kind of a registered type: dates are ISO text (the server reads them). */
function kindOfDeployed(type: string): FieldKind {
  const inner = innerType(type);
  return DATES.test(inner) ? 'str' : kindOf(inner);
}

/** The registered default (JSON text) as the field starts with it; '' for none or null. */
function initialOf(input: IDeployedInput, kind: FieldKind): string {
  if (
    !input.has_default ||
    input.default === null ||
    input.default === 'null'
  ) {
    return kind === 'bool' ? 'false' : '';
  }
  if (kind === 'str') {
    try {
      const v = JSON.parse(input.default);
      return typeof v === 'string' ? v : input.default;
    } catch {
      return input.default;
    }
  }
  return input.default;
}

export function launchFields(task: IDeployedTask): IFieldSpec[] {
  return task.inputs.map(input => {
    const kind = kindOfDeployed(input.type);
    return {
      name: input.name,
      type: input.type,
      kind,
      required: !input.has_default,
      initial: initialOf(input, kind),
      editable: true
    };
  });
}

/**
 * The inputs to send: every value checked; an optional input left as it started is not sent,
 * so the run takes the registered default (a `None` default is not sent as "").
 */
export function launchInputs(
  fields: IFieldSpec[],
  values: Map<string, string>
): { inputs: Record<string, unknown>; errors: Map<string, string> } {
  const { inputs, errors } = collect(fields, values);
  for (const field of fields) {
    const raw = values.get(field.name) ?? field.initial;
    if (!field.required && raw === field.initial) {
      delete inputs[field.name];
    }
  }
  return { inputs, errors };
}

interface IGroup {
  where: string;
  tasks: Map<string, IDeployedTask[]>;
}

/** Rows (by name, newest first within a name) -> project/domain -> name -> versions. */
function grouped(rows: IDeployedTask[]): IGroup[] {
  const groups = new Map<string, IGroup>();
  for (const row of rows) {
    const where = `${row.project} / ${row.domain}`;
    let group = groups.get(where);
    if (!group) {
      group = { where, tasks: new Map() };
      groups.set(where, group);
    }
    const versions = group.tasks.get(row.name) ?? [];
    versions.push(row);
    group.tasks.set(row.name, versions);
  }
  for (const group of groups.values()) {
    for (const versions of group.tasks.values()) {
      versions.sort((a, b) => b.created_at - a.created_at);
    }
  }
  return [...groups.values()];
}

function keyOf(t: { project: string; domain: string; name: string }): string {
  return `${t.project}/${t.domain}/${t.name}`;
}

function Interface(props: { task: IDeployedTask; latest: boolean }) {
  const { task } = props;
  const facts: [string, string][] = [
    ['registered', `${formatStart(task.created_at)} by ${task.created_by}`],
    ['environment', task.environment],
    [
      'resources',
      Object.entries(task.resources)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ') || 'platform defaults'
    ],
    ['retries', String(task.retries)],
    ['image', task.image ?? "the backend's Python"],
    ['spec', task.digest.slice(0, 12)]
  ];
  return (
    <div className="jp-FlyteTasks-interface">
      <div className="jp-FlyteTasks-title">
        <span className="jp-FlyteTasks-name">{task.name}</span>
        <span className="jp-FlyteMuted"> @ </span>
        <span className="jp-FlyteTasks-versionName">{task.version}</span>
        {props.latest ? (
          <span className="jp-FlyteTasks-latest">latest</span>
        ) : null}
      </div>
      {task.docs ? (
        <div className="jp-FlyteMuted jp-FlyteTasks-docs">
          {task.docs.trim()}
        </div>
      ) : null}
      <div className="jp-FlyteKV">
        <div className="jp-FlyteSection-title">Interface</div>
        <table className="jp-FlyteTasks-inputs">
          <tbody>
            {task.inputs.map(i => (
              <tr key={i.name} data-input={i.name}>
                <th>{i.name}</th>
                <td>
                  <code>{i.type}</code>
                  {i.has_default ? (
                    <span className="jp-FlyteMuted">
                      {' '}
                      = {i.default ?? '(registered default)'}
                    </span>
                  ) : (
                    <span className="jp-FlyteRequired">*</span>
                  )}
                </td>
              </tr>
            ))}
            <tr>
              <th>→</th>
              <td>
                <code>{task.output ?? 'None'}</code>
              </td>
            </tr>
          </tbody>
        </table>
        <table className="jp-FlyteTasks-facts">
          <tbody>
            {facts.map(([k, v]) => (
              <tr key={k}>
                <th>{k}</th>
                <td className="jp-FlyteKV-value">{v}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

function LaunchForm(props: { task: IDeployedTask; host: ITasksHost }) {
  const { task, host } = props;
  const [values] = React.useState(() => new Map<string, string>());
  const [, setTick] = React.useState(0);
  const [busy, setBusy] = React.useState(false);
  const [refusal, setRefusal] = React.useState<{
    message: string;
    field: string | null;
  } | null>(null);
  const fields = launchFields(task);
  const { inputs, errors } = launchInputs(fields, values);
  const launch = async () => {
    setBusy(true);
    setRefusal(null);
    try {
      const run = await host.client.launchTask(task.name, task.version, inputs);
      await host.show(run);
    } catch (e) {
      const err = e as FlyteAPIError;
      setRefusal({ message: err.message, field: err.field ?? null });
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="jp-FlyteLaunch">
      <div className="jp-FlyteSection-title">Launch</div>
      {fields.length === 0 ? (
        <div className="jp-FlyteMuted">This task takes no inputs.</div>
      ) : null}
      <Fields
        fields={fields}
        values={values}
        keyPrefix={`${task.name}@${task.version}.`}
        action="Launch"
        onChange={() => {
          setRefusal(null);
          setTick(t => t + 1);
        }}
      />
      {refusal ? (
        <div
          className="jp-FlyteError jp-FlyteLaunch-refused"
          role="alert"
          data-field={refusal.field ?? ''}
        >
          {refusal.message}
        </div>
      ) : null}
      <div className="jp-FlyteLaunch-actions">
        <Button
          small
          className="jp-FlyteLaunch-go"
          disabled={busy || errors.size > 0}
          onClick={() => void launch()}
          title={
            errors.size
              ? `Fix ${[...errors.keys()].join(', ')} first`
              : `Run ${task.name} version ${task.version} (its registered code and image)`
          }
        >
          {busy ? 'Launching…' : 'Launch'}
        </Button>
      </div>
    </div>
  );
}

export function TasksView(props: { host: ITasksHost }): JSX.Element {
  const { host } = props;
  const [rows, setRows] = React.useState<IDeployedTask[] | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [open, setOpen] = React.useState<string | null>(null);
  const [version, setVersion] = React.useState<string | null>(null);
  const load = React.useCallback(async () => {
    try {
      const found = await host.client.listTasks();
      setRows(found);
      setError(null);
      const wanted = host.wantedTask;
      if (wanted) {
        host.wantedTask = null;
        const hit = found.find(
          r => r.name === wanted.name && r.version === wanted.version
        );
        if (hit) {
          setOpen(keyOf(hit));
          setVersion(hit.version);
        }
      }
    } catch (e) {
      setError((e as Error).message);
    }
  }, [host]);
  React.useEffect(() => {
    void load();
  }, [load]);
  if (error) {
    return <div className="jp-FlyteError jp-FlytePanel-error">{error}</div>;
  }
  if (rows === null) {
    return <div className="jp-FlyteEmpty">Loading deployed tasks…</div>;
  }
  if (!rows.length) {
    return (
      <div className="jp-FlyteEmpty jp-FlyteTasks-none">
        No tasks are deployed to this project and domain. Deploy some with{' '}
        <code>flyte-jupyter deploy FILE --project P --domain D</code>, then
        refresh.
      </div>
    );
  }
  return (
    <div className="jp-FlyteTasks">
      {grouped(rows).map(group => (
        <div
          key={group.where}
          className="jp-FlyteTasks-group"
          data-where={group.where}
        >
          <div className="jp-FlyteSection-title jp-FlyteTasks-where">
            {group.where}
          </div>
          <ul className="jp-FlyteTasks-list">
            {[...group.tasks.entries()].map(([name, versions]) => {
              const key = keyOf(versions[0]);
              const isOpen = open === key;
              const chosen = isOpen
                ? (versions.find(v => v.version === version) ?? versions[0])
                : null;
              return (
                <li
                  key={key}
                  className={
                    'jp-FlyteTasks-task' + (isOpen ? ' jp-mod-open' : '')
                  }
                  data-task={name}
                >
                  <div
                    className="jp-FlyteTasks-row"
                    role="button"
                    tabIndex={0}
                    onClick={() => {
                      setOpen(isOpen ? null : key);
                      setVersion(versions[0].version);
                    }}
                  >
                    <span className="jp-FlyteTasks-caret">
                      {isOpen ? '▾' : '▸'}
                    </span>
                    <span className="jp-FlyteTasks-name">{name}</span>
                    <span className="jp-FlyteMuted">
                      {versions[0].version}
                      {versions.length > 1
                        ? ` · ${versions.length} versions`
                        : ''}
                    </span>
                  </div>
                  {chosen ? (
                    <div className="jp-FlyteTasks-detail">
                      <div className="jp-FlyteTasks-versions">
                        {versions.map((v, i) => (
                          <button
                            key={v.version}
                            className={
                              'jp-FlyteTasks-version' +
                              (v.version === chosen.version
                                ? ' jp-mod-selected'
                                : '')
                            }
                            data-version={v.version}
                            title={`registered ${formatStart(v.created_at)} by ${v.created_by}`}
                            onClick={() => setVersion(v.version)}
                          >
                            {v.version}
                            {i === 0 ? (
                              <span className="jp-FlyteTasks-latest">
                                latest
                              </span>
                            ) : null}
                          </button>
                        ))}
                      </div>
                      <Interface
                        task={chosen}
                        latest={chosen === versions[0]}
                      />
                      <LaunchForm
                        key={`${chosen.name}@${chosen.version}`}
                        task={chosen}
                        host={host}
                      />
                    </div>
                  ) : null}
                </li>
              );
            })}
          </ul>
        </div>
      ))}
    </div>
  );
}
