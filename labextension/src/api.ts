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
  | 'TIMED_OUT';

export const PHASES: Phase[] = [
  'QUEUED',
  'INITIALIZING',
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'ABORTED',
  'TIMED_OUT'
];

const TERMINAL = new Set<string>([
  'SUCCEEDED',
  'FAILED',
  'ABORTED',
  'TIMED_OUT'
]);

export function isTerminal(phase: string): boolean {
  return TERMINAL.has(phase);
}

export interface IActionError {
  kind: string;
  message: string;
  traceback?: string;
  retryable?: boolean;
  origin?: string;
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
  inputs?: Record<string, string> | null;
  outputs?: Record<string, string> | null;
  max_attempts?: number;
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
    readonly status: number
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
      throw new FlyteAPIError(message, response.status);
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

  async rerun(name: string): Promise<IRun> {
    return this.request<IRun>(
      apiUrl(this.serverSettings, 'runs', encodeURIComponent(name), 'rerun'),
      { method: 'POST', body: JSON.stringify(this.scope()) }
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
    signal: AbortSignal
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
      { ...this.scope(), follow: follow ? '1' : undefined }
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
