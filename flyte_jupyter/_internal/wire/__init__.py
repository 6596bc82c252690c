"""What crosses between the SDK and the backend: the generated protobuf/gRPC modules (`proto`), the
plain-data models of runs and actions, resource quantities, and the conversions between them.
Importing this package loads no protobuf; each module loads what it needs."""
