-- Drops the stand-in of test/evtrig_stub.sql, if that file created it.
DO $do$ DECLARE f regprocedure; BEGIN
FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p
          WHERE p.pronamespace = 'tenant_rls'::regnamespace
            AND pg_catalog.obj_description(p.oid, 'pg_proc') = 'evtrig test stub'
LOOP EXECUTE pg_catalog.format('DROP FUNCTION %s', f); END LOOP;
END $do$;
