"""Device models, one module per sensor family, found through the registry.

Adding a family: write `simulators/families/<kind>.py` with its device model and a
`register(kind, build)`, and add it to the import line below.
"""

from __future__ import annotations

from simulators.families import coldchain, crowd, power, shuttle  # noqa: F401  (registers)
from simulators.families.registry import BUILDERS, Builder, build_devices

__all__ = ["BUILDERS", "Builder", "build_devices"]
