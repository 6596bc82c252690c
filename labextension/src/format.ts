/** Small formatting helpers shared by the panel's views. */

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || seconds < 0) {
    return '';
  }
  if (seconds < 1) {
    return `${Math.round(seconds * 1000)}ms`;
  }
  if (seconds < 60) {
    return `${seconds.toFixed(1)}s`;
  }
  const m = Math.floor(seconds / 60);
  const s = Math.floor(seconds % 60);
  if (m < 60) {
    return `${m}m ${s}s`;
  }
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function durationOf(
  started: number | null,
  ended: number | null,
  now: number
): number | null {
  if (started === null || started === undefined) {
    return null;
  }
  return (ended ?? now) - started;
}

export function formatStart(started: number | null): string {
  if (!started) {
    return '';
  }
  const d = new Date(started * 1000);
  const today = new Date();
  if (d.toDateString() === today.toDateString()) {
    return d.toLocaleTimeString();
  }
  return d.toLocaleString();
}

/** The file name of a notebook or script path, for narrow columns. */
export function baseName(path: string | null | undefined): string {
  if (!path) {
    return '';
  }
  const parts = path.split('/');
  return parts[parts.length - 1];
}

/** `module.task` -> `task`: the module is the notebook or script, already shown for the run. */
export function shortTask(task: string): string {
  const parts = task.split('.');
  return parts[parts.length - 1];
}

/** `live.slow` stays `live.slow`; a `%%flyte run` cell's root task reads `cell`. */
export function taskText(task: string | null | undefined): string {
  if (!task) {
    return '';
  }
  return task === 'notebook.cell' ? 'cell' : task;
}

interface IOriginLike {
  source: string | null;
  task?: string | null;
  origin?: {
    kind: string;
    notebook: string | null;
    notebook_name: string | null;
    cell_number?: number | null;
    cell: string | null;
    script: string | null;
  } | null;
}

/**
 * Where a run came from, for people: `analysis.ipynb · cell 3` for a `%%flyte run` cell,
 * `analysis.ipynb · live.slow` for a task run from a notebook, `train.py · live.train` for a script.
 */
export function originText(run: IOriginLike): string {
  const o = run.origin;
  const task = taskText(run.task);
  if (!o) {
    return [baseName(run.source), task].filter(Boolean).join(' · ');
  }
  const where =
    o.notebook_name ||
    baseName(o.script) ||
    (run.source && run.source !== 'notebook' ? baseName(run.source) : '') ||
    (o.kind === 'cell' || o.kind === 'notebook' ? 'a notebook' : '');
  if (o.kind === 'cell') {
    const cell = o.cell_number ? `cell ${o.cell_number}` : 'cell';
    return [where, cell].filter(Boolean).join(' · ');
  }
  return [where, task].filter(Boolean).join(' · ');
}

export interface IRootCause {
  kind: string;
  message: string;
  /** The actions the failure went through on its way up, outermost first (from the message). */
  hops: { action: string; task: string }[];
}

const NESTED =
  /^(?:[\w.]+: )?action (\S+) \(task ([^)]*)\) (?:failed|timed out)(?: after \d+ attempts)?: ([\w.]+): /;

/**
 * A parent's error repeats its child's (`ZeroDivisionError: action a1 (task t) failed:
 * ZeroDivisionError: action a2 ...`): the root cause once, and the hops it went through.
 */
export function rootCause(error: {
  kind: string;
  message: string;
}): IRootCause {
  let kind = error.kind;
  let message = error.message || '';
  const hops: { action: string; task: string }[] = [];
  for (let i = 0; i < 100; i++) {
    const m = NESTED.exec(message);
    if (!m) {
      break;
    }
    hops.push({ action: m[1], task: m[2] });
    kind = m[3];
    message = message.slice(m[0].length);
  }
  return { kind, message, hops };
}

/** `12/s`, `3.2/s`, `40/min`: how fast a group finishes its actions. */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond) || perSecond <= 0) {
    return '';
  }
  if (perSecond >= 10) {
    return `${Math.round(perSecond)}/s`;
  }
  if (perSecond >= 1) {
    return `${perSecond.toFixed(1)}/s`;
  }
  return `${Math.max(1, Math.round(perSecond * 60))}/min`;
}

/** Cores as `backend status` writes them: `1.5`, `0.05` (no trailing zeros). */
export function formatCores(cores: number): string {
  return String(Number(cores.toFixed(3)));
}

/** Bytes as `backend status` writes them: `600Mi`, `16Gi`, `1.5Gi`. */
export function formatMemory(bytes: number): string {
  const gi = 1 << 30;
  return bytes >= gi
    ? `${Number((bytes / gi).toFixed(1))}Gi`
    : `${Math.round(bytes / (1 << 20))}Mi`;
}
