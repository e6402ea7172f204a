#!/bin/sh
# Build Mosquitto's password file from the environment (services) and from devices.txt
# (one "sensor-id:password" per line, kept out of the repository), then start the broker.
# The drill simulator's user exists only when MQTT_SIMULATOR_PASSWORD is set, which only
# compose.drill.yaml does: a production broker has no such user. The operator bot's user
# (allowed to acknowledge) exists only when MQTT_OPERATOR_BOT_PASSWORD is set.
# MOSQUITTO_PASSWD, MOSQUITTO_DEVICES and MOSQUITTO_CONF override the paths (tests).
set -eu
passwd=${MOSQUITTO_PASSWD:-/mosquitto/data/passwd}
devices=${MOSQUITTO_DEVICES:-/mosquitto/devices/devices.txt}
umask 077
: > "$passwd"
add() {
    [ -n "$2" ] || { echo "mosquitto: no password for $1 (set it in .env)" >&2; exit 1; }
    mosquitto_passwd -b "$passwd" "$1" "$2"
}
add opsroom-ingest "${MQTT_INGEST_PASSWORD:-}"
add opsroom-rules "${MQTT_RULES_PASSWORD:-}"
add opsroom-dashboard "${MQTT_DASHBOARD_PASSWORD:-}"
if [ -n "${MQTT_SIMULATOR_PASSWORD:-}" ]; then
    add opsroom-simulator "$MQTT_SIMULATOR_PASSWORD"
fi
if [ -n "${MQTT_OPERATOR_BOT_PASSWORD:-}" ]; then
    add opsroom-operator-bot "$MQTT_OPERATOR_BOT_PASSWORD"
fi
if [ -f "$devices" ]; then
    grep -v '^[[:space:]]*\(#\|$\)' "$devices" | while IFS=: read -r user pass; do
        add "$user" "$pass"
    done
fi
chown mosquitto:mosquitto "$passwd" 2>/dev/null || true
exec mosquitto -c "${MOSQUITTO_CONF:-/mosquitto/config/mosquitto.conf}"
