"""How a Run shows itself without widgets: the renderer registry IPython consults (filled by the
kernel layer through an entry point) and the action tree as text."""
