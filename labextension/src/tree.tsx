/**
 * The live action tree of one run. Children are nested under their parent; children that share a
 * group (`flyte.group(...)`, `flyte.map`) sit under one collapsible group row with an aggregate
 * phase, so a fan-out of hundreds stays one line until the user opens it.
 */
import * as React from 'react';
import { caretDownIcon, caretRightIcon } from '@jupyterlab/ui-components';

import { IAction, isSuccess, isTerminal, Phase } from './api';
import { durationOf, formatDuration, formatRate, shortTask } from './format';

/** Groups larger than this start collapsed. */
const OPEN_GROUP_LIMIT = 12;

interface IActionNode {
  kind: 'action';
  action: IAction;
  children: TreeNode[];
}

interface IGroupNode {
  kind: 'group';
  key: string;
  name: string;
  actions: IActionNode[];
}

type TreeNode = IActionNode | IGroupNode;

function startOf(node: TreeNode): number {
  if (node.kind === 'action') {
    return node.action.started_at ?? Infinity;
  }
  return Math.min(...node.actions.map(startOf));
}

function nameOf(node: TreeNode): string {
  return node.kind === 'action' ? node.action.name : node.name;
}

/** Arrange actions by parent, then by group; orphans (parent not yet seen) hang off the root. */
export function buildTree(actions: IAction[]): TreeNode[] {
  const nodes = new Map<string, IActionNode>();
  for (const a of actions) {
    nodes.set(a.name, { kind: 'action', action: a, children: [] });
  }
  const kids = new Map<string, IActionNode[]>();
  const roots: IActionNode[] = [];
  for (const node of nodes.values()) {
    const parent = node.action.parent
      ? nodes.get(node.action.parent)
      : undefined;
    if (parent) {
      const list = kids.get(parent.action.name) ?? [];
      list.push(node);
      kids.set(parent.action.name, list);
    } else {
      roots.push(node);
    }
  }
  const order = (list: TreeNode[]) =>
    list.sort(
      (x, y) => startOf(x) - startOf(y) || nameOf(x).localeCompare(nameOf(y))
    );
  for (const node of nodes.values()) {
    const children = kids.get(node.action.name) ?? [];
    const groups = new Map<string, IGroupNode>();
    const direct: TreeNode[] = [];
    for (const child of children) {
      const g = child.action.group;
      if (!g) {
        direct.push(child);
        continue;
      }
      let group = groups.get(g);
      if (!group) {
        group = {
          kind: 'group',
          key: `${node.action.name}/${g}`,
          name: g,
          actions: []
        };
        groups.set(g, group);
        direct.push(group);
      }
      group.actions.push(child);
    }
    groups.forEach(group => order(group.actions));
    node.children = order(direct);
  }
  return order(roots) as TreeNode[];
}

/** One phase for a group: failures first, then activity, then success (RECOVERED when all were). */
export function groupPhase(actions: IAction[]): Phase {
  const phases = new Set(actions.map(a => a.phase));
  if (phases.size === 1 && phases.has('RECOVERED')) {
    return 'RECOVERED';
  }
  for (const p of [
    'FAILED',
    'TIMED_OUT',
    'RUNNING',
    'INITIALIZING',
    'QUEUED',
    'ABORTED'
  ] as Phase[]) {
    if (phases.has(p)) {
      return p;
    }
  }
  return 'SUCCEEDED';
}

interface IRowProps {
  depth: number;
  selected: string | null;
  now: number;
  onSelect: (name: string) => void;
  labels: Record<string, string>;
  /** Why queued actions wait (`2 of 2 slots busy`), when the backend is full. */
  waitReason: string | null;
  /** Open another run (a recovered action's source), at one of its actions. */
  onOpenRun?: (run: string, action: string | null) => void;
}

