"""The wall-screen dashboard: a Streamlit app over the store, with acknowledgements on MQTT.

Layout: queries.py (pure, testable) -> cache.py (Streamlit caching, plain parameters) ->
charts.py (Plotly figures, the offline venue map) -> ui.py (shared widgets) -> families/ (a
family's tables and page, one module each) and views/ (overview, alerts) -> app.py (entry:
login, navigation). ack.py publishes acknowledgements; auth.py is who is logged in and what
they may do (login.py guards against guessing, oidc.py checks Streamlit's OIDC settings);
kiosk.py is the wall screen's rotation.
"""
