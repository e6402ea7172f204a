"""Reports a person reads after the fact: the shift handover and the event-day report, and the
page machinery the drill report shares (Markdown, self-contained HTML, plotly inlined).

page.py is the shared machinery, shift.py gathers what a report is made of (log, alerts,
notifications, silences) and handover.py writes the handover and the event-day report.
"""
