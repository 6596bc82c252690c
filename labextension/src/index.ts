/**
 * flyte-jupyter's JupyterLab plugin: the "Flyte" sidebar, runs opened in the main area, the "Run
 * notebook on Flyte" command (palette and notebook toolbar), the jump from a run to the notebook
 * cell it came from, and the endpoint/project/domain settings.
 *
 * Other parts open a run with the commands below; a cell's output (the run widget) can also mark an
 * element `data-flyte-run="RUN"` (and `data-flyte-action="ACTION"`): clicking it opens that run,
 * at that action, in the panel. A `flyte-jupyter:open` CustomEvent on `window` with
 * `{run, action, where: "panel" | "main"}` does the same.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, WidgetTracker } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { FlyteClient, IFlyteSettings, IOrigin } from './api';
import { flyteIcon } from './icon';
import { runInNotebook } from './kernelrun';
import { RunView } from './mainarea';
import { FlyteModel, FlytePanel } from './panel';
import { runNotebookOnFlyte } from './submit';

const PLUGIN_ID = '@flyte-jupyter/labextension:plugin';

namespace CommandIDs {
  export const runNotebook = 'flyte-jupyter:run-notebook';
  export const openPanel = 'flyte-jupyter:open-panel';
  export const openRun = 'flyte-jupyter:open-run';
  export const openOrigin = 'flyte-jupyter:open-origin';
}

/** Open `origin.notebook` and bring its cell into view (by id, else by the server's position). */
async function openCell(app: JupyterFrontEnd, origin: IOrigin): Promise<void> {
  if (!origin.notebook) {
    throw new Error(
      `${origin.notebook_name ?? 'The notebook'} is not under this Jupyter server's root, so it cannot be opened here.`
    );
  }
  const widget = (await app.commands.execute('docmanager:open', {
    path: origin.notebook
  })) as NotebookPanel | undefined;
  if (!widget || !(widget instanceof NotebookPanel)) {
    return;
  }
  await widget.context.ready;
  await widget.revealed;
  const notebook = widget.content;
  const cells = notebook.model?.cells;
  let index = -1;
  if (cells && origin.cell) {
    for (let i = 0; i < cells.length; i++) {
      if (cells.get(i).id === origin.cell) {
        index = i;
        break;
      }
    }
  }
  if (
    index < 0 &&
    origin.cell_number &&
    cells &&
    origin.cell_number <= cells.length
  ) {
    index = origin.cell_number - 1;
  }
  if (index < 0) {
    return;
  }
  notebook.activeCellIndex = index;
  notebook.mode = 'command';
  await notebook.scrollToItem(index, 'center');
  const cell = notebook.widgets[index];
  if (cell) {
    cell.addClass('jp-FlyteCell-origin');
    window.setTimeout(() => cell.removeClass('jp-FlyteCell-origin'), 2500);
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Flyte runs side panel, run views and notebook submission.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ILayoutRestorer, ICommandPalette, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    notebooks: INotebookTracker,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null
  ) => {
    const client = new FlyteClient(app.serviceManager.serverSettings);
    const model = new FlyteModel(client);
    const panel = new FlytePanel(model);
    app.shell.add(panel, 'left', { rank: 800 });
    const views = new WidgetTracker<RunView>({ namespace: 'flyte-run' });
    if (restorer) {
      restorer.add(panel, panel.id);
      void restorer.restore(views, {
        command: CommandIDs.openRun,
        args: view => ({ run: view.run }),
        name: view => view.run
      });
    }

    /** A run in the main area: the tab already showing it, else a new one beside the notebook. */
    const openMain = (
      run: string,
      action?: string | null,
      mode?: string
    ): RunView => {
      if (action) {
        model.wantedAction.set(run, action);
      }
      const existing = views.find(v => v.run === run);
      if (existing) {
        app.shell.activateById(existing.id);
        model.changed.emit();
        return existing;
      }
      const view = new RunView(model, run);
      view.content.runChanged = name => {
        view.title.label = name;
        view.title.caption = `Flyte run ${name}`;
        void views.save(view);
      };
      const ref = notebooks.currentWidget?.isAttached
        ? notebooks.currentWidget.id
        : undefined;
      app.shell.add(view, 'main', {
        mode: (mode as any) ?? (ref ? 'split-right' : 'tab-after'),
        ref
      });
      void views.add(view);
      app.shell.activateById(view.id);
      return view;
    };

    model.opener = {
      openCell: origin => openCell(app, origin),
      openMain: (run, action) => void openMain(run, action),
      showPanel: () => app.shell.activateById(panel.id),
      runInNotebook: code => runInNotebook(app, notebooks, code)
    };

    if (!settingRegistry) {
      model.start();
    } else {
      const apply = (settings: ISettingRegistry.ISettings) => {
        const next = settings.composite as unknown as IFlyteSettings;
        const prev = client.settings;
        client.settings = {
          endpoint: next.endpoint ?? '',
          project: next.project ?? '',
          domain: next.domain ?? ''
        };
        if (
          started &&
          (prev.endpoint !== client.settings.endpoint ||
            prev.project !== client.settings.project ||
            prev.domain !== client.settings.domain)
        ) {
          model.restart();
        }
      };
      // the first connection waits for the settings, so it already uses the chosen scope
      let started = false;
      settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          apply(settings);
          settings.changed.connect(apply);
        })
        .catch(reason =>
          console.error('flyte-jupyter: cannot load settings', reason)
        )
        .then(() => {
          started = true;
          model.start();
        });
    }

    const showInPanel = async (run: string, action?: string | null) => {
      app.shell.activateById(panel.id);
      await model.select(run, action);
    };

    app.commands.addCommand(CommandIDs.runNotebook, {
      label: 'Run notebook on Flyte',
      caption: 'Pick a task this notebook defines and run it on Flyte',
      icon: flyteIcon,
      isEnabled: () => notebooks.currentWidget !== null,
      execute: async () => {
        const current = notebooks.currentWidget;
        if (!current) {
          return;
        }
        await current.context.ready;
        if (current.context.model.dirty) {
          await current.context.save();
        }
        const run = await runNotebookOnFlyte(client, current.context.path);
        if (run) {
          app.shell.activateById(panel.id);
          await model.show(run);
        }
      }
    });
    app.commands.addCommand(CommandIDs.openPanel, {
      label: args =>
        args.run ? `Show Flyte run ${args.run}` : 'Show Flyte runs',
      describedBy: {
        args: {
          type: 'object',
          properties: {
            run: { type: 'string', description: 'a run to open in the panel' },
            action: {
              type: 'string',
              description: 'an action of that run to select'
            }
          }
        }
      },
      execute: async args => {
        app.shell.activateById(panel.id);
        if (typeof args.run === 'string' && args.run) {
          await showInPanel(
            args.run,
            typeof args.action === 'string' ? args.action : null
          );
        }
      }
    });
    app.commands.addCommand(CommandIDs.openRun, {
      label: args =>
        args.run
          ? `Open Flyte run ${args.run}`
          : 'Open the Flyte run shown in the panel',
      caption: 'A run full width in the main area: its tree beside the logs',
      icon: flyteIcon,
      describedBy: {
        args: {
          type: 'object',
          properties: {
            run: { type: 'string', description: 'the run to open' },
            action: { type: 'string', description: 'an action to select' },
            mode: {
              type: 'string',
              description:
                'where: split-right (beside the notebook, the default), tab-after, split-bottom, ...'
            }
          }
        }
      },
      isEnabled: args => typeof args.run === 'string' || !!model.selected,
      execute: args => {
        const run =
          typeof args.run === 'string' && args.run ? args.run : model.selected;
        if (!run) {
          return;
        }
        return openMain(
          run,
          typeof args.action === 'string' ? args.action : null,
          typeof args.mode === 'string' ? args.mode : undefined
        );
      }
    });
    app.commands.addCommand(CommandIDs.openOrigin, {
      label: 'Go to the notebook cell of the Flyte run',
      describedBy: {
        args: {
          type: 'object',
          properties: { run: { type: 'string', description: 'the run' } }
        }
      },
      execute: async args => {
        const name =
          typeof args.run === 'string' && args.run ? args.run : model.selected;
        const run = name ? model.runs.get(name) : undefined;
        if (run) {
          await model.openOrigin(run);
        }
      }
    });
    if (palette) {
      for (const command of [
        CommandIDs.runNotebook,
        CommandIDs.openPanel,
        CommandIDs.openRun
      ]) {
        palette.addItem({ command, category: 'Flyte' });
      }
    }

    // a run widget's rows (or any output) open a run in the panel: data-flyte-run, data-flyte-action
    document.addEventListener(
      'click',
      event => {
        const target = event.target as Element | null;
        const el = target?.closest?.('[data-flyte-run]') as HTMLElement | null;
        if (!el || el.closest('#flyte-jupyter-panel, .jp-FlyteRunView')) {
          return;
        }
        const run = el.dataset.flyteRun;
        if (!run) {
          return;
        }
        event.preventDefault();
        void showInPanel(run, el.dataset.flyteAction || null);
      },
      true
    );
    window.addEventListener('flyte-jupyter:open', event => {
      const detail = (event as CustomEvent).detail ?? {};
      if (typeof detail.run !== 'string' || !detail.run) {
        return;
      }
      const action = typeof detail.action === 'string' ? detail.action : null;
      if (detail.where === 'main') {
        openMain(detail.run, action);
      } else {
        void showInPanel(detail.run, action);
      }
    });
  }
};

export default plugin;