/** `RUN/ACTION` -> [RUN, ACTION]: where a RECOVERED action's outputs came from. */
export function recoveredSource(
  origin: string | null | undefined
): [string, string | null] | null {
  if (!origin) {
    return null;
  }
  const cut = origin.indexOf('/');
  return cut < 0
    ? [origin, null]
    : [origin.slice(0, cut), origin.slice(cut + 1) || null];
}

/** `recovered from RUN`, RUN a link that opens it (at the action the outputs came from). */
export function RecoveredFrom(props: {
  origin: string | null | undefined;
  onOpenRun?: (run: string, action: string | null) => void;
  className: string;
}): JSX.Element | null {
  const source = recoveredSource(props.origin);
  if (!source) {
    return null;
  }
  const [run, action] = source;
  const title = `Outputs reused from ${action ? `action ${action} of ` : ''}run ${run}`;
  return (
    <span
      className={props.className}
      data-recovered-from={props.origin ?? ''}
      title={title}
    >
      recovered from{' '}
      {props.onOpenRun ? (
        <a
          href="#"
          className="jp-FlyteRecoveredLink"
          data-run={run}
          title={`${title}: open it`}
          onClick={e => {
            e.preventDefault();
            e.stopPropagation();
            props.onOpenRun!(run, action);
          }}
        >
          {run}
        </a>
      ) : (
        run
      )}
    </span>
  );
}

/** A plugin task's type (`sql`, `dask`, `raw-container`); python tasks, the usual kind, show none. */
export function TaskTypeTag(props: {
  type: string | undefined;
}): JSX.Element | null {
  if (!props.type || props.type === 'python') {
    return null;
  }
  return (
    <span
      className="jp-FlyteTag jp-FlyteTree-taskType"
      data-task-type={props.type}
      title={`A ${props.type} task`}
    >
      {props.type}
    </span>
  );
}

/**
 * The links a running attempt offers (a Dask action's `Dask dashboard`), opened in a new tab; none
 * once the action ended, since what they point at ended with it.
 */
export function ActionLinks(props: {
  action: IAction;
  className?: string;
}): JSX.Element | null {
  const links = Object.entries(props.action.links ?? {}).filter(([, url]) =>
    /^https?:\/\//.test(url)
  );
  if (!links.length || isTerminal(props.action.phase)) {
    return null;
  }
  return (
    <span className={props.className ?? 'jp-FlyteActionLinks'}>
      {links.map(([name, url]) => (
        <a
          key={name}
          href={url}
          target="_blank"
          rel="noopener noreferrer"
          className="jp-FlyteActionLink"
          title={`${name}: ${url}`}
          onClick={e => e.stopPropagation()}
        >
          {name}
        </a>
      ))}
    </span>
  );
}

/** `(lr=0.05, i=4)` from the label `trial(lr=0.05, i=4)`: what tells this row from its siblings. */
export function argsOf(task: string, label: string | undefined): string {
  if (!label) {
    return '';
  }
  const name = shortTask(task);
  return label.startsWith(name + '(') ? label.slice(name.length) : '';
}

export interface IGroupProgress {
  total: number;
  succeeded: number;
  failed: number;
  finished: number;
  /** Finished actions per second since the group's first start. */
  rate: number;
  /** Seconds until the rest is finished at that rate (null when not running or unknown). */
  eta: number | null;
}

export function groupProgress(actions: IAction[], now: number): IGroupProgress {
  const total = actions.length;
  const succeeded = actions.filter(a => isSuccess(a.phase)).length;
  const finished = actions.filter(a => isTerminal(a.phase)).length;
  const failed = finished - succeeded;
  const started = Math.min(...actions.map(a => a.started_at ?? Infinity));
  const allDone = finished === total;
  const end = allDone ? Math.max(...actions.map(a => a.ended_at ?? 0)) : now;
  const elapsed = Number.isFinite(started) ? Math.max(end - started, 0.001) : 0;
  const rate = elapsed && finished ? finished / elapsed : 0;
  const eta = !allDone && rate > 0 ? (total - finished) / rate : null;
  return { total, succeeded, failed, finished, rate, eta };
}

