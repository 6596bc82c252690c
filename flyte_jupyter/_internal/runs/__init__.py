"""Run handles: the `Run` surface every run offers (local, remote) and the local run itself.

`flyte_jupyter.remote` adds the remote run; `flyte_jupyter._run` is the user's entry (`flyte.run`).
"""
