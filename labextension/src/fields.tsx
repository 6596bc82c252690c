/**
 * Task inputs as form fields, shared by "Run notebook on Flyte" and the clone form: what each
 * field accepts, its value checked as it is typed, and the reason shown next to it.
 *
 * JupyterLab's dialog greys out its accept button while an input in it is `:invalid` or has
 * `.jp-mod-error`. Fields here are plain text inputs (a number input with a fraction is `:invalid`
 * for the browser, silently); a bad value gets `.jp-mod-error` *and* its reason under it, and the
 * form says why Run is off.
 */
import * as React from 'react';
import { InputGroup } from '@jupyterlab/ui-components';

export type FieldKind = 'int' | 'float' | 'bool' | 'str' | 'json';

export interface IFieldSpec {
  name: string;
  type: string | null;
  kind: FieldKind;
  required: boolean;
  /** The text the field starts with. */
  initial: string;
  /** False: shown, not editable (the run keeps the stored value). */
  editable: boolean;
  /** What the stored value is, for a field that cannot be edited. */
  note?: string | null;
}

export function kindOf(type: string | null | undefined): FieldKind {
  const t = (type || '').replace(/\s/g, '');
  if (t === 'int' || t === 'float' || t === 'bool' || t === 'str') {
    return t;
  }
  return 'json';
}

/** The kind of a stored JSON value, where the type name says nothing plain. */
export function kindOfValue(value: unknown): FieldKind {
  if (typeof value === 'boolean') {
    return 'bool';
  }
  if (typeof value === 'string') {
    return 'str';
  }
  if (typeof value === 'number') {
    return Number.isInteger(value) ? 'int' : 'float';
  }
  return 'json';
}

export interface IParsed {
  value?: unknown;
  error?: string;
  /** Leave the input out (an optional field left empty). */
  skip?: boolean;
}

/** The form's text as the JSON value the task expects, or the reason it is not one. */
export function parseField(spec: IFieldSpec, raw: string): IParsed {
  const text = raw.trim();
  if (text === '' && spec.kind !== 'str') {
    return spec.required
      ? { error: `${spec.name} is required` }
      : { skip: true };
  }
  switch (spec.kind) {
    case 'int':
      if (!/^[-+]?\d+$/.test(text)) {
        return {
          error: `${spec.name} must be a whole number, like 3 (got "${clip(raw)}")`
        };
      }
      return { value: parseInt(text, 10) };
    case 'float': {
      const v = Number(text);
      if (
        !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) ||
        !isFinite(v)
      ) {
        return {
          error: `${spec.name} must be a number, like 0.5 (got "${clip(raw)}")`
        };
      }
      return { value: v };
    }
    case 'bool':
      return { value: text === 'true' };
    case 'str':
      return { value: raw };
    default:
      try {
        return { value: JSON.parse(text) };
      } catch {
        return {
          error: `${spec.name} (${spec.type ?? 'any'}) must be JSON, like [1, 2] or {"a": 1}, with strings in double quotes (got "${clip(raw)}")`
        };
      }
  }
}

function clip(text: string): string {
  return text.length > 30 ? text.slice(0, 29) + '…' : text;
}

export interface IFieldsState {
  values: Map<string, string>;
}

/** Check every field; the values to send, and the reasons some cannot be sent. */
export function collect(
  fields: IFieldSpec[],
  values: Map<string, string>,
  onlyChanged = false
): { inputs: Record<string, unknown>; errors: Map<string, string> } {
  const inputs: Record<string, unknown> = {};
  const errors = new Map<string, string>();
  for (const field of fields) {
    if (!field.editable) {
      continue;
    }
    const raw = values.get(field.name) ?? field.initial;
    if (onlyChanged && raw === field.initial) {
      continue;
    }
    const parsed = parseField(field, raw);
    if (parsed.error) {
      errors.set(field.name, parsed.error);
    } else if (!parsed.skip) {
      inputs[field.name] = parsed.value;
    }
  }
  return { inputs, errors };
}

/** The fields of a form; `onChange` after every edit. */
export function Fields(props: {
  fields: IFieldSpec[];
  values: Map<string, string>;
  onChange: () => void;
  keyPrefix?: string;
  /** The button the form's errors hold back ("Run" in the dialogs). */
  action?: string;
}): JSX.Element {
  const { errors } = collect(props.fields, props.values);
  const ref = React.useRef<HTMLDivElement>(null);
  const signature = [...errors.keys()].join(',');
  React.useEffect(() => {
    // the dialog re-checks its inputs on `input` events: let it see the classes this render set
    ref.current?.dispatchEvent(new Event('input', { bubbles: true }));
  }, [signature]);
  return (
    <div className="jp-FlyteFields" ref={ref}>
      {props.fields.map(field => {
        const key = `${props.keyPrefix ?? ''}${field.name}`;
        const value = props.values.get(field.name) ?? field.initial;
        const error = errors.get(field.name);
        const set = (text: string) => {
          props.values.set(field.name, text);
          props.onChange();
        };
        return (
          <label
            key={key}
            className="jp-FlyteSubmit-field"
            data-input={field.name}
          >
            <span>
              {field.name}
              <span className="jp-FlyteMuted"> {field.type ?? 'any'}</span>
              {field.required ? (
                <span className="jp-FlyteRequired">*</span>
              ) : null}
            </span>
            {!field.editable ? (
              <span
                className="jp-FlyteMuted jp-FlyteSubmit-kept"
                title="This value has no JSON form; the new run keeps it as stored"
              >
                <code>{field.note ?? field.initial}</code> (kept as stored)
              </span>
            ) : field.kind === 'bool' ? (
              <input
                type="checkbox"
                name={field.name}
                checked={value === 'true'}
                onChange={e => set(e.currentTarget.checked ? 'true' : 'false')}
              />
            ) : (
              <InputGroup
                name={field.name}
                type="text"
                inputMode={
                  field.kind === 'int'
                    ? 'numeric'
                    : field.kind === 'float'
                      ? 'decimal'
                      : undefined
                }
                className={error ? 'jp-mod-error' : ''}
                aria-invalid={error ? true : undefined}
                value={value}
                placeholder={field.required ? 'required' : ''}
                onChange={e => set(e.currentTarget.value)}
              />
            )}
            {error ? (
              <span className="jp-FlyteFieldError" role="alert">
                {error}
              </span>
            ) : null}
          </label>
        );
      })}
      {errors.size ? (
        <div className="jp-FlyteSubmit-blocked" role="status">
          {props.action ?? 'Run'} is off until{' '}
          {errors.size === 1 ? 'this input is' : 'these inputs are'} fixed:{' '}
          {[...errors.keys()].join(', ')}.
        </div>
      ) : null}
    </div>
  );
}
