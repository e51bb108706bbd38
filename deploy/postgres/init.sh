#!/bin/sh
# Run once by the postgres image on an empty data volume (docker-entrypoint-initdb.d): the three service
# databases, each owned by its own role, and the relay's and the backup's roles (roles.sql). POSTGRES_USER is the
# superuser that runs this and nothing else; every process connects with its own role.
set -e
: "${INTAKE_DB_PASSWORD:?set INTAKE_DB_PASSWORD}" "${REVIEW_DB_PASSWORD:?set REVIEW_DB_PASSWORD}"
: "${NOTIFY_DB_PASSWORD:?set NOTIFY_DB_PASSWORD}" "${RELAY_DB_PASSWORD:?set RELAY_DB_PASSWORD}"
: "${BACKUP_DB_PASSWORD:?set BACKUP_DB_PASSWORD}"
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
  -v intake_password="$INTAKE_DB_PASSWORD" -v review_password="$REVIEW_DB_PASSWORD" \
  -v notify_password="$NOTIFY_DB_PASSWORD" -v relay_password="$RELAY_DB_PASSWORD" \
  -v backup_password="$BACKUP_DB_PASSWORD" -f /nip-postgres/roles.sql
