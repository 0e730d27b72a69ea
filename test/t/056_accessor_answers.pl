# The accessors' kept answers (context.c).  With the library preloaded, an
# accessor (tenant_rls.current_tenant(), _bigint(), _int(), _uuid()) gives
# its last answer again until tenant_rls_context_epoch moves (strict.c):
# a filter that is not an index condition calls it for every row.  Every
# way the answer can change must move it: each check below reads an
# accessor, changes the tenant (or what strict mode trusts) in another way,
# and reads it again -- with an answer kept too long, the second read gives
# the first answer.  (Strict mode's changes of trust -- a revoked
# membership, tenant_rls.admin_role, tenant_rls.strict reloaded -- are
# checked after a first read in 050_strict.pl.)
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('accessors');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'tenant_rls'
max_parallel_workers_per_gather = 0
});
$node->start;
$node->safe_psql('postgres', q{
	SET client_min_messages = warning;
	CREATE EXTENSION tenant_rls;
	SET tenant_rls.audit = off;
	CREATE ROLE app LOGIN;
	GRANT USAGE ON SCHEMA tenant_rls TO app;
	-- no tenant index: every read is a sequential scan that calls the accessor per row
	CREATE TABLE public.tb (id integer NOT NULL, tenant_id bigint NOT NULL);
	INSERT INTO public.tb SELECT i, (i - 1) % 3 + 1 FROM generate_series(1, 3000) i;
	SELECT count(*) FROM tenant_rls.protect('public.tb');
	CREATE TABLE public.tu (id integer NOT NULL, tenant_id uuid NOT NULL);
	INSERT INTO public.tu SELECT i, CASE WHEN i % 2 = 0 THEN 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid
	                                    ELSE 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12'::uuid END
	  FROM generate_series(1, 1000) i;
	SELECT count(*) FROM tenant_rls.protect('public.tu');
	GRANT SELECT ON public.tb, public.tu TO app;
	ANALYZE public.tb, public.tu;
	-- the four accessors at once ('-': NULL)
	CREATE FUNCTION public.probe() RETURNS text LANGUAGE sql STABLE
	    AS $$SELECT coalesce(tenant_rls.current_tenant(), '-') || '|' ||
	                coalesce(tenant_rls.current_tenant_bigint()::text, '-') || '|' ||
	                coalesce(tenant_rls.current_tenant_int()::text, '-')$$;
	CREATE FUNCTION public.probe_in_4() RETURNS text LANGUAGE sql STABLE
	    SET app.current_tenant_id = '4' AS $$SELECT public.probe()$$;
	GRANT EXECUTE ON FUNCTION public.probe(), public.probe_in_4() TO app;
});