function ProgressBar(props: { p: IGroupProgress }): JSX.Element {
  const { p } = props;
  const pct = (n: number) => `${p.total ? (100 * n) / p.total : 0}%`;
  return (
    <span
      className="jp-FlyteProgress"
      role="progressbar"
      aria-valuemin={0}
      aria-valuemax={p.total}
      aria-valuenow={p.finished}
    >
      <span
        className="jp-FlyteProgress-ok"
        style={{ width: pct(p.succeeded) }}
      />
      <span
        className="jp-FlyteProgress-failed"
        style={{ width: pct(p.failed) }}
      />
    </span>
  );
}

function Caret(props: {
  open: boolean;
  show: boolean;
  onToggle: () => void;
}): JSX.Element {
  const Icon = props.open ? caretDownIcon : caretRightIcon;
  return (
    <span
      className="jp-FlyteTree-caret"
      onClick={e => {
        e.stopPropagation();
        props.onToggle();
      }}
    >
      {props.show ? <Icon.react tag="span" /> : null}
    </span>
  );
}

function GroupRow(props: IRowProps & { node: IGroupNode }): JSX.Element {
  const { node } = props;
  // folded while large, unless the user chose; a group that grows past the limit folds itself
  const [chosen, setOpen] = React.useState<boolean | null>(null);
  const open = chosen ?? node.actions.length <= OPEN_GROUP_LIMIT;
  const infos = node.actions.map(n => n.action);
  const phase = groupPhase(infos);
  const p = groupProgress(infos, props.now);
  const started = Math.min(...infos.map(a => a.started_at ?? Infinity));
  const ended = infos.every(a => a.ended_at)
    ? Math.max(...infos.map(a => a.ended_at ?? 0))
    : null;
  const rate = formatRate(p.rate);
  const eta = p.eta !== null ? formatDuration(p.eta) : '';
  return (
    <>
      <li
        className="jp-FlyteTree-row jp-FlyteTree-groupRow"
        data-group={node.name}
        data-group-phase={phase}
        data-done={p.succeeded}
        data-total={p.total}
        role="treeitem"
        aria-expanded={open}
        tabIndex={0}
        style={{ paddingLeft: `${props.depth * 14 + 4}px` }}
        onClick={() => setOpen(!open)}
        onKeyDown={e => {
          if (e.key === 'Enter') {
            setOpen(!open);
          }
        }}
        title={
          `group ${node.name}: ${p.succeeded} of ${p.total} succeeded` +
          (p.failed ? `, ${p.failed} failed` : '') +
          (rate ? `, ${rate}` : '') +
          (eta ? `, about ${eta} left` : '')
        }
      >
        <Caret open={open} show={true} onToggle={() => setOpen(!open)} />
        <span
          className={`jp-FlyteDot jp-FlyteDot-group jp-FlytePhase-${phase}`}
        />
        <span className="jp-FlyteTree-groupName">{node.name}</span>
        <ProgressBar p={p} />
        <span className="jp-FlyteTag jp-FlyteTree-count">
          {p.succeeded}/{p.total}
          {p.failed ? ` · ${p.failed} failed` : ''}
        </span>
        {rate ? (
          <span className="jp-FlyteMuted jp-FlyteTree-rate">{rate}</span>
        ) : null}
        {eta ? (
          <span
            className="jp-FlyteMuted jp-FlyteTree-eta"
            title="At the rate so far"
          >
            ETA {eta}
          </span>
        ) : null}
        <span className="jp-FlyteTree-duration jp-FlyteMuted">
          {Number.isFinite(started)
            ? formatDuration(durationOf(started, ended, props.now))
            : ''}
        </span>
      </li>
      {open &&
        node.actions.map(child => (
          <ActionRow
            key={child.action.name}
            {...props}
            node={child}
            depth={props.depth + 1}
          />
        ))}
    </>
  );
}

