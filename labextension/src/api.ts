/**
 * Talking to the flyte_jupyter server extension: REST under /flyte/api/ and one websocket.
 *
 * Every request goes through ServerConnection so the token and XSRF header are added the same way
 * JupyterLab adds them for its own calls.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export type Phase =
  | 'QUEUED'
  | 'INITIALIZING'
  | 'RUNNING'
  | 'SUCCEEDED'
  | 'FAILED'
  | 'ABORTED'
  | 'TIMED_OUT'
  | 'RECOVERED';

export const PHASES: Phase[] = [
  'QUEUED',
  'INITIALIZING',
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'ABORTED',
  'TIMED_OUT',
  'RECOVERED'
];

const TERMINAL = new Set<string>([
  'SUCCEEDED',
  'FAILED',
  'ABORTED',
  'TIMED_OUT',
  'RECOVERED'
]);

export function isTerminal(phase: string): boolean {
  return TERMINAL.has(phase);
}

/**
 * SUCCEEDED, or RECOVERED: a re-run with `recover=True` reused the outputs of an action that had
 * succeeded before, so it counts as a success although it did not run again.
 */
export function isSuccess(phase: string): boolean {
  return phase === 'SUCCEEDED' || phase === 'RECOVERED';
}

export interface IActionError {
  kind: string;
  message: string;
  traceback?: string;
  retryable?: boolean;
  origin?: string;
}

/** Where a run came from, as the server read it from the run's labels. */
export interface IOrigin {
  kind: 'notebook' | 'cell' | 'script' | 'unknown';
  /** The notebook's path under the server's root (null: not a notebook this server can open). */
  notebook: string | null;
  notebook_name: string | null;
  /** The cell's id (or the kernel's digest of its text). */
  cell: string | null;
  /** Where that cell is in the saved notebook (1-based), when found. */
  cell_number?: number | null;
  script: string | null;
  series: string | null;
  rerun_of: string | null;
  /** Submitted by this panel: re-runs start from the notebook as saved now. */
  panel: boolean;
  /** The schedule that started this run, when a trigger did. */
  trigger?: ITriggerOrigin | null;
}

/** The trigger a run was fired by (its labels, read by the server). */
export interface ITriggerOrigin {
  name: string;
  task: string | null;
  /** The scheduled fire time, as the label spells it. */
  time: string | null;
}

export interface IRun {
  name: string;
  phase: Phase;
  source: string | null;
  task?: string | null;
  url?: string;
  can_rerun?: boolean;
  started_at: number | null;
  ended_at: number | null;
  error: IActionError | null;
  origin?: IOrigin | null;
  series?: string | null;
  project?: string;
  domain?: string;
  /** The root task's version (for a deployed task, its registered version). */
  task_version?: string | null;
  /** The registered version the run ran (run detail only); null: a run of local code. */
  deployed?: IDeployedRef | null;
  /** SUCCEEDED or RECOVERED. */
  succeeded?: boolean;
  rerun_of?: string | null;
}

/** A registered task version by name. */
export interface IDeployedRef {
  name: string;
  version: string;
  project: string;
  domain: string;
}

/** One input of a deployed task, as its registration recorded it. */
export interface IDeployedInput {
  name: string;
  /** A type expression: "int", "list[str]", "Optional[datetime.date]", "'mod:Point'". */
  type: string;
  has_default: boolean;
  /** The default as JSON text (null: none, or none with a JSON form). */
  default: string | null;
}

/** A registered task version: a row of `flyte-jupyter tasks list --json`. */
export interface IDeployedTask extends IDeployedRef {
  created_at: number;
  created_by: string;
  environment: string;
  type: string;
  digest: string;
  inputs: IDeployedInput[];
  output: string | null;
  resources: Record<string, string>;
  retries: number;
  image: string | null;
  docs: string;
}

/** One attempt of an action (the server puts the history together; see server_ext/_attempts.py). */
export interface IAttempt {
  attempt: number;
  phase: Phase | null;
  started_at: number | null;
  ended_at: number | null;
  error: IActionError | null;
  /** Seconds waited before the next attempt (seen, or the task's retry policy). */
  backoff: number | null;
  backoff_seen: boolean;
  /** The times were seen by the server (else estimated from the previous attempt). */
  times_seen: boolean;
}

/** What one ended attempt cost, as the backend measured it. */
export interface IAttemptUsage {
  attempt: number;
  cpu_seconds?: number | null;
  peak_memory_bytes?: number | null;
  [key: string]: unknown;
}

/** A part of a timeline bar: one attempt's wait, start-up or run (seconds from the run's start). */
export interface ITimelineSegment {
  kind: 'queued' | 'starting' | 'running' | 'recovered';
  attempt: number;
  /** How the attempt ended (its phase while it is going). */
  phase: Phase;
  start: number;
  end: number;
}

