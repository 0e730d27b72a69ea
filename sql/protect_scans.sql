--
-- How many times protect() and set_tenant_not_null() read a table to decide
-- and set NOT NULL (doc/policy.md, "Locks, and protecting a large table that
-- is in use"; review rev49h): both hold ACCESS EXCLUSIVE while they do.
--   no index, no constraint: protect()'s search for a NULL + SET NOT NULL's check
--   an index on the tenant column: SET NOT NULL's check only
--   a validated CHECK (tenant_id IS NOT NULL): none (a NOT VALID one proves nothing)
-- pg_stat_get_xact_numscans() counts sequential scans of this transaction
-- (and of earlier ones of this session whose statistics are not flushed yet:
-- hence the new connection before each count).
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
SET tenant_rls.auto_protect = off;
CREATE TABLE public.ps_plain (id bigint PRIMARY KEY, tenant_id bigint);
CREATE TABLE public.ps_index (id bigint PRIMARY KEY, tenant_id bigint);
CREATE INDEX ON public.ps_index (tenant_id);
CREATE TABLE public.ps_check (id bigint PRIMARY KEY, tenant_id bigint);
CREATE TABLE public.ps_notvalid (id bigint PRIMARY KEY, tenant_id bigint);
CREATE TABLE public.ps_other (id bigint PRIMARY KEY, tenant_id bigint);
CREATE TABLE public.ps_fix (id bigint PRIMARY KEY, tenant_id bigint);
INSERT INTO public.ps_plain SELECT g, g % 10 FROM generate_series(1, 500) g;
INSERT INTO public.ps_index SELECT * FROM public.ps_plain;
INSERT INTO public.ps_check SELECT * FROM public.ps_plain;
INSERT INTO public.ps_notvalid SELECT * FROM public.ps_plain;
INSERT INTO public.ps_other SELECT * FROM public.ps_plain;
INSERT INTO public.ps_fix SELECT g, CASE WHEN g = 7 THEN NULL ELSE g % 10 END FROM generate_series(1, 500) g;
ALTER TABLE public.ps_check ADD CONSTRAINT ps_check_nn CHECK (tenant_id IS NOT NULL) NOT VALID;
ALTER TABLE public.ps_check VALIDATE CONSTRAINT ps_check_nn;
ALTER TABLE public.ps_notvalid ADD CONSTRAINT ps_notvalid_nn CHECK (tenant_id IS NOT NULL) NOT VALID;
-- not the exact form: proves nothing to protect() (PostgreSQL's own check may still use it)
ALTER TABLE public.ps_other ADD CONSTRAINT ps_other_nn CHECK (tenant_id IS NOT NULL AND id > 0);
RESET tenant_rls.auto_protect;
\c
SET client_min_messages = warning;
BEGIN;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('public.ps_plain');
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('public.ps_index');
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('public.ps_check');
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('public.ps_notvalid');
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('public.ps_other');
SELECT c AS tbl, pg_stat_get_xact_numscans(c) AS seq_scans,
       (SELECT attnotnull FROM pg_attribute WHERE attrelid = c AND attname = 'tenant_id') AS not_null
  FROM unnest('{public.ps_plain,public.ps_index,public.ps_check,public.ps_notvalid,public.ps_other}'::regclass[]) c;
COMMIT;
-- the NULL row left the column nullable; fixed, then proven by a constraint:
-- set_tenant_not_null() reads nothing
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('public.ps_fix');
UPDATE public.ps_fix SET tenant_id = 7 WHERE id = 7;
ALTER TABLE public.ps_fix ADD CONSTRAINT ps_fix_nn CHECK (tenant_id IS NOT NULL) NOT VALID;
ALTER TABLE public.ps_fix VALIDATE CONSTRAINT ps_fix_nn;
\c
SET client_min_messages = warning;
BEGIN;
SELECT tenant_rls.set_tenant_not_null('public.ps_fix', 'tenant_id');
SELECT pg_stat_get_xact_numscans('public.ps_fix'::regclass) AS seq_scans,
       (SELECT attnotnull FROM pg_attribute WHERE attrelid = 'public.ps_fix'::regclass AND attname = 'tenant_id') AS not_null;
COMMIT;
SELECT count(*) FROM tenant_rls.unprotect('public.ps_plain');
SELECT count(*) FROM tenant_rls.unprotect('public.ps_index');
SELECT count(*) FROM tenant_rls.unprotect('public.ps_check');
SELECT count(*) FROM tenant_rls.unprotect('public.ps_notvalid');
SELECT count(*) FROM tenant_rls.unprotect('public.ps_other');
SELECT count(*) FROM tenant_rls.unprotect('public.ps_fix');
DROP TABLE public.ps_plain, public.ps_index, public.ps_check, public.ps_notvalid,
           public.ps_other, public.ps_fix;
