-- The reference the audit benchmark compares against: an audit trigger as the
-- common PL/pgSQL ones are written (one generic trigger function, to_jsonb(OLD)
-- and to_jsonb(NEW), one insert into a jsonb log table per row).  It records
-- less than tenant_rls (no tenant, no changed-columns diff, no hash chain).
CREATE TABLE public.bench_ref_log (
    id          bigserial PRIMARY KEY,
    logged_at   timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    schema_name text        NOT NULL,
    table_name  text        NOT NULL,
    operation   text        NOT NULL,
    db_user     text        NOT NULL DEFAULT CURRENT_USER,
    app_user    text        DEFAULT pg_catalog.current_setting('app.current_user_id', true),
    txid        bigint      NOT NULL DEFAULT pg_catalog.txid_current(),
    old_data    jsonb,
    new_data    jsonb
);

CREATE FUNCTION public.bench_ref_audit() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.bench_ref_log (schema_name, table_name, operation, new_data)
        VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP, to_jsonb(NEW));
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO public.bench_ref_log (schema_name, table_name, operation, old_data, new_data)
        VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP, to_jsonb(OLD), to_jsonb(NEW));
        RETURN NEW;
    ELSE
        INSERT INTO public.bench_ref_log (schema_name, table_name, operation, old_data)
        VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP, to_jsonb(OLD));
        RETURN OLD;
    END IF;
END
$$;