/** One row: an action, or a folded group of them (`count` > 1, `key` "group:NAME"). */
export interface ITimelineBar {
  key: string;
  label: string;
  task: string;
  group: string | null;
  depth: number;
  phase: Phase;
  start: number;
  end: number;
  segments: ITimelineSegment[];
  attempts: number;
  count: number;
  /** A folded row's members by phase. */
  phases: Record<string, number>;
  cpu_seconds: number | null;
  peak_memory_bytes: number | null;
  recovered_from: string | null;
  critical: boolean;
  /** Per measured attempt (keys are attempt numbers as text). */
  usage: Record<
    string,
    { cpu_seconds?: number | null; peak_memory_bytes?: number | null }
  >;
}

export interface ITimeline {
  run: string;
  /** Epoch seconds the bars count from. */
  origin: number;
  /** Seconds the layout covers: the window's width when zoomed. */
  span: number;
  /** Seconds the whole run covers. */
  full_span: number;
  bars: ITimelineBar[];
  total_actions: number;
  /** The groups shown folded (a folded bar's key is `group:` and one of these). */
  folded: string[];
  cpu_seconds: number | null;
  peak_memory_bytes: number | null;
  critical_path: string[];
  window: [number, number] | null;
  phase: Phase;
  /** The critical path in words. */
  text: string;
}

/** One input of a re-run's form: its stored value as JSON text. */
export interface IRerunField {
  name: string;
  type: string | null;
  required: boolean;
  value: string | null;
  text: string | null;
  editable: boolean;
}

export interface IRerunForm {
  run: string;
  task: string;
  how: 'notebook' | 'stored';
  inputs: IRerunField[];
  origin: IOrigin;
}

/** The backend the panel talks to, and how busy it is. */
export interface IStatus {
  endpoint: string | null;
  embedded: boolean;
  started_by_server: boolean;
  max_parallelism: number | null;
  running: number | null;
  queued: number | null;
  /** Admission by requested resources: cores and bytes, all and what running actions request. */
  cpu_capacity?: number | null;
  cpu_requested?: number | null;
  memory_capacity?: number | null;
  memory_requested?: number | null;
  /** Parents waiting on their children (their request given back). */
  waiting_parents?: number | null;
  data_dir?: string | null;
  version?: string | null;
}

export interface IAction {
  name: string;
  task: string;
  parent: string | null;
  run_name: string;
  phase: Phase;
  attempts: number;
  started_at: number | null;
  ended_at: number | null;
  error: IActionError | null;
  cache_hit: boolean;
  group: string | null;
  /** `python`, or a plugin's type: `sql`, `dask`, `raw-container`, ... */
  task_type?: string;
  /** A RECOVERED action: `RUN/ACTION` whose outputs it reused. */
  recovered_from?: string | null;
  /** What the running attempt links to, name -> URL (a Dask action: `Dask dashboard`); `{}` once it ended. */
  links?: Record<string, string>;
  usage?: IAttemptUsage[];
  inputs?: Record<string, string> | null;
  outputs?: Record<string, string> | null;
  max_attempts?: number;
  attempt_history?: IAttempt[];
  retry_policy?: {
    retries: number;
    backoff: number;
    factor: number;
    max_backoff: number;
  };
}

/** A deployed task's schedule: a row of `GET /flyte/api/triggers` (server_ext/_triggers.py). */
export interface ITrigger {
  name: string;
  task: string;
  version: string;
  /** The schedule in words: `cron 0 0 * * * (Europe/London)`, `every 10 minutes`. */
  schedule: string;
  cron: string | null;
  timezone: string | null;
  interval_minutes: number | null;
  description: string;
  active: boolean;
  paused: boolean;
  /** Epoch seconds; null while paused. */
  next_fire: number | null;
  last_fire: number | null;
  /** The name of the run the last fire started. */
  last_run: string | null;
  created_at: number;
  project: string;
  domain: string;
  trigger_time_input: string | null;
  run_label: string;
}

export interface IRunDetail extends IRun {
  actions: IAction[];
}

export interface ITaskInput {
  name: string;
  type: string | null;
  default: string | null;
  required: boolean;
}

export interface INotebookTask {
  name: string;
  environment: string;
  doc: string | null;
  inputs: ITaskInput[];
  cell: number;
  line: number;
  /** The environment's own name (`TaskEnvironment(name="live")`), when the notebook spells it. */
  env_name?: string | null;
  /** `live.slow`: the name runs and widgets use. */
  full_name?: string;
}

export interface IUpdate {
  type: 'run' | 'action';
  run: IRun;
  action?: IAction;
}

