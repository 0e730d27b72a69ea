-- Stand-in for tenant_rls.protect()/unprotect() (policy.c) used by the event
-- trigger tests only while the policy branch is not merged: created only when
-- protect() does not exist, marked by its comment, dropped by the tests.
DO $do$ BEGIN
IF pg_catalog.to_regprocedure('tenant_rls.protect(regclass,name,boolean)') IS NULL THEN
CREATE FUNCTION tenant_rls.protect(tbl regclass, tenant_column name DEFAULT NULL, dry_run boolean DEFAULT false)
RETURNS SETOF text LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  col name := coalesce(tenant_column, current_setting('tenant_rls.tenant_column'));
  nsp name; rel name; s text;
BEGIN
  SELECT n.nspname, c.relname INTO nsp, rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl;
  IF EXISTS (SELECT 1 FROM tenant_rls.protected_table WHERE schema_name = nsp AND table_name = rel) THEN RETURN; END IF;
  FOREACH s IN ARRAY ARRAY[
    format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl),
    format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl),
    format('CREATE POLICY tenant_rls_isolation ON %s USING (%I = tenant_rls.current_tenant()) WITH CHECK (%I = tenant_rls.current_tenant())', tbl, col, col),
    format('ALTER TABLE %s ALTER COLUMN %I SET DEFAULT tenant_rls.current_tenant()', tbl, col),
    format('ALTER TABLE %s ALTER COLUMN %I SET NOT NULL', tbl, col)]
  LOOP
    IF NOT dry_run THEN EXECUTE s; END IF;
    RETURN NEXT s;
  END LOOP;
  IF NOT dry_run THEN
    INSERT INTO tenant_rls.protected_table (schema_name, table_name, status, tenant_column, tenant_type, managed)
    VALUES (nsp, rel, 'protected', col, 'text',
            '{"policies": {"tenant_rls_isolation": {}}, "set_default": true, "set_not_null": true}');
  END IF;
END $$;
CREATE FUNCTION tenant_rls.unprotect(tbl regclass) RETURNS SETOF text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE nsp name; rel name; col name;
BEGIN
  SELECT n.nspname, c.relname INTO nsp, rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl;
  DELETE FROM tenant_rls.protected_table WHERE schema_name = nsp AND table_name = rel RETURNING tenant_column INTO col;
  IF col IS NULL THEN RETURN; END IF;
  EXECUTE format('DROP POLICY tenant_rls_isolation ON %s', tbl);
  EXECUTE format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY', tbl);
  EXECUTE format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', tbl);
  EXECUTE format('ALTER TABLE %s ALTER COLUMN %I DROP DEFAULT', tbl, col);
  EXECUTE format('ALTER TABLE %s ALTER COLUMN %I DROP NOT NULL', tbl, col);
  RETURN NEXT 'unprotected';
END $$;
COMMENT ON FUNCTION tenant_rls.protect(regclass, name, boolean) IS 'evtrig test stub';
COMMENT ON FUNCTION tenant_rls.unprotect(regclass) IS 'evtrig test stub';
END IF; END $do$;
