"""Deploying tasks ahead of a run: what `flyte.deploy`, `flyte-jupyter deploy`, `package` and
`register` share.

- `package`: environments -> a `Package` (one code bundle, the images, a TaskEntry per task);
- `archive`: a package as a tar.gz archive, and reading one back, checked whole;
- `register`: a package -> one RegisterTasks request, its bundle uploaded once;
- `typeexpr`: a task's Python types as text a registration keeps, and back.
"""
