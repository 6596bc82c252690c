/**
 * "Run notebook on Flyte": pick one of the tasks the saved notebook defines, fill in its inputs,
 * submit. The server reads the notebook from disk, so unsaved edits are saved first.
 */
import * as React from 'react';
import {
  Dialog,
  ReactWidget,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import { HTMLSelect, InputGroup } from '@jupyterlab/ui-components';

import { FlyteClient, INotebookTask, IRun, ITaskInput } from './api';

interface IChoice {
  task: string;
  inputs: Record<string, unknown>;
  error: string | null;
}

type FieldKind = 'int' | 'float' | 'bool' | 'str' | 'json';

function kindOf(input: ITaskInput): FieldKind {
  const t = (input.type || '').replace(/\s/g, '');
  if (t === 'int') {
    return 'int';
  }
  if (t === 'float') {
    return 'float';
  }
  if (t === 'bool') {
    return 'bool';
  }
  if (t === 'str') {
    return 'str';
  }
  return 'json';
}

/** Turn the form's text into the JSON value the task expects; throws with a message on bad input. */
function parseValue(input: ITaskInput, raw: string): unknown {
  const kind = kindOf(input);
  switch (kind) {
    case 'int': {
      if (!/^-?\d+$/.test(raw.trim())) {
        throw new Error(`${input.name} must be a whole number, got "${raw}"`);
      }
      return parseInt(raw, 10);
    }
    case 'float': {
      const v = Number(raw);
      if (raw.trim() === '' || Number.isNaN(v)) {
        throw new Error(`${input.name} must be a number, got "${raw}"`);
      }
      return v;
    }
    case 'bool':
      return raw === 'true';
    case 'str':
      return raw;
    default:
      try {
        return JSON.parse(raw);
      } catch {
        throw new Error(
          `${input.name} (${input.type ?? 'any'}) must be JSON, got "${raw}"`
        );
      }
  }
}

/** The default as the form shows it: Python literals shown as JSON where they differ. */
function initialText(input: ITaskInput): string {
  const d = input.default;
  if (d === null || d === undefined) {
    return kindOf(input) === 'bool' ? 'false' : '';
  }
  const kind = kindOf(input);
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

function SubmitForm(props: {
  tasks: INotebookTask[];
  state: Map<string, string>;
  taskRef: { current: string };
}) {
  const [task, setTask] = React.useState(props.taskRef.current);
  const [, setTick] = React.useState(0);
  const spec = props.tasks.find(t => t.name === task)!;
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
              {t.environment}.{t.name}
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
      {spec.inputs.map(input => {
        const key = `${task}.${input.name}`;
        if (!props.state.has(key)) {
          props.state.set(key, initialText(input));
        }
        const value = props.state.get(key)!;
        const kind = kindOf(input);
        return (
          <label
            key={key}
            className="jp-FlyteSubmit-field"
            data-input={input.name}
          >
            <span>
              {input.name}
              <span className="jp-FlyteMuted"> {input.type ?? 'any'}</span>
              {input.required ? (
                <span className="jp-FlyteRequired">*</span>
              ) : null}
            </span>
            {kind === 'bool' ? (
              <input
                type="checkbox"
                name={input.name}
                checked={value === 'true'}
                onChange={e => {
                  props.state.set(
                    key,
                    e.currentTarget.checked ? 'true' : 'false'
                  );
                  setTick(t => t + 1);
                }}
              />
            ) : (
              <InputGroup
                name={input.name}
                type={kind === 'int' || kind === 'float' ? 'number' : 'text'}
                value={value}
                placeholder={input.required ? 'required' : ''}
                onChange={e => {
                  props.state.set(key, e.currentTarget.value);
                  setTick(t => t + 1);
                }}
              />
            )}
          </label>
        );
      })}
    </div>
  );
}

class SubmitBody extends ReactWidget implements Dialog.IBodyWidget<IChoice> {
  private _state = new Map<string, string>();
  private _task: { current: string };

  constructor(private _tasks: INotebookTask[]) {
    super();
    this._task = { current: _tasks[0].name };
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
    const inputs: Record<string, unknown> = {};
    try {
      for (const input of spec.inputs) {
        const raw = this._state.get(`${spec.name}.${input.name}`) ?? '';
        if (raw === '' && kindOf(input) !== 'str') {
          if (input.required) {
            throw new Error(`${input.name} is required`);
          }
          continue;
        }
        inputs[input.name] = parseValue(input, raw);
      }
    } catch (e) {
      return { task: spec.name, inputs, error: (e as Error).message };
    }
    return { task: spec.name, inputs, error: null };
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
  for (;;) {
    const body = new SubmitBody(tasks);
    const result = await showDialog<IChoice>({
      title: 'Run notebook on Flyte',
      body,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Run' })],
      focusNodeSelector: 'select'
    });
    if (!result.button.accept) {
      return null;
    }
    if (result.value === null) {
      return null;
    }
    if (result.value.error) {
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
