"""Protocol buffer definitions and their generated Python modules.

Edit the ``.proto`` files here, then run ``python scripts/gen_protos.py`` and commit the generated
``*_pb2.py``, ``*_pb2.pyi`` and ``*_pb2_grpc.py`` files; ``tests/sdk/test_protos_fresh.py`` fails
when they are stale.
"""
