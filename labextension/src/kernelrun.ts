/**
 * Where the panel's Resume and Debug buttons run their `%flyte` line: in the current notebook's
 * kernel, because resume bundles that notebook's code and debug binds inputs and leaves a
 * traceback in that kernel. The line goes into a new cell below the active one and runs there, so
 * its output (the new run's widget, the debugger's traceback) shows in the notebook and the cell
 * stays as a record. The `%flyte` magics are loaded first, quietly (a kernel that has only
 * imported flyte_jupyter has no `%flyte` yet).
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';

const LOAD_MAGICS =
  "get_ipython().extension_manager.load_extension('flyte_jupyter')";

/** Run `code` in a new cell of the current notebook; resolves to the notebook's name. */
export async function runInNotebook(
  app: JupyterFrontEnd,
  notebooks: INotebookTracker,
  code: string
): Promise<string> {
  const panel = notebooks.currentWidget;
  if (!panel || panel.isDisposed) {
    throw new Error(
      'No notebook is open: open the notebook that defines the run’s tasks (and run its cells), then click again.'
    );
  }
  await panel.context.ready;
  await panel.sessionContext.ready;
  const name = panel.context.localPath.split('/').pop() ?? panel.title.label;
  const kernel = panel.sessionContext.session?.kernel;
  if (!kernel || panel.sessionContext.hasNoKernel) {
    throw new Error(
      `The notebook ${name} has no kernel: pick one (Kernel › Change Kernel…), run the cells that define the run’s tasks, then click again.`
    );
  }
  const reply = await kernel.requestExecute({
    code: LOAD_MAGICS,
    silent: true,
    store_history: false
  }).done;
  if (reply.content.status !== 'ok') {
    const why =
      reply.content.status === 'error'
        ? `${reply.content.ename}: ${reply.content.evalue}`
        : reply.content.status;
    throw new Error(
      `The kernel of ${name} cannot load flyte_jupyter (${why}): install flyte-jupyter in that kernel’s environment.`
    );
  }
  const notebook = panel.content;
  NotebookActions.insertBelow(notebook);
  const cell = notebook.activeCell;
  if (!cell) {
    throw new Error(`No cell could be added to ${name}.`);
  }
  cell.model.sharedModel.setSource(code);
  app.shell.activateById(panel.id);
  await notebook.scrollToItem(notebook.activeCellIndex, 'center');
  void NotebookActions.run(notebook, panel.sessionContext);
  return name;
}
