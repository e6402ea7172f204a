"""The rules file, as data: what a rule says, what it can be about, and the values it watches.

Every service reads rules through here; only the rules service (rules/) evaluates them.

model.py      the rules file: RuleSet, load_rules (errors name file, line and field)
spec.py       what every rule kind shares: RuleBase, durations, overrides, the kind registry
kinds.py      each rule kind's settings: threshold, rate, no_data, cumulative, geofence, stopped
subjects.py   the venue entities a rule can apply to, and their groups
values.py     derived values rules watch (density, load %, gate flow, ...)
bands.py      the levels each entity is held to, for displays; the shipped default rules
"""
