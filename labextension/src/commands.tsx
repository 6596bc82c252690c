/**
 * The kernel commands that carry on from a failed run: `%flyte resume RUN` (run it again with the
 * notebook's fixed code, recovering what succeeded) and `%flyte debug RUN ACTION` (the failed
 * action's body in the kernel, under the debugger). Both run in a notebook's kernel, not in the
 * Jupyter server, so the panel shows them to copy into a cell rather than running them itself.
 */
import * as React from 'react';
import { Clipboard } from '@jupyterlab/apputils';
import { Button } from '@jupyterlab/ui-components';

/** One command with a Copy button that says when it copied. */
function CommandLine(props: {
  kind: string;
  command: string;
  help: string;
}): JSX.Element {
  const [copied, setCopied] = React.useState(false);
  React.useEffect(() => {
    if (!copied) {
      return;
    }
    const timer = window.setTimeout(() => setCopied(false), 2000);
    return () => window.clearTimeout(timer);
  }, [copied]);
  return (
    <div className="jp-FlyteCommand" data-kind={props.kind} title={props.help}>
      <code className="jp-FlyteCommand-text">{props.command}</code>
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
  );
}

/** What to run in a notebook next: resume the run and, when one action failed, debug that one. */
export function KernelCommands(props: {
  run: string;
  failedAction: string | null;
}): JSX.Element {
  return (
    <div className="jp-FlyteCommands" aria-label="Commands for a notebook cell">
      <div className="jp-FlyteMuted jp-FlyteCommands-title">
        In a notebook (the kernel runs these):
      </div>
      <CommandLine
        kind="resume"
        command={`%flyte resume ${props.run}`}
        help="A new run with the notebook's current code: what succeeded and did not change is recovered, the rest runs"
      />
      {props.failedAction ? (
        <CommandLine
          kind="debug"
          command={`%flyte debug ${props.run} ${props.failedAction}`}
          help="Run the failed action's task in the kernel with its recorded inputs; the debugger stops where it raises"
        />
      ) : null}
    </div>
  );
}
