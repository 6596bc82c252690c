/**
 * The "Flyte" sidebar: runs list and run detail, kept live by the server's websocket.
 *
 * The websocket pushes run changes for the list and action changes for watched runs; a full
 * refresh happens on (re)connect so a dropped socket never leaves the view stale.
 */
import * as React from 'react';
import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import {
  ReactWidget,
  refreshIcon,
  ToolbarButtonComponent
} from '@jupyterlab/ui-components';
import { Signal } from '@lumino/signaling';

import { FlyteClient, IRun, IRunDetail, IUpdate, isTerminal } from './api';
import { RunDetail } from './detail';
import { RunsList } from './runs';
import { flyteIcon } from './icon';

const RECONNECT_MS = 2000;

/** Shared state of the panel; the React view re-renders on `changed`. */
export class FlyteModel {
  readonly changed = new Signal<this, void>(this);
  runs = new Map<string, IRun>();
  detail: IRunDetail | null = null;
  selected: string | null = null;
  filter = '';
  error: string | null = null;
  connected = false;
  busy = false;
  private _socket: WebSocket | null = null;
  private _disposed = false;
  private _retry: number | null = null;
  private _frame: number | null = null;

  constructor(readonly client: FlyteClient) {}

  start(): void {
    this._connect();
    void this.refresh();
  }

  dispose(): void {
    this._disposed = true;
    if (this._retry !== null) {
      window.clearTimeout(this._retry);
    }
    if (this._frame !== null) {
      window.cancelAnimationFrame(this._frame);
    }
    this._socket?.close();
  }

  /** Reconnect at once with new settings (endpoint, project, domain). */
  restart(): void {
    this.runs.clear();
    this.detail = null;
    this.selected = null;
    this.error = null;
    const old = this._socket;
    if (old) {
      old.onclose = null;
      old.onmessage = null;
      old.close();
    }
    if (this._retry !== null) {
      window.clearTimeout(this._retry);
      this._retry = null;
    }
    this.connected = false;
    this.changed.emit();
    this._connect();
  }

  async refresh(): Promise<void> {
    const scope = JSON.stringify(this.client.settings);
    try {
      const runs = await this.client.listRuns(this.filter || undefined);
      if (scope !== JSON.stringify(this.client.settings)) {
        return; // the settings changed meanwhile: the reconnect refreshes
      }
      this.runs = new Map(runs.map(r => [r.name, r]));
      this.error = null;
      if (this.selected) {
        this.detail = await this.client.getRun(this.selected);
      }
    } catch (e) {
      this.error = (e as Error).message;
    }
    this.changed.emit();
  }

  /** Show one phase only; the server filters too, so older runs of that phase are found. */
  async setFilter(phase: string): Promise<void> {
    this.filter = phase;
    this.changed.emit();
    await this.refresh();
  }

  async select(name: string | null): Promise<void> {
    if (this.selected && this.selected !== name) {
      this._send({ unwatch: this.selected });
    }
    this.selected = name;
    this.detail = null;
    this.changed.emit();
    if (!name) {
      return;
    }
    this._send({ watch: name });
    try {
      this.detail = await this.client.getRun(name);
      this.error = null;
    } catch (e) {
      this.error = (e as Error).message;
    }
    this.changed.emit();
  }

  async abort(): Promise<void> {
    if (!this.detail) {
      return;
    }
    const name = this.detail.name;
    const result = await showDialog({
      title: 'Abort run',
      body: `Abort ${name} and every action it started?`,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Abort' })]
    });
    if (!result.button.accept) {
      return;
    }
    await this._act(() => this.client.abort(name));
  }

  async rerun(): Promise<void> {
    if (!this.detail) {
      return;
    }
    const name = this.detail.name;
    const run = await this._act(() => this.client.rerun(name));
    if (run) {
      this.runs.set(run.name, run);
      await this.select(run.name);
    }
  }

  /** Show a new run (e.g. just submitted) and open it. */
  async show(run: IRun): Promise<void> {
    this.runs.set(run.name, run);
    await this.select(run.name);
  }

  private async _act<T>(fn: () => Promise<T>): Promise<T | undefined> {
    this.busy = true;
    this.changed.emit();
    try {
      return await fn();
    } catch (e) {
      await showErrorMessage('Flyte', (e as Error).message);
      return undefined;
    } finally {
      this.busy = false;
      this.changed.emit();
    }
  }

