"""Rule kinds' evaluators, one module each; importing this package registers them all in
rules.evaluator.EVALUATORS, and fails at once if a kind of the rules file has none."""

from opsroom.rulesfile.spec import KINDS
from rules.evaluator import EVALUATORS
from rules.kinds import cumulative, geofence, no_data, rate, stopped, threshold

_missing = sorted(KINDS.keys() - EVALUATORS.keys())
if _missing:
    raise RuntimeError(f"rule kinds without an evaluator in rules/kinds/: {', '.join(_missing)}")

__all__ = ["cumulative", "geofence", "no_data", "rate", "stopped", "threshold"]
