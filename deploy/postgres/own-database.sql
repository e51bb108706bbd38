-- Included by roles.sql for each service database (:db, owned by :owner): see there.
ALTER DATABASE :"db" OWNER TO :"owner";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"owner";
GRANT CONNECT ON DATABASE :"db" TO :"relay_role", :"backup_role";

\connect :"db"
-- PostgreSQL 15 creates `public` owned by pg_database_owner with no CREATE for PUBLIC; the same on a database
-- created by an older server (and an upgraded one)
ALTER SCHEMA public OWNER TO pg_database_owner;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SELECT set_config('nip.owner', :'owner', false) AS owner_set, set_config('nip.relay', :'relay_role', false) AS relay_set \gset

-- Upgrading from one shared role: whatever the migrations created under another role (tables and their
-- sequences, views, types, functions) is handed to the database's owner.
DO $$
DECLARE
  new_owner text := current_setting('nip.owner');
  item record;
BEGIN
  FOR item IN
    SELECT c.oid::regclass AS name,
           CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'
                          ELSE 'TABLE' END AS kind
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND pg_get_userbyid(c.relowner) <> new_owner
  LOOP
    EXECUTE format('ALTER %s %s OWNER TO %I', item.kind, item.name, new_owner);
  END LOOP;
  -- sequences a column owns moved with their table above; the others now
  FOR item IN
    SELECT c.oid::regclass AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind = 'S' AND pg_get_userbyid(c.relowner) <> new_owner
  LOOP
    EXECUTE format('ALTER SEQUENCE %s OWNER TO %I', item.name, new_owner);
  END LOOP;
  FOR item IN
    SELECT t.oid::regtype AS name FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname = 'public' AND pg_get_userbyid(t.typowner) <> new_owner
      AND (t.typtype IN ('e', 'd') OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
  LOOP
    EXECUTE format('ALTER TYPE %s OWNER TO %I', item.name, new_owner);
  END LOOP;
  FOR item IN
    SELECT p.oid::regprocedure AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> new_owner
  LOOP
    EXECUTE format('ALTER ROUTINE %s OWNER TO %I', item.name, new_owner);
  END LOOP;
END
$$;

-- The relay reads and marks the outbox, nothing else. On a new server the outbox does not exist yet: each
-- service's `migrate` grants it (shared/migrate.py) once it has created the table.
DO $$
BEGIN
  IF to_regclass('public.outbox') IS NOT NULL THEN
    EXECUTE format('GRANT SELECT, UPDATE ON public.outbox TO %I', current_setting('nip.relay'));
  END IF;
END
$$;
