import { LabIcon } from '@jupyterlab/ui-components';

/** A simple mark drawn with the theme's icon colour so it follows light and dark themes. */
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M4 3h3v18H4z"/>
    <path d="M8 4c4-2 8 2 12 0v8c-4 2-8-2-12 0z"/>
  </g>
</svg>`;

export const flyteIcon = new LabIcon({
  name: 'flyte-jupyter:flyte',
  svgstr: svg
});
