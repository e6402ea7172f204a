#!/bin/bash
# Run by the influxdb:2 image once, right after its first set-up (mounted into
# /docker-entrypoint-initdb.d): one API token per Opsroom service with only the rights it
# needs on the bucket. ingest writes readings; rules writes alert transitions and reads the
# bucket to skip ones already stored; the dashboard only reads. The admin token stays with
# the operator. The tokens are written to $OPSROOM_TOKENS_FILE (mode 600, in the
# influxdb-config volume), never to the log; copy the three lines into .env once:
#
#   docker compose exec influxdb cat /etc/influxdb2/opsroom-tokens.env
#
# On an InfluxDB set up before this script existed, run it by hand:
#   docker compose exec influxdb /docker-entrypoint-initdb.d/opsroom-tokens.sh
set -euo pipefail
out=${OPSROOM_TOKENS_FILE:-/etc/influxdb2/opsroom-tokens.env}
if [ -s "$out" ]; then
    echo "opsroom-tokens: $out exists; delete it to make new tokens" >&2
    exit 0
fi
org=${DOCKER_INFLUXDB_INIT_ORG:?}
bucket_id=${DOCKER_INFLUXDB_INIT_BUCKET_ID:-$(influx bucket list --org "$org" \
    --name "${DOCKER_INFLUXDB_INIT_BUCKET:?}" --hide-headers | cut -f 1)}
user=${DOCKER_INFLUXDB_INIT_USERNAME:?}

token() {  # description, then the rights; prints only the new token
    local description=$1
    shift
    influx auth create --org "$org" --user "$user" --description "$description" "$@" --json \
        | sed -n 's/^[[:space:]]*"token":[[:space:]]*"\([^"]*\)".*/\1/p'
}
umask 077
tmp=$(mktemp "$out.XXXXXX")
{
    echo "INFLUXDB_INGEST_TOKEN=$(token opsroom-ingest --write-bucket "$bucket_id")"
    echo "INFLUXDB_RULES_TOKEN=$(token opsroom-rules --write-bucket "$bucket_id" --read-bucket "$bucket_id")"
    echo "INFLUXDB_DASHBOARD_TOKEN=$(token opsroom-dashboard --read-bucket "$bucket_id")"
} > "$tmp"
if grep -q '_TOKEN=$' "$tmp"; then
    rm -f "$tmp"
    echo "opsroom-tokens: influx auth create returned no token" >&2
    exit 1
fi
mv "$tmp" "$out"
echo "opsroom-tokens: per-service tokens written to $out" >&2
