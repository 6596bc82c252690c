/**
 * Reconciling a run detail fetched over REST with the websocket's updates of the same run.
 *
 * The two travel separately: a GET answered before the run's last change can arrive after that
 * change's websocket update. Taking the fetch as it is would leave the view at the older state for
 * good (a finished run sends no more updates), so a fetched detail never replaces a state that is
 * further along, and updates that came while the first fetch was in flight are applied on top.
 */
import { IAction, IRun, IRunDetail, IUpdate, isTerminal } from './api';

/** How far along an action is: attempts first, then queued < initializing < running < ended. */
function progress(phase: string, attempts: number): number {
  const stage = isTerminal(phase)
    ? 3
    : phase === 'RUNNING'
      ? 2
      : phase === 'INITIALIZING'
        ? 1
        : 0;
  return attempts * 4 + stage;
}

function actionProgress(a: IAction): number {
  return progress(a.phase, a.attempts ?? 0);
}

/** The run's own fields: an ended run does not go back to a live phase. */
function laterRun<T extends IRun>(known: T, incoming: IRun): T {
  if (isTerminal(known.phase) && !isTerminal(incoming.phase)) {
    return known;
  }
  return { ...known, ...incoming };
}

/**
 * A fetched detail merged with what the view already knows: per action the state further along
 * (the fetched one when equal: it carries inputs and outputs), the run's phase never back from an
 * end. `known` null: the fetched detail as it is.
 */
export function mergeFetched(
  known: IRunDetail | null | undefined,
  fetched: IRunDetail
): IRunDetail {
  if (!known) {
    return fetched;
  }
  const byName = new Map(known.actions.map(a => [a.name, a]));
  const actions = fetched.actions.map(a => {
    const mine = byName.get(a.name);
    byName.delete(a.name);
    return mine && actionProgress(mine) > actionProgress(a)
      ? { ...a, ...mine }
      : a;
  });
  // the fetch is the newer picture of the run, unless the view already saw it end
  const run =
    isTerminal(known.phase) && !isTerminal(fetched.phase)
      ? { ...fetched, ...known }
      : fetched;
  return { ...run, actions: [...actions, ...byName.values()] };
}

/**
 * One websocket update applied to a detail. `ordered`: it comes from the stream in order (apply
 * as it is, a retry may go back to QUEUED); otherwise it was held while a fetch was in flight and
 * applies only where it is further along than what the fetch brought.
 */
export function applyUpdate(
  detail: IRunDetail,
  update: IUpdate,
  ordered: boolean
): IRunDetail {
  const run = ordered
    ? { ...detail, ...update.run }
    : laterRun({ ...detail }, update.run);
  const next: IRunDetail = { ...run, actions: detail.actions };
  if (update.type === 'action' && update.action) {
    const incoming = update.action;
    const old = detail.actions.find(a => a.name === incoming.name);
    if (!ordered && old && actionProgress(old) >= actionProgress(incoming)) {
      return next;
    }
    // events carry no inputs/outputs summaries; keep the ones a full fetch brought
    next.actions = [
      ...detail.actions.filter(a => a.name !== incoming.name),
      { ...old, ...incoming }
    ];
  }
  return next;
}