function ActionRow(props: IRowProps & { node: IActionNode }): JSX.Element {
  const [open, setOpen] = React.useState(true);
  const a = props.node.action;
  const hasChildren = props.node.children.length > 0;
  const selected = props.selected === a.name;
  const args = argsOf(a.task, props.labels[a.name]);
  const waiting = a.phase === 'QUEUED' && !!props.waitReason;
  return (
    <>
      <li
        className={'jp-FlyteTree-row' + (selected ? ' jp-mod-selected' : '')}
        data-action={a.name}
        data-phase={a.phase}
        role="treeitem"
        aria-selected={selected}
        aria-expanded={hasChildren ? open : undefined}
        tabIndex={0}
        style={{ paddingLeft: `${props.depth * 14 + 4}px` }}
        onClick={() => props.onSelect(a.name)}
        onKeyDown={e => {
          if (e.key === 'Enter') {
            props.onSelect(a.name);
          }
        }}
        title={
          `${props.labels[a.name] ?? shortTask(a.task)}: ${a.name} (${a.task})` +
          (waiting ? ` — waiting: ${props.waitReason}` : '')
        }
      >
        <Caret open={open} show={hasChildren} onToggle={() => setOpen(!open)} />
        <span className={`jp-FlyteDot jp-FlytePhase-${a.phase}`} />
        <span className="jp-FlyteTree-label">
          <span className="jp-FlyteTree-task">{shortTask(a.task)}</span>
          <span className="jp-FlyteTree-args">{args}</span>
        </span>
        <TaskTypeTag type={a.task_type} />
        <ActionLinks
          action={a}
          className="jp-FlyteActionLinks jp-FlyteTree-links"
        />
        {a.phase === 'RECOVERED' ? (
          <RecoveredFrom
            origin={a.recovered_from}
            onOpenRun={props.onOpenRun}
            className="jp-FlyteTree-recovered"
          />
        ) : null}
        {waiting ? (
          <span className="jp-FlyteTag jp-FlyteTree-waiting">waiting</span>
        ) : null}
        {a.cache_hit ? <span className="jp-FlyteTag">cached</span> : null}
        {a.attempts > 1 ? (
          <span className="jp-FlyteTag">attempt {a.attempts}</span>
        ) : null}
        <span className="jp-FlyteTree-duration jp-FlyteMuted">
          {formatDuration(durationOf(a.started_at, a.ended_at, props.now))}
        </span>
      </li>
      {open &&
        props.node.children.map(child => (
          <TreeNodeRow
            key={nodeKey(child)}
            {...props}
            node={child}
            depth={props.depth + 1}
          />
        ))}
    </>
  );
}

function TreeNodeRow(props: IRowProps & { node: TreeNode }): JSX.Element {
  return props.node.kind === 'action' ? (
    <ActionRow {...props} node={props.node} />
  ) : (
    <GroupRow {...props} node={props.node} />
  );
}

export function ActionTree(props: {
  actions: IAction[];
  selected: string | null;
  now: number;
  onSelect: (name: string) => void;
  labels?: Record<string, string>;
  waitReason?: string | null;
  onOpenRun?: (run: string, action: string | null) => void;
}): JSX.Element {
  const tree = React.useMemo(() => buildTree(props.actions), [props.actions]);
  return (
    <ul className="jp-FlyteTree" role="tree">
      {tree.map(node => (
        <TreeNodeRow
          key={nodeKey(node)}
          node={node}
          depth={0}
          selected={props.selected}
          now={props.now}
          onSelect={props.onSelect}
          labels={props.labels ?? {}}
          waitReason={props.waitReason ?? null}
          onOpenRun={props.onOpenRun}
        />
      ))}
    </ul>
  );
}

function nodeKey(node: TreeNode): string {
  return node.kind === 'action' ? node.action.name : node.key;
}
