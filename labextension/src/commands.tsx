/**
 * The kernel commands that carry on from a failed run: `%flyte resume RUN` (run it again with the
 * notebook's fixed code, recovering what succeeded) and `%flyte debug RUN ACTION` (the failed
 * action's body in the kernel, under the debugger). Both must run in a notebook's kernel, not in
 * the Jupyter server: the Resume and Debug buttons hand the command to the application
 * (`IKernelRunner`), which puts it in a new cell below the active one of the current notebook and
 * runs it there, so the user sees its output and keeps the cell. Copy stays as a second way.
 */
import * as React from 'react';
import { Clipboard } from '@jupyterlab/apputils';
import { Button } from '@jupyterlab/ui-components';

/** Runs a line in a notebook's kernel; resolves to the notebook's name, or rejects saying why not. */
export type IKernelRunner = (code: string) => Promise<string>;

/** One command: a button that runs it in the notebook, the command itself, and Copy. */
function CommandLine(props: {
  kind: string;
  label: string;
  command: string;
  help: string;
  runner: IKernelRunner | null;
}): JSX.Element {
  const [copied, setCopied] = React.useState(false);
  const [busy, setBusy] = React.useState(false);
  const [note, setNote] = React.useState<{
    error: boolean;
    text: string;
  } | null>(null);
  React.useEffect(() => {
    if (!copied) {
      return;
    }
    const timer = window.setTimeout(() => setCopied(false), 2000);
    return () => window.clearTimeout(timer);
  }, [copied]);
  const run = async () => {
    if (!props.runner) {
      return;
    }
    setBusy(true);
    setNote(null);
    try {
      const where = await props.runner(props.command);
      setNote({ error: false, text: `running in ${where}, in a new cell` });
    } catch (e) {
      setNote({ error: true, text: (e as Error).message });
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="jp-FlyteCommand" data-kind={props.kind}>
      <div className="jp-FlyteCommand-line">
        {props.runner ? (
          <Button
            small
            className="jp-FlyteCommand-run"
            disabled={busy}
            title={`${props.help}. Runs "${props.command}" in a new cell of the current notebook`}
            onClick={() => void run()}
          >
            {props.label}
          </Button>
        ) : null}
        <code className="jp-FlyteCommand-text" title={props.help}>
          {props.command}
        </code>
        <Button
          minimal
          small
          className="jp-FlyteCommand-copy"
          title={`Copy "${props.command}" to paste into a notebook cell`}
          onClick={() => {
            Clipboard.copyToSystem(props.command);
            setCopied(true);
          }}
        >
          {copied ? 'copied' : 'copy'}
        </Button>
      </div>
      {note ? (
        <div
          className={
            'jp-FlyteCommand-note' +
            (note.error ? ' jp-FlyteError' : ' jp-FlyteMuted')
          }
          role={note.error ? 'alert' : 'status'}
        >
          {note.text}
        </div>
      ) : null}
    </div>
  );
}

/** What to run in a notebook next: resume the run and, when one action failed, debug that one. */
export function KernelCommands(props: {
  run: string;
  failedAction: string | null;
  runner: IKernelRunner | null;
}): JSX.Element {
  return (
    <div
      className="jp-FlyteCommands"
      aria-label="Commands for a notebook's kernel"
    >
      <div className="jp-FlyteMuted jp-FlyteCommands-title">
        In the current notebook (its kernel runs these):
      </div>
      <CommandLine
        kind="resume"
        label="Resume"
        command={`%flyte resume ${props.run}`}
        help="A new run with the notebook's current code: what succeeded and did not change is recovered, the rest runs"
        runner={props.runner}
      />
      {props.failedAction ? (
        <CommandLine
          kind="debug"
          label="Debug"
          command={`%flyte debug ${props.run} ${props.failedAction}`}
          help="Run the failed action's task in the kernel with its recorded inputs; %debug then stops where it raised"
          runner={props.runner}
        />
      ) : null}
    </div>
  );
}
