/**
 * flyte-jupyter's JupyterLab plugin: the "Flyte" sidebar, the "Run notebook on Flyte" command
 * (palette and notebook toolbar), and the endpoint/project/domain settings.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { FlyteClient, IFlyteSettings } from './api';
import { flyteIcon } from './icon';
import { FlyteModel, FlytePanel } from './panel';
import { runNotebookOnFlyte } from './submit';

const PLUGIN_ID = '@flyte-jupyter/labextension:plugin';

namespace CommandIDs {
  export const runNotebook = 'flyte-jupyter:run-notebook';
  export const openPanel = 'flyte-jupyter:open-panel';
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Flyte runs side panel and notebook submission.',
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
    if (restorer) {
      restorer.add(panel, panel.id);
    }

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
            run: { type: 'string', description: 'a run to open in the panel' }
          }
        }
      },
      execute: async args => {
        app.shell.activateById(panel.id);
        if (typeof args.run === 'string' && args.run) {
          await model.select(args.run);
        }
      }
    });
    if (palette) {
      palette.addItem({ command: CommandIDs.runNotebook, category: 'Flyte' });
      palette.addItem({ command: CommandIDs.openPanel, category: 'Flyte' });
    }
  }
};

export default plugin;
