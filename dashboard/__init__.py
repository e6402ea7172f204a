"""The wall-screen dashboard: a Streamlit app over the store, with acknowledgements on MQTT.

Layout: queries.py (pure, testable) -> cache.py (Streamlit caching, plain parameters) ->
charts.py (Plotly figures, the offline venue map) -> ui.py (shared widgets) -> families/ (a
family's tables and page, one module each) and views/ (overview, alerts) -> app.py (entry:
login, navigation). ack.py publishes acknowledgements.
"""
