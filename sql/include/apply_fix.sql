-- pg_temp.apply_fix(code, object): runs the fix tenant_rls.lint() gives for
-- that finding, with the drift guard in its default mode (error): the fixes
-- must get past it; returns the SQL it ran.  (Included by the suites.)
CREATE FUNCTION pg_temp.apply_fix(c text, o text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    f text;
BEGIN
    SELECT l.fix INTO STRICT f FROM tenant_rls.lint() l WHERE l.code = c AND l.object = o;
    PERFORM set_config('tenant_rls.drift_action', 'error', true);
    EXECUTE f;
    RETURN f;
END
$$;
