"""Rule kinds, one module each; importing this package registers them all in rules.spec.KINDS."""

from rules.kinds import cumulative, geofence, no_data, rate, stopped, threshold

__all__ = ["cumulative", "geofence", "no_data", "rate", "stopped", "threshold"]
