-- One PostgreSQL role per service, owning its database and nothing else; a `relay` role that may only read and
-- mark each database's outbox; a `backup` role that may only read (docs/security.md "Database roles").
--
-- Run by psql as a superuser (or a role with CREATEROLE and CREATEDB), any number of times: it creates what is
-- missing and puts the rest right, so the same script initialises an empty server (compose: init.sh), sets up
-- an external one (Kubernetes) and upgrades a deployment from the single `nip` role (docs/operations.md):
--
--   psql -v ON_ERROR_STOP=1 -h HOST -U SUPERUSER -d postgres \
--     -v intake_password="$INTAKE_DB_PASSWORD" -v review_password="$REVIEW_DB_PASSWORD" \
--     -v notify_password="$NOTIFY_DB_PASSWORD" -v relay_password="$RELAY_DB_PASSWORD" \
--     -v backup_password="$BACKUP_DB_PASSWORD" -f deploy/postgres/roles.sql
--
-- The five passwords are required. The database and role names default to intake, review, notify, relay and
-- backup (-v intake_db=..., -v intake_role=..., ... to change them; the tests use scratch names).

\set ON_ERROR_STOP on
\if :{?intake_db}  \else \set intake_db intake   \endif
\if :{?review_db}  \else \set review_db review   \endif
\if :{?notify_db}  \else \set notify_db notify   \endif
\if :{?intake_role} \else \set intake_role intake \endif
\if :{?review_role} \else \set review_role review \endif
\if :{?notify_role} \else \set notify_role notify \endif
\if :{?relay_role} \else \set relay_role relay \endif
\if :{?backup_role} \else \set backup_role backup \endif
\if :{?intake_password} \else \set intake_password '' \endif
\if :{?review_password} \else \set review_password '' \endif
\if :{?notify_password} \else \set notify_password '' \endif
\if :{?relay_password} \else \set relay_password '' \endif
\if :{?backup_password} \else \set backup_password '' \endif

-- the roles: login, no other attribute; a password that is empty is refused rather than set
SELECT :'intake_password' = '' OR :'review_password' = '' OR :'notify_password' = ''
       OR :'relay_password' = '' OR :'backup_password' = '' AS empty_password \gset
\if :empty_password
  DO $$ BEGIN RAISE EXCEPTION 'roles.sql: give every password, none empty (-v intake_password=... and the four others)'; END $$;
\endif

SELECT format('CREATE ROLE %I', name) FROM unnest(ARRAY[:'intake_role', :'review_role', :'notify_role',
       :'relay_role', :'backup_role']) AS name WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = name) \gexec
ALTER ROLE :"intake_role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'intake_password';
ALTER ROLE :"review_role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'review_password';
ALTER ROLE :"notify_role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'notify_password';
ALTER ROLE :"relay_role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'relay_password';
ALTER ROLE :"backup_role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'backup_password';
-- the backup reads every table of every database it may connect to (pg_dump), and writes nothing
GRANT pg_read_all_data TO :"backup_role";

-- the databases, each owned by its service's role; only the owner, the relay and the backup may connect
SELECT format('CREATE DATABASE %I', name) FROM unnest(ARRAY[:'intake_db', :'review_db', :'notify_db']) AS name
       WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = name) \gexec

\set db :intake_db
\set owner :intake_role
\ir own-database.sql
\set db :review_db
\set owner :review_role
\ir own-database.sql
\set db :notify_db
\set owner :notify_role
\ir own-database.sql
