"""Rules: rule files (model), the evaluator and alert lifecycle (engine), notifiers, the service.

model.py      the rules file: RuleSet, load_rules (errors name file, line and field)
spec.py       what every rule kind shares; the kind registry
kinds/        one module per rule kind: threshold, rate, no_data, cumulative, geofence, stopped
values.py     derived values rules watch (density, load %, gate flow, ...)
evaluator.py  per-(rule, subject) evaluator base and the hold/clear latch
lifecycle.py  pending -> firing -> acknowledged -> resolved
engine.py     readings in, transitions out, on event time; snapshot for restarts
geo.py        distances in metres for the shuttle rules
notify.py     notifiers (webhook, apprise), retried with back-off
service.py    the MQTT service around the engine
"""
