"""Rules: the evaluator and alert lifecycle (engine), notifiers, the service.

The rules file itself (its model, rule kinds' settings, subjects, derived values) is the
kernel's: opsroom/rulesfile/.

kinds/        one evaluator module per rule kind: threshold, rate, no_data, cumulative,
              geofence, stopped
evaluator.py  per-(rule, subject) evaluator base, the hold/clear latch, the evaluator registry
lifecycle.py  pending -> firing -> acknowledged -> resolved
engine.py     readings in, transitions out, on event time; snapshot for restarts
notify.py     notifiers (webhook, apprise), retried with back-off
service.py    the MQTT service around the engine
"""
