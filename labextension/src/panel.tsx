/**
 * The "Flyte" sidebar: runs list and run detail, kept live by the server's websocket, and the
 * Tasks view of deployed tasks beside them (a tab); and the model that run views in the main
 * area share with it.
 *
 * The websocket pushes run changes for the list and action changes for watched runs; a full
 * refresh happens on (re)connect so a dropped socket never leaves the view stale. A run is
 * watched while any view shows it (the sidebar, or a run opened in the main area), once.
 */
import * as React from 'react';
import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import {
  ReactWidget,
  refreshIcon,
  ToolbarButtonComponent
} from '@jupyterlab/ui-components';
import { Signal } from '@lumino/signaling';

import {
  FlyteClient,
  IOrigin,
  IDeployedRef,
  IRun,
  IRunDetail,
  IStatus,
  IUpdate,
  isTerminal
} from './api';
import { formatCores, formatMemory } from './format';
import { applyUpdate, mergeFetched } from './merge';
import { cloneRun } from './clone';
import { RunDetail } from './detail';
import { RunsList } from './runs';
import { SchedulesView } from './schedules';
import { TasksView } from './tasks';
import { flyteIcon } from './icon';

const RECONNECT_MS = 2000;
const STATUS_BUSY_MS = 2000; // status polls while a run is live
const STATUS_IDLE_MS = 30000;
const STATUS_SOON_MS = 250; // a run-list event (a run or action started or ended) asks again
const LABELS_MS = 600; // labels of new actions are asked for at most this often per run

/** What the model asks of the application: open a notebook at a cell, a run in the main area. */
export interface IOpener {
  openCell(origin: IOrigin): Promise<void>;
  openMain(run: string, action?: string | null): void;
  /** Bring the sidebar panel into view (a link in a main-area run view leads to it). */
  showPanel(): void;
  /**
   * Run a line (`%flyte resume RUN`) in a new cell of the current notebook, in its kernel:
   * resolves to the notebook's name, rejects with what the user must do (no notebook, no kernel).
   */
  runInNotebook(code: string): Promise<string>;
}

/** The sidebar's tabs. */
export type PanelView = 'runs' | 'tasks' | 'schedules';

/** Shared state of the panel and the main-area run views; views re-render on `changed`. */
export class FlyteModel {
  readonly changed = new Signal<this, void>(this);
  runs = new Map<string, IRun>();
  /** The runs some view shows, kept live. */
  details = new Map<string, IRunDetail>();
  /** Short labels of actions, per run: `trial(lr=0.05, i=4)`. */
  labels = new Map<string, Record<string, string>>();
  /** An action a view should select when it shows the run (e.g. clicked in a cell's widget). */
  wantedAction = new Map<string, string>();
  selected: string | null = null;
  /** Which tab the sidebar shows. */
  view: PanelView = 'runs';
  /** A deployed version the Tasks view should open at (a run's "task @ version" link). */
  wantedTask: IDeployedRef | null = null;
  /** Bumped to make the Tasks (or Schedules) view read the deployed tasks (or triggers) again. */
  tasksEpoch = 0;
  filter = '';
  error: string | null = null;
  connected = false;
  busy = false;
  status: IStatus | null = null;
  opener: IOpener | null = null;
  private _refs = new Map<string, number>();
  private _socket: WebSocket | null = null;
  private _disposed = false;
  private _retry: number | null = null;
  private _frame: number | null = null;
  private _statusTimer: number | null = null;
  private _statusAt = 0;
  private _statusSoonTimer: number | null = null;
  private _labelTimers = new Map<string, number>();
  private _labelBusy = new Set<string>();
  /** Updates of watched runs whose first fetch is in flight, applied when it lands. */
  private _held = new Map<string, IUpdate[]>();

  constructor(readonly client: FlyteClient) {}

  /** The run the sidebar shows. */
  get detail(): IRunDetail | null {
    return this.selected ? (this.details.get(this.selected) ?? null) : null;
  }

  start(): void {
    this._connect();
    void this.refresh();
    this._statusTimer = window.setInterval(
      () => void this._pollStatus(),
      STATUS_BUSY_MS
    );
    void this._pollStatus(true);
  }

  dispose(): void {
    this._disposed = true;
    if (this._retry !== null) {
      window.clearTimeout(this._retry);
    }
    if (this._frame !== null) {
      window.cancelAnimationFrame(this._frame);
    }
    if (this._statusTimer !== null) {
      window.clearInterval(this._statusTimer);
    }
    if (this._statusSoonTimer !== null) {
      window.clearTimeout(this._statusSoonTimer);
    }
    this._labelTimers.forEach(t => window.clearTimeout(t));
    this._socket?.close();
  }

