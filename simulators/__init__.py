"""Drill simulators: device models generated from the venue, drill files, the runner, and the
after-action report.

simulators/families/   one device model per sensor family (crowd, power, coldchain, shuttle)
simulators/drill.py    the drill file (scenario + incident timeline), validated
simulators/engine.py   the deterministic simulation: (topic, payload) in simulated-time order
simulators/runner.py   pacing against the wall clock, progress, the incident log
simulators/mqtt_sink.py  publishing (QoS 1) and the last-will design
simulators/matching.py   incidents <-> alerts (pure); simulators/report.py  Markdown + HTML
"""