/** Settings the user chose in the settings editor; empty values mean "the server's default". */
export interface IFlyteSettings {
  endpoint: string;
  project: string;
  domain: string;
}

/** An error the server explained; `message` is meant for the user. */
export class FlyteAPIError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** The input a refused launch names, when the server named one. */
    readonly field: string | null = null
  ) {
    super(message);
  }
}

function apiUrl(
  settings: ServerConnection.ISettings,
  ...parts: string[]
): string {
  return URLExt.join(settings.baseUrl, 'flyte', 'api', ...parts);
}

function withQuery(
  url: string,
  query: Record<string, string | undefined>
): string {
  const q = Object.entries(query).filter(
    ([, v]) => v !== undefined && v !== ''
  );
  if (!q.length) {
    return url;
  }
  return (
    url +
    URLExt.objectToQueryString(Object.fromEntries(q) as Record<string, string>)
  );
}

/** A thin client for the server extension's REST API. */
export class FlyteClient {
  constructor(
    readonly serverSettings: ServerConnection.ISettings = ServerConnection.makeSettings(),
    public settings: IFlyteSettings = { endpoint: '', project: '', domain: '' }
  ) {}

  private scope(): Record<string, string> {
    const { endpoint, project, domain } = this.settings;
    return { endpoint, project, domain };
  }