  /** Reconnect at once with new settings (endpoint, project, domain). */
  restart(): void {
    this.runs.clear();
    this.details.clear();
    this.labels.clear();
    this._refs.clear();
    this._held.clear();
    this.selected = null;
    this.error = null;
    this.status = null;
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
    void this._pollStatus(true);
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
      await Promise.all([...this._refs.keys()].map(name => this._fetch(name)));
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

  /** A view starts showing `name`: watch it (once for all views) and fetch it. */
  async open(name: string): Promise<void> {
    const refs = this._refs.get(name) ?? 0;
    this._refs.set(name, refs + 1);
    if (refs === 0) {
      this._send({ watch: name });
      await this._fetch(name);
      this.changed.emit();
    }
  }

  /** A view stops showing `name`. */
  close(name: string): void {
    const refs = (this._refs.get(name) ?? 0) - 1;
    if (refs > 0) {
      this._refs.set(name, refs);
      return;
    }
    this._refs.delete(name);
    this._held.delete(name);
    this._send({ unwatch: name });
    this.details.delete(name);
  }

  /**
   * Fetch a watched run's detail. Its websocket updates travel apart from this GET: those that
   * come before the run has a detail are held and applied after, and the answer never takes the
   * view back from a state the updates already showed (see `merge.ts`).
   */
  private async _fetch(name: string): Promise<void> {
    const first = !this.details.has(name);
    if (first) {
      this._held.set(name, this._held.get(name) ?? []);
    }
    try {
      const fetched = await this.client.getRun(name);
      if (this._refs.has(name)) {
        let detail = mergeFetched(this.details.get(name), fetched);
        for (const update of this._held.get(name) ?? []) {
          detail = applyUpdate(detail, update, false);
        }
        this._held.delete(name);
        this.details.set(name, detail);
        this.runs.set(name, { ...detail, actions: undefined } as IRun);
        this._wantLabels(name, true);
        if (isTerminal(detail.phase) && !isTerminal(fetched.phase)) {
          void this._fetch(name); // it ended meanwhile: once more for its outputs and final errors
        }
      }
      this.error = null;
    } catch (e) {
      this.error = (e as Error).message;
    } finally {
      if (first && !this.details.has(name)) {
        this._held.delete(name);
      }
    }
  }

  /** The sidebar shows `name` (and, if given, selects `action` in it). */
  async select(name: string | null, action?: string | null): Promise<void> {
    if (action && name) {
      this.wantedAction.set(name, action);
    }
    if (name) {
      this.view = 'runs';
    }
    if (this.selected === name) {
      this.changed.emit();
      return;
    }
    const old = this.selected;
    this.selected = name;
    this.changed.emit();
    if (old) {
      this.close(old);
    }
    if (name) {
      await this.open(name);
    }
    this.changed.emit();
  }

  async abort(name: string): Promise<void> {
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

  /** A new run of the same task and inputs; shown where `where` asks (the sidebar by default). */
  async rerun(name: string): Promise<IRun | undefined> {
    const run = await this._act(() => this.client.rerun(name));
    if (run) {
      this.runs.set(run.name, run);
    }
    return run;
  }

  /** The clone form (the run's inputs, to edit), then the new run. */
  async clone(name: string): Promise<IRun | undefined> {
    const run = await cloneRun(this.client, name);
    if (run) {
      this.runs.set(run.name, run);
      this.changed.emit();
    }
    return run ?? undefined;
  }

  /** Show a new run (e.g. just submitted or launched) in the sidebar. */
  async show(run: IRun): Promise<void> {
    this.runs.set(run.name, run);
    this.view = 'runs';
    await this.select(run.name);
  }

  /** Switch the sidebar's tab; the Tasks view opens at `task` when given. */
  setView(view: PanelView, task?: IDeployedRef | null): void {
    this.view = view;
    if (view === 'schedules') {
      this.tasksEpoch += 1;
    }
    if (view === 'tasks') {
      this.wantedTask = task ?? null;
      this.tasksEpoch += 1;
      if (task) {
        this.opener?.showPanel();
      }
    }
    this.changed.emit();
  }

  async openOrigin(run: IRun): Promise<void> {
    if (!run.origin || !this.opener) {
      return;
    }
    try {
      await this.opener.openCell(run.origin);
    } catch (e) {
      await showErrorMessage('Flyte', (e as Error).message);
    }
  }

  /**
   * Why queued actions wait, when the backend is full: `2 of 2 slots busy` under a
   * max_parallelism bound, else what the running actions request of the capacity (`cpu 2 of 2
   * requested, memory 400Mi of 16Gi`): a queued action starts when its request fits. The backend
   * counts running parents too, though a parent waiting on its children gives its slot (and its
   * request) up: the busy slots are at most all of them.
   */
  waitReason(): string | null {
    const s = this.status;
    const waiting = s?.queued ?? 0;
    if (!s || s.running === null || !waiting) {
      return null;
    }
    const actions = `${waiting} action${waiting === 1 ? '' : 's'} waiting`;
    if (s.max_parallelism && s.running >= s.max_parallelism) {
      return `${s.max_parallelism} of ${s.max_parallelism} slots busy, ${actions}`;
    }
    const requested = this._requestedText();
    return requested ? `${requested}; ${actions}` : null;
  }

  /** What admits a queued action, beside `waitReason()`: the slots bound, or the capacity. */
  waitRule(): string {
    const s = this.status;
    return s?.max_parallelism && (s.running ?? 0) >= s.max_parallelism
      ? `the backend runs ${s.max_parallelism} actions at a time`
      : 'an action starts when its CPU and memory requests fit';
  }

  /**
   * How busy the backend is, as `backend status` says it: `cpu 1.5 of 2 requested, memory 600Mi
   * of 16Gi; 3 queued, 1 waiting parent`, and `1/2 slots busy` first under a max_parallelism bound.
   */
  loadText(): string | null {
    const s = this.status;
    if (!s) {
      return null;
    }
    const parts: string[] = [];
    if (s.max_parallelism) {
      parts.push(
        `${Math.min(s.running ?? 0, s.max_parallelism)}/${s.max_parallelism} slots busy`
      );
    }
    const requested = this._requestedText();
    if (requested) {
      parts.push(requested);
    }
    if (!parts.length) {
      return null;
    }
    const counts: string[] = [];
    if (s.queued) {
      counts.push(`${s.queued} queued`);
    }
    if (s.waiting_parents) {
      counts.push(
        `${s.waiting_parents} waiting parent${s.waiting_parents === 1 ? '' : 's'}`
      );
    }
    return parts.join(', ') + (counts.length ? `; ${counts.join(', ')}` : '');
  }

  /** `cpu 1.5 of 2 requested, memory 600Mi of 16Gi`, when the backend admits by requests. */
  private _requestedText(): string | null {
    const s = this.status;
    if (!s || !s.cpu_capacity || !s.memory_capacity) {
      return null;
    }
    return (
      `cpu ${formatCores(s.cpu_requested ?? 0)} of ${formatCores(s.cpu_capacity)} requested, ` +
      `memory ${formatMemory(s.memory_requested ?? 0)} of ${formatMemory(s.memory_capacity)}`
    );
  }

  /** Ask for the status soon after runs or actions start or end (at most every STATUS_SOON_MS). */
  private _statusSoon(): void {
    if (this._statusSoonTimer !== null || this._disposed) {
      return;
    }
    this._statusSoonTimer = window.setTimeout(() => {
      this._statusSoonTimer = null;
      void this._pollStatus(true);
    }, STATUS_SOON_MS);
  }

  private _active(): boolean {
    for (const run of this.runs.values()) {
      if (!isTerminal(run.phase)) {
        return true;
      }
    }
    return false;
  }

  private async _pollStatus(force = false): Promise<void> {
    const now = Date.now();
    if (!force && !this._active() && now - this._statusAt < STATUS_IDLE_MS) {
      return;
    }
    this._statusAt = now;
    try {
      const status = await this.client.status();
      const changed = JSON.stringify(status) !== JSON.stringify(this.status);
      this.status = status;
      if (changed) {
        this.changed.emit();
      }
    } catch {
      // the list shows the backend's errors; the status line just goes away
      if (this.status) {
        this.status = null;
        this.changed.emit();
      }
    }
  }

  /** Ask for the labels of actions that have none yet (soon; at most every LABELS_MS). */
  private _wantLabels(name: string, now = false): void {
    if (this._labelTimers.has(name)) {
      return;
    }
    const timer = window.setTimeout(
      () => {
        this._labelTimers.delete(name);
        void this._fetchLabels(name);
      },
      now ? 0 : LABELS_MS
    );
    this._labelTimers.set(name, timer);
  }

  private async _fetchLabels(name: string): Promise<void> {
    const detail = this.details.get(name);
    if (!detail || this._labelBusy.has(name)) {
      return;
    }
    const known = this.labels.get(name) ?? {};
    if (detail.actions.every(a => a.name in known)) {
      return;
    }
    this._labelBusy.add(name);
    try {
      const labels = await this.client.labels(name);
      this.labels.set(name, { ...known, ...labels });
      this._emitSoon();
    } catch {
      // labels are a nicety: rows keep their task names
    } finally {
      this._labelBusy.delete(name);
    }
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
      for (const name of this._refs.keys()) {
        this._send({ watch: name });
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
      const old = this.runs.get(update.run.name);
      if (update.type === 'run' && old?.phase !== update.run.phase) {
        this._statusSoon(); // a run started or ended: what the backend holds changed
      }
      // action updates carry the run as the watch began: keep what the list knows of its origin
      this.runs.set(update.run.name, { ...old, ...update.run });
    }
    const current = update.run ? this.details.get(update.run.name) : undefined;
    if (update.run && !current) {
      this._held.get(update.run.name)?.push(update); // its first fetch is in flight
    }
    if (current && update.run) {
      if (update.type === 'action' && update.action) {
        const name = update.action.name;
        const old = current.actions.find(a => a.name === name);
        if (old?.phase !== update.action.phase) {
          this._statusSoon(); // an action was admitted or ended
        }
        if (!old) {
          this._wantLabels(update.run.name);
        }
      }
      const detail = applyUpdate(current, update, true);
      this.details.set(detail.name, detail);
      if (isTerminal(detail.phase) && update.type === 'run') {
        // fetch once more so outputs and final errors are complete
        void this.client.getRun(detail.name).then(d => {
          if (this.details.has(d.name)) {
            this.details.set(d.name, mergeFetched(this.details.get(d.name), d));
            this._wantLabels(d.name, true);
            this.changed.emit();
          }
        });
      }
    }
    this._emitSoon();
  }
}

/** Re-renders on the model's changes, and once a second (live durations). */
export function useModel(model: FlyteModel): number {
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
  return now;
}

function BackendLine(props: { model: FlyteModel }): JSX.Element | null {
  const s = props.model.status;
  const load = props.model.loadText();
  if (!s || !load) {
    return null;
  }
  const where = s.embedded ? 'embedded backend' : `backend ${s.endpoint ?? ''}`;
  const reason = props.model.waitReason();
  const admits = s.max_parallelism
    ? `it runs at most ${s.max_parallelism} actions at a time, each when its CPU and memory requests fit.`
    : 'it starts an action when its CPU and memory requests fit what the running actions leave free.';
  return (
    <div
      className={
        'jp-FlyteBackend jp-FlyteMuted' + (reason ? ' jp-mod-full' : '')
      }
      title={
        `Runs go to the ${where} at ${s.endpoint ?? '?'}; ${admits}` +
        (s.embedded
          ? s.started_by_server
            ? ' JupyterLab started it and stops it when it exits.'
            : ' It was running before JupyterLab; stop it with `flyte-jupyter backend stop`.'
          : '')
      }
    >
      <span className="jp-FlyteBackend-where">{where}</span>
      <span
        className="jp-FlyteBackend-load"
        data-running={s.running ?? ''}
        title={reason ?? load}
      >
        {load}
      </span>
    </div>
  );
}

function FlyteView(props: { model: FlyteModel }): JSX.Element {
  const { model } = props;
  const now = useModel(model);
  const detail = model.detail;
  const tab = (view: PanelView, label: string, tooltip: string) => (
    <button
      className={
        'jp-FlyteTab' + (model.view === view ? ' jp-mod-selected' : '')
      }
      data-view={view}
      role="tab"
      aria-selected={model.view === view}
      title={tooltip}
      onClick={() => model.setView(view)}
    >
      {label}
    </button>
  );
  return (
    <div className="jp-FlytePanel-body">
      <div className="jp-FlytePanel-header">
        <span className="jp-FlytePanel-title">Flyte</span>
        <span className="jp-FlyteTabs" role="tablist">
          {tab('runs', 'Runs', 'Runs of this project and domain')}
          {tab('tasks', 'Tasks', 'Deployed tasks: versions, interface, launch')}
          {tab(
            'schedules',
            'Schedules',
            'Triggers of deployed tasks: next and last fire, pause and resume'
          )}
        </span>
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
          onClick={() =>
            model.view === 'runs'
              ? void model.refresh()
              : model.setView(model.view)
          }
          tooltip={
            model.view === 'tasks'
              ? 'Refresh deployed tasks'
              : model.view === 'schedules'
                ? 'Refresh schedules'
                : 'Refresh runs'
          }
        />
      </div>
      <BackendLine model={model} />
      {model.error ? (
        <div className="jp-FlyteError jp-FlytePanel-error">{model.error}</div>
      ) : null}
      {model.view === 'tasks' ? (
        <TasksView key={model.tasksEpoch} host={model} />
      ) : model.view === 'schedules' ? (
        <SchedulesView key={model.tasksEpoch} host={model} now={now} />
      ) : model.selected ? (
        detail ? (
          <RunDetail
            key={detail.name}
            model={model}
            run={detail}
            now={now}
            layout="side"
            onBack={() => void model.select(null)}
            onShow={name => void model.select(name)}
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
          onOpenOrigin={run => void model.openOrigin(run)}
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
