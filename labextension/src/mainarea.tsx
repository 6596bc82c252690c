/**
 * A run in the main area, as dask-labextension opens its dashboards: full width, its tree beside
 * the selected action and its logs; a tab like any other, dragged beside a notebook or split.
 * The sidebar's model keeps it live (one watch per run however many views show it).
 */
import * as React from 'react';
import { MainAreaWidget } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';

import { RunDetail } from './detail';
import { flyteIcon } from './icon';
import { FlyteModel, useModel } from './panel';

function RunMain(props: {
  model: FlyteModel;
  name: string;
  onShow: (name: string) => void;
}): JSX.Element {
  const { model, name } = props;
  const now = useModel(model);
  React.useEffect(() => {
    void model.open(name);
    return () => model.close(name);
  }, [model, name]);
  const run = model.details.get(name);
  if (!run) {
    return (
      <div className="jp-FlyteEmpty">
        {model.error && !model.runs.has(name)
          ? model.error
          : `Loading ${name}…`}
      </div>
    );
  }
  return (
    <RunDetail
      key={run.name}
      model={model}
      run={run}
      now={now}
      layout="main"
      onShow={props.onShow}
    />
  );
}

export class RunContent extends ReactWidget {
  constructor(
    readonly model: FlyteModel,
    private _run: string
  ) {
    super();
    this.addClass('jp-FlytePanel');
    this.addClass('jp-FlyteRunView-content');
  }

  get run(): string {
    return this._run;
  }

  /** Show another run here (a re-run just started from this view). */
  set run(name: string) {
    this._run = name;
    this.update();
  }

  protected render(): JSX.Element {
    return (
      <RunMain
        model={this.model}
        name={this._run}
        onShow={name => {
          this.run = name;
          this.runChanged?.(name);
        }}
      />
    );
  }

  runChanged: ((name: string) => void) | null = null;
}

/** The main-area widget of one run. */
export class RunView extends MainAreaWidget<RunContent> {
  constructor(model: FlyteModel, run: string) {
    const content = new RunContent(model, run);
    super({ content });
    this.addClass('jp-FlyteRunView');
    this.id = `flyte-run-${run}-${Private.ids.next++}`;
    this.title.label = run;
    this.title.caption = `Flyte run ${run}`;
    this.title.icon = flyteIcon;
    this.title.closable = true;
    content.runChanged = name => {
      this.title.label = name;
      this.title.caption = `Flyte run ${name}`;
    };
  }

  get run(): string {
    return this.content.run;
  }
}

namespace Private {
  export const ids = { next: 0 };
}
