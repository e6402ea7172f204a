"""The entry layer: the `opsroom` command and the demo, composing the kernel and the services.

Nothing below this package imports it: the kernel (the rest of `opsroom`) imports no
service, and the services (ingest, rules, dashboard, simulators) import only the kernel.
The import contract in pyproject.toml (`lint-imports`) checks both.
"""
