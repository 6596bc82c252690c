/**
 * "Clone…": a form prefilled with a run's inputs; Run starts a new run of the same task with the
 * values edited here (only the changed ones are sent, the others stay exactly as stored).
 */
import * as React from 'react';
import {
  Dialog,
  ReactWidget,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';

import { FlyteClient, IRerunField, IRerunForm, IRun } from './api';
import { collect, Fields, IFieldSpec, kindOf, kindOfValue } from './fields';
import { taskText } from './format';

export function cloneFields(inputs: IRerunField[]): IFieldSpec[] {
  return inputs.map(f => {
    let parsed: unknown = undefined;
    if (f.value !== null) {
      try {
        parsed = JSON.parse(f.value);
      } catch {
        parsed = undefined;
      }
    }
    let kind = kindOf(f.type);
    if (kind === 'json' && parsed !== undefined && parsed !== null) {
      kind = kindOfValue(parsed); // a type name with no plain kind (e.g. unknown): the value's own
    }
    let initial = f.value ?? '';
    if (kind === 'str' && typeof parsed === 'string') {
      initial = parsed;
    } else if (kind === 'bool') {
      initial = parsed === true ? 'true' : 'false';
    }
    return {
      name: f.name,
      type: f.type,
      kind,
      required: false, // every input has its stored value
      initial,
      editable: f.editable,
      note: f.text
    };
  });
}

interface ICloneChoice {
  inputs: Record<string, unknown>;
  error: string | null;
}

function CloneForm(props: {
  form: IRerunForm;
  fields: IFieldSpec[];
  values: Map<string, string>;
}): JSX.Element {
  const [, setTick] = React.useState(0);
  const { form } = props;
  const where =
    form.how === 'notebook'
      ? `from ${form.origin.notebook ?? 'its notebook'} as saved now`
      : `with the code that ran in ${form.run}`;
  return (
    <div className="jp-FlyteSubmit jp-FlyteClone" data-run={form.run}>
      <div className="jp-FlyteMuted">
        A new run of <code>{taskText(form.task)}</code> {where}. Change the
        inputs to try; the others keep their values.
      </div>
      {props.fields.length === 0 ? (
        <div className="jp-FlyteMuted">This task takes no inputs.</div>
      ) : null}
      <Fields
        fields={props.fields}
        values={props.values}
        onChange={() => setTick(t => t + 1)}
      />
    </div>
  );
}

class CloneBody
  extends ReactWidget
  implements Dialog.IBodyWidget<ICloneChoice>
{
  constructor(
    private _form: IRerunForm,
    private _fields: IFieldSpec[],
    private _values: Map<string, string>
  ) {
    super();
    this.addClass('jp-FlyteSubmit-body');
  }

  render(): JSX.Element {
    return (
      <CloneForm
        form={this._form}
        fields={this._fields}
        values={this._values}
      />
    );
  }

  getValue(): ICloneChoice {
    const { inputs, errors } = collect(this._fields, this._values, true);
    return {
      inputs,
      error: errors.size ? [...errors.values()].join('\n') : null
    };
  }
}

/** Ask for the inputs of a clone of `name`, then start it; the new run, or null if cancelled. */
export async function cloneRun(
  client: FlyteClient,
  name: string
): Promise<IRun | null> {
  let form: IRerunForm;
  try {
    form = await client.rerunForm(name);
  } catch (e) {
    await showErrorMessage('Clone run', (e as Error).message);
    return null;
  }
  const fields = cloneFields(form.inputs);
  const values = new Map<string, string>();
  for (;;) {
    const result = await showDialog<ICloneChoice>({
      title: `Clone ${name}`,
      body: new CloneBody(form, fields, values),
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Run' })],
      focusNodeSelector: 'input'
    });
    if (!result.button.accept || result.value === null) {
      return null;
    }
    if (result.value.error) {
      await showErrorMessage('Clone run', result.value.error);
      continue;
    }
    try {
      return await client.rerun(name, result.value.inputs);
    } catch (e) {
      await showErrorMessage('Clone run', (e as Error).message);
    }
  }
}
