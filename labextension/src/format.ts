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