sub as_app
{
	my ($sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', $sql, extra_params => [ '-U', 'app' ], on_error_stop => 0);
	return ($out, $err);
}

# every way the setting changes, within a transaction and across transactions
my ($out, $err) = as_app(q{
	SELECT 'none ' || public.probe();
	BEGIN;
	SELECT 'set ' || public.probe() FROM (SELECT tenant_rls.set_tenant('1')) s;
	SELECT 'again ' || public.probe();
	SAVEPOINT s;
	SELECT 'in savepoint ' || public.probe() FROM (SELECT tenant_rls.set_tenant('2')) s;
	ROLLBACK TO SAVEPOINT s;
	SELECT 'rolled back ' || public.probe();
	SET LOCAL app.current_tenant_id = '3';
	SELECT 'set local ' || public.probe();
	SELECT 'function SET clause ' || public.probe_in_4();
	SELECT 'after it ' || public.probe();
	SELECT 'set_config ' || public.probe() FROM (SELECT set_config('app.current_tenant_id', '5', true)) s;
	COMMIT;
	SELECT 'committed ' || public.probe();
	SELECT 'session ' || public.probe() FROM (SELECT tenant_rls.set_tenant('6', false)) s;
	RESET app.current_tenant_id;
	SELECT 'reset ' || public.probe();
	SELECT 'session ' || public.probe() FROM (SELECT tenant_rls.set_tenant('7', false)) s;
	DISCARD ALL;
	SELECT 'discard all ' || public.probe();
	SELECT 'session ' || public.probe() FROM (SELECT tenant_rls.set_tenant('8', false)) s;
	SELECT 'cleared ' || public.probe() FROM (SELECT tenant_rls.clear_tenant()) s;
	BEGIN;
	SELECT 'set ' || public.probe() FROM (SELECT tenant_rls.set_tenant('9')) s;
	ROLLBACK;
	SELECT 'rolled back ' || public.probe();
	SELECT 'session ' || public.probe() FROM (SELECT tenant_rls.set_tenant('10', false)) s;
	BEGIN;
	SELECT 'set ' || public.probe() FROM (SELECT tenant_rls.set_tenant('11')) s;
	COMMIT;
	SELECT 'back to the session''s ' || public.probe();
});
is($out, join("\n",
		'none -|-|-',
		'set 1|1|1', 'again 1|1|1',
		'in savepoint 2|2|2', 'rolled back 1|1|1',
		'set local 3|3|3', 'function SET clause 4|4|4', 'after it 3|3|3',
		'set_config 5|5|5', 'committed -|-|-',
		'session 6|6|6', 'reset -|-|-',
		'session 7|7|7', 'discard all -|-|-',
		'session 8|8|8', 'cleared -|-|-',
		'set 9|9|9', 'rolled back -|-|-',
		'session 10|10|10', 'set 11|11|11', 'back to the session\'s 10|10|10'),
	'each change of the setting reaches every accessor')
  or diag("err=$err");

# an error is not an answer: the value is refused again, then the next one read
($out, $err) = as_app(q{
	SELECT tenant_rls.set_tenant('12', false);
	SELECT 'bigint ' || tenant_rls.current_tenant_bigint();
	SELECT set_config('app.current_tenant_id', 'x1', false);
	SELECT 'bigint ' || tenant_rls.current_tenant_bigint();
	SELECT 'bigint ' || tenant_rls.current_tenant_bigint();
	SELECT 'text ' || tenant_rls.current_tenant();
	SELECT set_config('app.current_tenant_id', '2147483648', false);
	SELECT 'bigint ' || tenant_rls.current_tenant_bigint();
	SELECT 'int ' || tenant_rls.current_tenant_int();
	SELECT set_config('app.current_tenant_id', '13', false);
	SELECT 'int ' || tenant_rls.current_tenant_int();
	SELECT 'uuid ' || tenant_rls.current_tenant_uuid();
	SELECT set_config('app.current_tenant_id', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', false);
	SELECT 'uuid ' || tenant_rls.current_tenant_uuid();
	SELECT set_config('app.current_tenant_id', 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', false);
	SELECT 'uuid ' || tenant_rls.current_tenant_uuid();
	SELECT 'int ' || tenant_rls.current_tenant_int();
});
is($out, join("\n", '12', 'bigint 12', 'x1', 'text x1', '2147483648', 'bigint 2147483648', '13', 'int 13',
		'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'uuid a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
		'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', 'uuid b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12'),
	'values an accessor refuses are refused each time, and the next value is read')
  or diag("err=$err");
my @refused = ($err =~ /ERROR:  tenant context "[^"]+" is not a valid (?:bigint|integer|uuid)/g);
is(scalar(@refused), 5, '... five refusals (bigint twice, integer twice, uuid once)') or diag("err=$err");

# generic plans: the policy's filter calls the accessor per row
($out, $err) = as_app(q{
	SET plan_cache_mode = force_generic_plan;
	PREPARE q AS SELECT format('%s %s-%s', count(*), min(tenant_id), max(tenant_id)) FROM public.tb;
	PREPARE u AS SELECT format('%s %s', count(*), min(tenant_id::text)) FROM public.tu;
	EXPLAIN (COSTS OFF) EXECUTE q;
	BEGIN;
	SELECT tenant_rls.set_tenant('1');
	EXECUTE q;
	SELECT tenant_rls.set_tenant('2');
	EXECUTE q;
	COMMIT;
	SELECT 'none ' || count(*) FROM public.tb;
	EXECUTE q;
	BEGIN;
	SELECT tenant_rls.set_tenant('3');
	EXECUTE q;
	COMMIT;
	BEGIN;
	SELECT tenant_rls.set_tenant('b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12');
	EXECUTE u;
	SELECT tenant_rls.set_tenant('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
	EXECUTE u;
	COMMIT;
});
like($out, qr/Filter: \(tenant_id = tenant_rls\.current_tenant_bigint\(\)\)/, 'the generic plan calls the accessor in a filter')
  or diag("out=$out err=$err");
$out =~ s/^(?:Seq Scan|Aggregate|  ->|\s*Filter).*\n//mg;
is($out, join("\n", '1', '1000 1-1', '2', '1000 2-2', 'none 0', '0 -', '3', '1000 3-3',
		'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', '500 b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12',
		'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '500 a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
	'each execution of a generic plan reads the rows of the tenant of the moment')
  or diag("err=$err");

# within a scan: a tenant cleared while a cursor reads stops the reading
# (context_security.md: "a filter evaluated again per row fails closed").
# A PL/pgSQL FOR loop fetches 10 rows at a time through a cursor whose
# generic plan calls the accessor per row.
($out, $err) = as_app(q{
	DO $$
	DECLARE
	    n integer := 0;
	    r record;
	BEGIN
	    PERFORM tenant_rls.set_tenant('1');
	    FOR r IN SELECT id FROM public.tb LOOP
	        n := n + 1;
	        IF n = 10 THEN
	            PERFORM tenant_rls.clear_tenant();
	        END IF;
	    END LOOP;
	    RAISE NOTICE 'rows read: %', n;
	END
	$$;
});
like($err, qr/NOTICE:  rows read: 10$/m, 'a cursor stops reading once the tenant is cleared')
  or diag("out=$out err=$err");

done_testing();