  private async request<T>(url: string, init: RequestInit = {}): Promise<T> {
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(
        url,
        init,
        this.serverSettings
      );
    } catch (error) {
      throw new FlyteAPIError(
        `Cannot reach the Jupyter server: ${(error as Error).message}`,
        0
      );
    }
    const text = await response.text();
    let body: any = null;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = { message: text };
      }
    }
    if (!response.ok) {
      const message =
        (body && body.message) ||
        `${response.status} ${response.statusText}: the Flyte server extension did not answer; is flyte_jupyter installed in the server's environment?`;
      throw new FlyteAPIError(
        message,
        response.status,
        typeof body?.field === 'string' ? body.field : null
      );
    }
    return body as T;
  }

  async listRuns(phase?: string): Promise<IRun[]> {
    const body = await this.request<{ runs: IRun[] }>(
      withQuery(apiUrl(this.serverSettings, 'runs'), { ...this.scope(), phase })
    );
    return body.runs;
  }

  async getRun(name: string): Promise<IRunDetail> {
    return this.request<IRunDetail>(
      withQuery(
        apiUrl(this.serverSettings, 'runs', encodeURIComponent(name)),
        this.scope()
      )
    );
  }

  async submit(
    path: string,
    task: string,
    inputs: Record<string, unknown>
  ): Promise<IRun> {
    return this.request<IRun>(apiUrl(this.serverSettings, 'runs'), {
      method: 'POST',
      body: JSON.stringify({ path, task, inputs, ...this.scope() })
    });
  }

  async abort(name: string): Promise<IRun> {
    return this.request<IRun>(
      apiUrl(this.serverSettings, 'runs', encodeURIComponent(name), 'abort'),
      { method: 'POST', body: JSON.stringify(this.scope()) }
    );
  }

  /** A new run of the same task; `inputs` (name -> value) changes some of them (a clone). */
  async rerun(name: string, inputs?: Record<string, unknown>): Promise<IRun> {
    return this.request<IRun>(
      apiUrl(this.serverSettings, 'runs', encodeURIComponent(name), 'rerun'),
      {
        method: 'POST',
        body: JSON.stringify(
          inputs ? { ...this.scope(), inputs } : this.scope()
        )
      }
    );
  }

  /** What a re-run of `name` would run: its task and inputs, for the clone form. */
  async rerunForm(name: string): Promise<IRerunForm> {
    return this.request<IRerunForm>(
      withQuery(
        apiUrl(this.serverSettings, 'runs', encodeURIComponent(name), 'rerun'),
        this.scope()
      )
    );
  }

  /** Short labels of a run's actions: `trial(lr=0.05, i=4)`. */
  async labels(
    name: string,
    actions?: string[]
  ): Promise<Record<string, string>> {
    const body = await this.request<{ labels: Record<string, string> }>(
      withQuery(
        apiUrl(this.serverSettings, 'runs', encodeURIComponent(name), 'labels'),
        { ...this.scope(), actions: actions?.join(',') }
      )
    );
    return body.labels;
  }

  async status(): Promise<IStatus> {
    return this.request<IStatus>(
      withQuery(apiUrl(this.serverSettings, 'status'), this.scope())
    );
  }

  async getAction(run: string, action: string): Promise<IAction> {
    return this.request<IAction>(
      withQuery(
        apiUrl(
          this.serverSettings,
          'runs',
          encodeURIComponent(run),
          'actions',
          encodeURIComponent(action)
        ),
        this.scope()
      )
    );
  }

  /** Deployed task versions of the panel's project and domain, newest first within a name. */
  async listTasks(): Promise<IDeployedTask[]> {
    const body = await this.request<{ tasks: IDeployedTask[] }>(
      withQuery(apiUrl(this.serverSettings, 'tasks'), this.scope())
    );
    return body.tasks;
  }

  /** Start a run of a deployed version; inputs are checked by type on the server too. */
  async launchTask(
    name: string,
    version: string,
    inputs: Record<string, unknown>
  ): Promise<IRun> {
    return this.request<IRun>(
      apiUrl(this.serverSettings, 'tasks', encodeURIComponent(name), 'runs'),
      {
        method: 'POST',
        body: JSON.stringify({ ...this.scope(), version, inputs })
      }
    );
  }

  /** The triggers of the deployed tasks of the panel's project and domain. */
  async listTriggers(): Promise<ITrigger[]> {
    const body = await this.request<{ triggers: ITrigger[] }>(
      withQuery(apiUrl(this.serverSettings, 'triggers'), this.scope())
    );
    return body.triggers;
  }

  /** Pause (`active` false) or resume a trigger; `task` tells apart two tasks' triggers of one name. */
  async setTriggerActive(
    name: string,
    task: string,
    active: boolean
  ): Promise<ITrigger> {
    return this.request<ITrigger>(
      apiUrl(
        this.serverSettings,
        'triggers',
        encodeURIComponent(name),
        active ? 'resume' : 'pause'
      ),
      { method: 'POST', body: JSON.stringify({ ...this.scope(), task }) }
    );
  }

  /**
   * A run's timeline: bars per action (server_ext/_timeline.py). Past `maxRows` actions, big groups
   * fold into one row each; `expand` names groups (as `folded` lists them) to unfold.
   */
  async timeline(
    name: string,
    expand: string[] = [],
    maxRows?: number,
    window?: [number, number] | null
  ): Promise<ITimeline> {
    return this.request<ITimeline>(
      withQuery(
        apiUrl(
          this.serverSettings,
          'runs',
          encodeURIComponent(name),
          'timeline'
        ),
        {
          ...this.scope(),
          expand: expand.join(',') || undefined,
          max_rows: maxRows ? String(maxRows) : undefined,
          window: window ? `${window[0]},${window[1]}` : undefined
        }
      )
    );
  }

  async notebookTasks(path: string): Promise<INotebookTask[]> {
    const body = await this.request<{ tasks: INotebookTask[] }>(
      withQuery(apiUrl(this.serverSettings, 'notebook-tasks'), { path })
    );
    return body.tasks;
  }

  /**
   * Stream an action's logs; `onChunk` gets text as it arrives. With `follow`, the stream stays
   * open until the action ends or `signal` aborts it.
   */
  async streamLogs(
    run: string,
    action: string,
    follow: boolean,
    onChunk: (text: string) => void,
    signal: AbortSignal,
    attempt?: number
  ): Promise<void> {
    const url = withQuery(
      apiUrl(
        this.serverSettings,
        'runs',
        encodeURIComponent(run),
        'actions',
        encodeURIComponent(action),
        'logs'
      ),
      {
        ...this.scope(),
        follow: follow ? '1' : undefined,
        attempt: attempt ? String(attempt) : undefined
      }
    );
    const response = await ServerConnection.makeRequest(
      url,
      { signal },
      this.serverSettings
    );
    if (!response.ok) {
      let message = `${response.status} ${response.statusText}`;
      try {
        message = (await response.json()).message || message;
      } catch {
        // keep the status line
      }
      throw new FlyteAPIError(message, response.status);
    }
    if (!response.body) {
      onChunk(await response.text());
      return;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        break;
      }
      onChunk(decoder.decode(value, { stream: true }));
    }
  }

  /** Open the live-updates websocket; the caller subscribes to runs with `watch`. */
  connect(onUpdate: (update: IUpdate) => void, onClose: () => void): WebSocket {
    const base = this.serverSettings.wsUrl;
    let url = URLExt.join(base, 'flyte', 'api', 'ws');
    const token = this.serverSettings.token;
    const query: Record<string, string> = { ...this.scope() };
    if (token && this.serverSettings.appendToken) {
      query.token = token;
    }
    url = withQuery(url, query);
    const socket = new this.serverSettings.WebSocket(url);
    socket.onmessage = (event: MessageEvent) => {
      try {
        onUpdate(JSON.parse(event.data as string) as IUpdate);
      } catch {
        // a malformed message is dropped; the next full refresh repairs the view
      }
    };
    socket.onclose = () => onClose();
    return socket;
  }
}
