/**
 * "Run notebook on Flyte": pick one of the tasks the saved notebook defines, fill in its inputs,
 * submit. The server reads the notebook from disk, so unsaved edits are saved first.
 *
 * Tasks are named as runs and widgets name them (`live.slow`: the environment's name, not the
 * Python variable holding it); a bad value says why next to it, and why Run is off.
 */
import * as React from 'react';
import {
  Dialog,
  ReactWidget,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import { HTMLSelect } from '@jupyterlab/ui-components';

import { FlyteClient, INotebookTask, IRun, ITaskInput } from './api';
import { collect, Fields, IFieldSpec, kindOf } from './fields';

interface IChoice {
  task: string;
  inputs: Record<string, unknown>;
  error: string | null;
}

/** The default as the form shows it: Python literals shown as JSON where they differ. */
function initialText(input: ITaskInput): string {
  const d = input.default;
  const kind = kindOf(input.type);
  if (d === null || d === undefined) {
    return kind === 'bool' ? 'false' : '';
  }
  if (kind === 'bool') {
    return d === 'True' ? 'true' : 'false';
  }
  if (kind === 'str') {
    const m = /^(['"])(.*)\1$/s.exec(d);
    return m ? m[2] : d;
  }
  if (kind === 'json') {
    return d
      .replace(/\bTrue\b/g, 'true')
      .replace(/\bFalse\b/g, 'false')
      .replace(/\bNone\b/g, 'null')
      .replace(/'/g, '"');
  }
  return d;
}

export function taskFields(task: INotebookTask): IFieldSpec[] {
  return task.inputs.map(input => ({
    name: input.name,
    type: input.type,
    kind: kindOf(input.type),
    required: input.required,
    initial: initialText(input),
    editable: true
  }));
}

/** `live.slow`, as runs name the task (older servers send no full name: `env.slow`). */
export function taskTitle(task: INotebookTask): string {
  return task.full_name || `${task.env_name || task.environment}.${task.name}`;
}

function SubmitForm(props: {
  tasks: INotebookTask[];
  state: Map<string, Map<string, string>>;
  taskRef: { current: string };
}) {
  const [task, setTask] = React.useState(props.taskRef.current);
  const [, setTick] = React.useState(0);
  const spec = props.tasks.find(t => t.name === task)!;
  let values = props.state.get(task);
  if (!values) {
    values = new Map();
    props.state.set(task, values);
  }
  return (
    <div className="jp-FlyteSubmit">
      <label className="jp-FlyteSubmit-field">
        <span>Task</span>
        <HTMLSelect
          className="jp-FlyteSubmit-task"
          value={task}
          onChange={e => {
            props.taskRef.current = e.currentTarget.value;
            setTask(e.currentTarget.value);
          }}
        >
          {props.tasks.map(t => (
            <option key={t.name} value={t.name}>
              {taskTitle(t)}
            </option>
          ))}
        </HTMLSelect>
      </label>
      {spec.doc ? (
        <div className="jp-FlyteMuted jp-FlyteSubmit-doc">{spec.doc}</div>
      ) : null}
      {spec.inputs.length === 0 ? (
        <div className="jp-FlyteMuted">This task takes no inputs.</div>
      ) : null}
      <Fields
        key={task}
        keyPrefix={`${task}.`}
        fields={taskFields(spec)}
        values={values}
        onChange={() => setTick(t => t + 1)}
      />
    </div>
  );
}

class SubmitBody extends ReactWidget implements Dialog.IBodyWidget<IChoice> {
  /** `state` and `task` outlive one dialog: asked again, the form keeps what was typed. */
  constructor(
    private _tasks: INotebookTask[],
    private _state: Map<string, Map<string, string>>,
    private _task: { current: string }
  ) {
    super();
    this.addClass('jp-FlyteSubmit-body');
  }

  render(): JSX.Element {
    return (
      <SubmitForm
        tasks={this._tasks}
        state={this._state}
        taskRef={this._task}
      />
    );
  }

  getValue(): IChoice {
    const spec = this._tasks.find(t => t.name === this._task.current)!;
    const values = this._state.get(spec.name) ?? new Map<string, string>();
    const { inputs, errors } = collect(taskFields(spec), values);
    const error = errors.size ? [...errors.values()].join('\n') : null;
    return { task: spec.name, inputs, error };
  }
}

/** Ask for a task and its inputs, then submit; resolves to the new run, or null if cancelled. */
export async function runNotebookOnFlyte(
  client: FlyteClient,
  path: string
): Promise<IRun | null> {
  let tasks: INotebookTask[];
  try {
    tasks = await client.notebookTasks(path);
  } catch (e) {
    await showErrorMessage('Run notebook on Flyte', (e as Error).message);
    return null;
  }
  if (!tasks.length) {
    await showErrorMessage(
      'Run notebook on Flyte',
      `${path} defines no tasks. Decorate a function with @env.task (env = flyte.TaskEnvironment(...)) and save the notebook.`
    );
    return null;
  }
  const state = new Map<string, Map<string, string>>();
  const chosen = { current: tasks[0].name };
  for (;;) {
    const body = new SubmitBody(tasks, state, chosen);
    const result = await showDialog<IChoice>({
      title: 'Run notebook on Flyte',
      body,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Run' })],
      focusNodeSelector: 'select'
    });
    if (!result.button.accept || result.value === null) {
      return null;
    }
    if (result.value.error) {
      // only reachable if the dialog let Run through: say why, and ask again with what was typed
      await showErrorMessage('Run notebook on Flyte', result.value.error);
      continue;
    }
    try {
      return await client.submit(path, result.value.task, result.value.inputs);
    } catch (e) {
      await showErrorMessage('Run notebook on Flyte', (e as Error).message);
      return null;
    }
  }
}
