#!/bin/sh
# Build Mosquitto's password file from the environment (services) and from devices.txt
# (one "sensor-id:password" per line, kept out of the repository), then start the broker.
set -eu
passwd=/mosquitto/data/passwd
umask 077
: > "$passwd"
add() {
    [ -n "$2" ] || { echo "mosquitto: no password for $1 (set it in .env)" >&2; exit 1; }
    mosquitto_passwd -b "$passwd" "$1" "$2"
}
add opsroom-ingest "${MQTT_INGEST_PASSWORD:-}"
add opsroom-rules "${MQTT_RULES_PASSWORD:-}"
add opsroom-dashboard "${MQTT_DASHBOARD_PASSWORD:-}"
add opsroom-simulator "${MQTT_SIMULATOR_PASSWORD:-}"
if [ -f /mosquitto/devices/devices.txt ]; then
    grep -v '^[[:space:]]*\(#\|$\)' /mosquitto/devices/devices.txt | while IFS=: read -r user pass; do
        add "$user" "$pass"
    done
fi
chown mosquitto:mosquitto "$passwd" 2>/dev/null || true
exec mosquitto -c /mosquitto/config/mosquitto.conf