  private _send(msg: Record<string, unknown>): void {
    if (this._socket && this._socket.readyState === WebSocket.OPEN) {
      this._socket.send(JSON.stringify(msg));
    }
  }

  private _connect(): void {
    if (this._disposed) {
      return;
    }
    const socket = this.client.connect(
      update => this._onUpdate(update),
      () => {
        this.connected = false;
        this.changed.emit();
        if (!this._disposed) {
          this._retry = window.setTimeout(() => {
            this._retry = null;
            this._connect();
          }, RECONNECT_MS);
        }
      }
    );
    socket.onopen = () => {
      this.connected = true;
      if (this.selected) {
        this._send({ watch: this.selected });
      }
      void this.refresh();
    };
    this._socket = socket;
  }

  /** Many updates in a burst (a large fan-out) cost one render per frame, not one each. */
  private _emitSoon(): void {
    if (this._frame !== null) {
      return;
    }
    this._frame = window.requestAnimationFrame(() => {
      this._frame = null;
      this.changed.emit();
    });
  }

  private _onUpdate(update: IUpdate): void {
    if (update.run) {
      this.runs.set(update.run.name, update.run);
    }
    if (this.detail && update.run && update.run.name === this.detail.name) {
      const detail: IRunDetail = {
        ...this.detail,
        ...update.run,
        actions: this.detail.actions
      };
      if (update.type === 'action' && update.action) {
        const actions = detail.actions.filter(
          a => a.name !== update.action!.name
        );
        const old = this.detail.actions.find(
          a => a.name === update.action!.name
        );
        // events carry no inputs/outputs summaries; keep the ones a full fetch brought
        actions.push({ ...old, ...update.action });
        detail.actions = actions;
      }
      this.detail = detail;
      if (isTerminal(detail.phase) && update.type === 'run') {
        // fetch once more so outputs and final errors are complete
        void this.client.getRun(detail.name).then(d => {
          if (this.detail && this.detail.name === d.name) {
            this.detail = d;
            this.changed.emit();
          }
        });
      }
    }
    this._emitSoon();
  }
}

function FlyteView(props: { model: FlyteModel }): JSX.Element {
  const { model } = props;
  const [, setTick] = React.useState(0);
  const [now, setNow] = React.useState(Date.now() / 1000);
  React.useEffect(() => {
    const onChange = () => setTick(t => t + 1);
    model.changed.connect(onChange);
    const timer = window.setInterval(() => setNow(Date.now() / 1000), 1000);
    return () => {
      model.changed.disconnect(onChange);
      window.clearInterval(timer);
    };
  }, [model]);
  return (
    <div className="jp-FlytePanel-body">
      <div className="jp-FlytePanel-header">
        <span className="jp-FlytePanel-title">Flyte runs</span>
        <span
          className={
            'jp-FlyteConn' + (model.connected ? ' jp-mod-connected' : '')
          }
          title={
            model.connected
              ? 'Live updates connected'
              : 'Live updates disconnected'
          }
        />
        <ToolbarButtonComponent
          icon={refreshIcon}
          onClick={() => void model.refresh()}
          tooltip="Refresh runs"
        />
      </div>
      {model.error ? (
        <div className="jp-FlyteError jp-FlytePanel-error">{model.error}</div>
      ) : null}
      {model.selected ? (
        model.detail ? (
          <RunDetail
            client={model.client}
            run={model.detail}
            now={now}
            busy={model.busy}
            onBack={() => void model.select(null)}
            onAbort={() => void model.abort()}
            onRerun={() => void model.rerun()}
          />
        ) : (
          <div className="jp-FlyteEmpty">Loading {model.selected}…</div>
        )
      ) : (
        <RunsList
          runs={[...model.runs.values()]}
          filter={model.filter}
          now={now}
          onFilter={phase => void model.setFilter(phase)}
          onSelect={name => void model.select(name)}
        />
      )}
    </div>
  );
}

/** The sidebar widget. */
export class FlytePanel extends ReactWidget {
  constructor(readonly model: FlyteModel) {
    super();
    this.id = 'flyte-jupyter-panel';
    this.addClass('jp-FlytePanel');
    this.title.icon = flyteIcon;
    this.title.caption = 'Flyte runs';
  }

  protected render(): JSX.Element {
    return <FlyteView model={this.model} />;
  }

  dispose(): void {
    this.model.dispose();
    super.dispose();
  }
}
