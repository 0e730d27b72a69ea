# Strict mode (DESIGN C3) on a preloaded node: every way a tenant session
# could pick its tenant other than tenant_rls.set_tenant_signed() is tried by
# a role that is not superuser, not BYPASSRLS and does not own the table, and
# each is refused; the legitimate path works; privileged roles keep working.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $key = 'tap-strict-key-0123456789abcdef0123456789';
my $node = PostgreSQL::Test::Cluster->new('strict');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'tenant_rls'
tenant_rls.strict = on
tenant_rls.signing_key = '$key'
log_statement = 'all'
log_min_messages = debug1
max_prepared_transactions = 2
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION tenant_rls;
	CREATE ROLE owner NOLOGIN;
	CREATE ROLE app LOGIN;
	CREATE ROLE support LOGIN;
	CREATE ROLE tenant_admins NOLOGIN;
	GRANT tenant_admins TO support;
	CREATE DATABASE appdb OWNER app;
	CREATE SCHEMA app_s AUTHORIZATION app;
	-- a hand-written policy on purpose: this test is about the context, not protect()
	SET tenant_rls.auto_protect = off;
	CREATE TABLE public.docs (id int PRIMARY KEY, tenant_id text NOT NULL, body text);
	ALTER TABLE public.docs OWNER TO owner;
	ALTER TABLE public.docs ENABLE ROW LEVEL SECURITY;
	ALTER TABLE public.docs FORCE ROW LEVEL SECURITY;
	CREATE POLICY iso ON public.docs USING (tenant_id = tenant_rls.current_tenant());
	GRANT SELECT ON public.docs TO app, support;
	INSERT INTO public.docs SELECT i, CASE WHEN i % 2 = 0 THEN 'acme' ELSE 'globex' END, 'row ' || i
	  FROM generate_series(1, 10) i;
	CREATE FUNCTION public.with_set_clause() RETURNS text LANGUAGE sql
	  SET app.current_tenant_id = 'globex' AS $$ SELECT current_setting('app.current_tenant_id') $$;
});
$node->safe_psql('appdb', 'CREATE EXTENSION tenant_rls');

is($node->safe_psql('postgres', 'SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = $$app$$'),
	'f', 'app is neither superuser nor BYPASSRLS');
is($node->safe_psql('postgres', 'SELECT in_force, preloaded, key_configured FROM tenant_rls.strict_status()'),
	't|t|t', 'strict_status(): in force, preloaded, key configured');

my $tok_acme = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('acme')});
my $tok_globex = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('globex')});

# run as app; returns (exit code, stdout, stderr)
sub as_app
{
	my ($sql, %opt) = @_;
	my ($ret, $out, $err) = $node->psql($opt{db} // 'postgres', $sql,
		extra_params => [ '-U', $opt{user} // 'app' ],
		on_error_stop => $opt{on_error_stop} // 1);
	return ($ret, $out, $err);
}

sub refused
{
	my ($sql, $re, $name, %opt) = @_;
	my ($ret, $out, $err) = as_app($sql, %opt);
	ok($ret != 0 && $err =~ $re, "refused: $name")
	  or diag("ret=$ret out=$out err=$err");
}

my $set_re = qr/app\.current_tenant_id can only be changed through tenant_rls\.set_tenant_signed\(\) in strict mode/;

# --- the legitimate path
my ($ret, $out, $err) = as_app(qq{
	BEGIN;
	SELECT tenant_rls.set_tenant_signed('$tok_acme');
	SELECT string_agg(id::text, ',' ORDER BY id) FROM public.docs;
	COMMIT;
	SELECT coalesce(tenant_rls.current_tenant(), '<none>');
	SELECT count(*) FROM public.docs;
});
is($out, "acme\n2,4,6,8,10\n<none>\n0", 'set_tenant_signed(): own rows only, cleared at commit');

# --- every other path, as app
refused('SET app.current_tenant_id = $$acme$$', $set_re, 'SET');
refused('BEGIN; SET LOCAL app.current_tenant_id = $$acme$$; COMMIT;', $set_re, 'SET LOCAL');
refused('SET SESSION app.current_tenant_id = $$acme$$', $set_re, 'SET SESSION');
refused(q{SELECT set_config('app.current_tenant_id', 'acme', false)}, $set_re, 'set_config(), session');
refused(q{BEGIN; SELECT set_config('app.current_tenant_id', 'acme', true); COMMIT;}, $set_re, 'set_config(), local');
refused(q{SELECT count(*) FROM public.docs WHERE set_config('app.current_tenant_id', 'globex', true) IS NOT NULL},
	$set_re, 'set_config() inside a WHERE clause');
refused(qq{BEGIN; SELECT tenant_rls.set_tenant_signed('$tok_acme');
	SELECT id FROM public.docs WHERE set_config('app.current_tenant_id', 'globex', true) = 'globex'; COMMIT;},
	$set_re, 'set_config() in WHERE after a signed tenant');
refused(qq{BEGIN; SELECT tenant_rls.set_tenant_signed('$tok_acme'); RESET app.current_tenant_id; COMMIT;},
	qr/app\.current_tenant_id cannot be reset in strict mode/, 'RESET');
refused(qq{BEGIN; SELECT tenant_rls.set_tenant_signed('$tok_acme'); SET app.current_tenant_id TO DEFAULT; COMMIT;},
	qr/app\.current_tenant_id cannot be reset in strict mode/, 'SET ... TO DEFAULT');
refused(q{SELECT public.with_set_clause()}, $set_re, "a function's SET clause (at call)");
refused(q{CREATE FUNCTION app_s.f2() RETURNS int LANGUAGE sql SET app.current_tenant_id = 'acme' AS 'SELECT 1'},
	qr/a default for app\.current_tenant_id cannot be stored in strict mode/, "a function's SET clause (at CREATE FUNCTION)");
refused(q{ALTER ROLE app SET app.current_tenant_id = 'acme'},
	qr/a default for app\.current_tenant_id cannot be stored in strict mode/, 'ALTER ROLE ... SET');
refused(q{ALTER DATABASE appdb SET app.current_tenant_id = 'acme'},
	qr/a default for app\.current_tenant_id cannot be stored in strict mode/, 'ALTER DATABASE ... SET (owner)');
refused(q{ALTER ROLE app IN DATABASE appdb SET app.current_tenant_id = 'acme'},
	qr/a default for app\.current_tenant_id cannot be stored in strict mode/, 'ALTER ROLE ... IN DATABASE ... SET');
refused(q{BEGIN; SELECT tenant_rls.set_tenant('acme'); COMMIT;},
	qr/tenant_rls\.set_tenant\(\) is not allowed in strict mode/, 'unsigned set_tenant()');
refused(q{SELECT tenant_rls.set_tenant('acme', false)},
	qr/session-wide tenant context is not allowed in strict mode/, 'session-scope set_tenant(..., false)');
refused(qq{BEGIN; SELECT tenant_rls.set_tenant_signed('$tok_acme'); SELECT tenant_rls.set_tenant_signed('$tok_globex'); COMMIT;},
	qr/the tenant cannot change within a transaction in strict mode/, 'a second tenant in one transaction');
refused(qq{BEGIN; SELECT tenant_rls.set_tenant_signed('$tok_acme'); SELECT tenant_rls.clear_tenant();
	SELECT tenant_rls.set_tenant_signed('$tok_globex'); COMMIT;},
	qr/the tenant cannot change within a transaction in strict mode/, 'clear_tenant(), then another tenant');
refused(qq{BEGIN; SAVEPOINT s; SELECT tenant_rls.set_tenant_signed('$tok_acme'); ROLLBACK TO s;
	SELECT tenant_rls.set_tenant_signed('$tok_globex'); COMMIT;},
	qr/the tenant cannot change within a transaction in strict mode/, 'another tenant after ROLLBACK TO SAVEPOINT');
refused(q{SELECT tenant_rls.sign_tenant('acme')}, qr/permission denied for function sign_tenant/, 'sign_tenant()');
refused(q{SELECT current_setting('tenant_rls.signing_key')}, qr/must be superuser/, 'reading the key');
refused(q{SET tenant_rls.strict = off}, qr/permission denied to set parameter "tenant_rls\.strict"/, 'switching strict mode off');

# an open cursor keeps reading the tenant it started with
($ret, $out, $err) = as_app(qq{
	BEGIN;
	SELECT tenant_rls.set_tenant_signed('$tok_acme');
	DECLARE c CURSOR FOR SELECT id FROM public.docs ORDER BY id;
	FETCH 2 FROM c;
	SAVEPOINT s;
	SELECT tenant_rls.set_tenant_signed('$tok_globex');
	ROLLBACK TO s;
	FETCH ALL FROM c;
	COMMIT;
}, on_error_stop => 0);
like($err, qr/the tenant cannot change within a transaction in strict mode/, 'cursor: switching tenants refused');
is($out, "acme\n2\n4\n6\n8\n10", 'cursor: no switch mid-transaction, the cursor reads its tenant to the end');

# parallel workers take the leader's tenant (their GUC restore passes the hook)
$node->safe_psql('postgres', q{
	SET tenant_rls.auto_protect = off;
	CREATE TABLE public.big (id int, tenant_id text NOT NULL);
	ALTER TABLE public.big OWNER TO owner;
	ALTER TABLE public.big ENABLE ROW LEVEL SECURITY;
	ALTER TABLE public.big FORCE ROW LEVEL SECURITY;
	CREATE POLICY iso ON public.big USING (tenant_id = tenant_rls.current_tenant());
	GRANT SELECT ON public.big TO app;
	INSERT INTO public.big SELECT i, 't' || (i % 10) FROM generate_series(1, 100000) i;
	ANALYZE public.big;
});
my $tok_t3 = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('t3')});
($ret, $out, $err) = as_app(qq{
	SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
	SET max_parallel_workers_per_gather = 2;
	BEGIN;
	SELECT tenant_rls.set_tenant_signed('$tok_t3');
	EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM public.big;
	SELECT count(*), min(tenant_id), max(tenant_id) FROM public.big;
	COMMIT;
});
like($out, qr/Workers Launched: [12]/, 'strict: a parallel plan runs with workers');
like($out, qr/\n10000\|t3\|t3$/, 'strict: parallel workers see the signed tenant, and only it');

# review #9: a tenant SET while strict mode was off, strict mode then switched
# on by a reload.  The leader refuses the untrusted value; its parallel workers
# must refuse it too (they restore the setting as PGC_S_SESSION, like a
# trusted one: they follow the leader's state, tenant_rls.parallel_leader_state).
# force_parallel_mode runs even a bare SELECT current_tenant() in a worker; a
# generic plan made before the reload runs the policy in the workers without
# the planner evaluating current_tenant() in the leader first.
my $parallel = q{SET force_parallel_mode = on; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
	SET min_parallel_table_scan_size = 0; SET parallel_leader_participation = off;
	SET max_parallel_workers_per_gather = 2; SET plan_cache_mode = force_generic_plan;};
$node->safe_psql('postgres', q{ALTER SYSTEM SET tenant_rls.strict = off});
$node->safe_psql('postgres', q{SELECT pg_reload_conf()});
$node->poll_query_until('postgres', q{SELECT current_setting('tenant_rls.strict') = 'off'})
  or die 'reload not seen';
($ret, $out, $err) = as_app(qq{
	SET app.current_tenant_id = 't3';
	PREPARE q AS SELECT count(*) || '|' || min(tenant_id) FROM public.big;
	$parallel
	EXECUTE q;
	\\! psql -XAtq -U postgres -d postgres -c 'ALTER SYSTEM RESET tenant_rls.strict' -c 'SELECT pg_reload_conf()' >/dev/null
	SELECT 'slept' FROM pg_sleep(1);
	SELECT 'strict=' || current_setting('tenant_rls.strict');
	SET force_parallel_mode = off;
	SELECT 'leader=' || tenant_rls.current_tenant();
	SET force_parallel_mode = on;
	SELECT 'worker=' || tenant_rls.current_tenant();
	EXECUTE q;
	BEGIN;
	SELECT tenant_rls.set_tenant_signed('$tok_t3');
	SELECT 'signed=' || tenant_rls.current_tenant();
	EXECUTE q;
	COMMIT;
	SELECT 'after=' || tenant_rls.current_tenant();
	EXECUTE q;
}, on_error_stop => 0);
$node->poll_query_until('postgres', q{SELECT current_setting('tenant_rls.strict') = 'on'})
  or die 'reload not seen';
is($out, "10000|t3\nslept\nstrict=on\nt3\nsigned=t3\n10000|t3",
	'parallel: after strict mode came on, only the signed tenant reaches the workers')
  or diag("out=$out err=$err");
my $worker_refusal = qr/ERROR:  tenant context was not set through tenant_rls in strict mode\nDETAIL:  [^\n]*\nHINT:  [^\n]*\nCONTEXT:  parallel worker/;
my @refusals = ($err =~ /ERROR:  tenant context was not set through tenant_rls in strict mode/g);
is(scalar(@refusals), 5, 'parallel: the untrusted value is refused five times (leader, bare select, generic plan, twice after COMMIT)')
  or diag("err=$err");
my @in_worker = ($err =~ /$worker_refusal/g);
is(scalar(@in_worker), 4, 'parallel: ... four of them by the parallel workers')
  or diag("err=$err");

# review rev21a: the same with tenant_rls.set_tenant(x, false), the way an
# application (or a pooled connection's previous client) sets a session-wide
# tenant while strict mode is off.  It was trusted for good: after the reload
# the session still read acme's rows without a token, and strict_status()
# said strict mode was in force.  A superuser's session-wide tenant stays
# usable (privileged).
$node->safe_psql('postgres', q{ALTER SYSTEM SET tenant_rls.strict = off});
$node->safe_psql('postgres', q{SELECT pg_reload_conf()});
$node->poll_query_until('postgres', q{SELECT current_setting('tenant_rls.strict') = 'off'})
  or die 'reload not seen';
($ret, $out, $err) = as_app(qq{
	SELECT tenant_rls.set_tenant('acme', false);
	SELECT count(*) FROM public.docs;
	\\! psql -XAtq -U postgres -d postgres -c 'ALTER SYSTEM RESET tenant_rls.strict' -c 'SELECT pg_reload_conf()' >/dev/null
	SELECT 'slept' FROM pg_sleep(1);
	SELECT 'in_force=' || in_force FROM tenant_rls.strict_status();
	SELECT 'rows=' || count(*) FROM public.docs;
	BEGIN;
	SELECT tenant_rls.set_tenant_signed('$tok_globex');
	SELECT 'signed=' || count(*) FROM public.docs;
	COMMIT;
	SELECT 'after=' || count(*) FROM public.docs;
}, on_error_stop => 0);
$node->poll_query_until('postgres', q{SELECT current_setting('tenant_rls.strict') = 'on'})
  or die 'reload not seen';
is($out, "acme\n5\nslept\nin_force=true\nglobex\nsigned=5",
	'set_tenant(x, false) before strict mode came on: refused after it, a token still works')
  or diag("out=$out err=$err");
@refusals = ($err =~ /ERROR:  tenant context was not set through tenant_rls in strict mode/g);
is(scalar(@refusals), 2, '... refused before the token and again after its transaction')
  or diag("err=$err");
$node->safe_psql('postgres', q{ALTER SYSTEM SET tenant_rls.strict = off});
$node->safe_psql('postgres', q{SELECT pg_reload_conf()});
$node->poll_query_until('postgres', q{SELECT current_setting('tenant_rls.strict') = 'off'})
  or die 'reload not seen';
($ret, $out, $err) = as_app(q{
	SELECT tenant_rls.set_tenant('acme', false);
	\\! psql -XAtq -U postgres -d postgres -c 'ALTER SYSTEM RESET tenant_rls.strict' -c 'SELECT pg_reload_conf()' >/dev/null
	SELECT 'slept' FROM pg_sleep(1);
	SELECT 'tenant=' || tenant_rls.current_tenant();
}, user => 'postgres');
$node->poll_query_until('postgres', q{SELECT current_setting('tenant_rls.strict') = 'on'})
  or die 'reload not seen';
is($out, "acme\nslept\ntenant=acme", '... a superuser\'s session-wide tenant stays usable')
  or diag("out=$out err=$err");

# the leader's state cannot be forged
my $state_re = qr/permission denied to set parameter "tenant_rls\.parallel_leader_state"/;
refused('SET tenant_rls.parallel_leader_state = 3', $state_re, 'setting tenant_rls.parallel_leader_state');
refused(q{SELECT set_config('tenant_rls.parallel_leader_state', '3', true)}, $state_re,
	'set_config() of tenant_rls.parallel_leader_state');
refused('BEGIN; RESET tenant_rls.parallel_leader_state; ROLLBACK;', $state_re,
	'RESET of tenant_rls.parallel_leader_state (a rollback would restore a stale state)');
refused(q{SELECT set_config('tenant_rls.parallel_leader_state', NULL, true)}, $state_re,
	'set_config(..., NULL) of tenant_rls.parallel_leader_state');
($ret, $out, $err) = as_app(q{SET tenant_rls.parallel_leader_state = 3}, user => 'postgres');
like($err, qr/tenant_rls\.parallel_leader_state is internal to tenant_rls and cannot be set/,
	'not even a superuser sets tenant_rls.parallel_leader_state');

# same tenant again in the same transaction is fine (idempotent)
($ret, $out, $err) = as_app(qq{BEGIN; SELECT tenant_rls.set_tenant_signed('$tok_acme');
	SELECT tenant_rls.set_tenant_signed('$tok_acme'); COMMIT;});
is($out, "acme\nacme", 'the same tenant twice in one transaction');

# DISCARD ALL and RESET ALL clear (poolers need them)
($ret, $out, $err) = as_app(qq{
	BEGIN; SELECT tenant_rls.set_tenant_signed('$tok_acme'); RESET ALL;
	SELECT coalesce(tenant_rls.current_tenant(), '<none>'); COMMIT;
	DISCARD ALL;
	SELECT coalesce(tenant_rls.current_tenant(), '<none>');
});
is($out, "acme\n<none>\n<none>", 'RESET ALL and DISCARD ALL clear the tenant');

# --- connection time: startup options, stored defaults
{
	local $ENV{PGOPTIONS} = '-c app.current_tenant_id=acme';
	my ($r, $o, $e) = as_app('SELECT 1');
	ok($r != 0 && $e =~ /app\.current_tenant_id cannot be set at connection start in strict mode/,
		'refused: startup option (PGOPTIONS)') or diag("r=$r e=$e");
	($r, $o, $e) = as_app('SELECT current_setting($$app.current_tenant_id$$)', user => 'postgres');
	is($o, 'acme', 'a superuser may still pass the tenant as a startup option');
}
# a default stored by a superuser for the role: not applied, with a warning
$node->safe_psql('postgres', q{ALTER ROLE app IN DATABASE postgres SET app.current_tenant_id = 'globex'});
($ret, $out, $err) = as_app(q{SELECT coalesce(nullif(current_setting('app.current_tenant_id'), ''), '<none>'), count(*) FROM public.docs});
is($out, '<none>|0', 'ALTER ROLE ... SET made by a superuser: not applied at connection');
like($err, qr/WARNING:  app\.current_tenant_id cannot be set at connection start in strict mode/,
	'... and the connection says why');
$node->safe_psql('postgres', q{ALTER ROLE app IN DATABASE postgres RESET app.current_tenant_id});

# strict mode switched on per database: a role default applied before it
# (settings are applied role first) is held but never used
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET tenant_rls.strict = off;
	SELECT pg_reload_conf();
});
$node->poll_query_until('postgres', q{SELECT current_setting('tenant_rls.strict') = 'off'})
  or die 'reload not seen';
$node->safe_psql('postgres', q{
	ALTER DATABASE appdb SET tenant_rls.strict = on;
	ALTER ROLE app IN DATABASE appdb SET app.current_tenant_id = 'globex';
});
($ret, $out, $err) = as_app(q{SELECT in_force FROM tenant_rls.strict_status(); SELECT tenant_rls.current_tenant()}, db => 'appdb');
ok($ret != 0 && $out eq 't' && $err =~ /tenant context was not set through tenant_rls in strict mode/,
	'a connection default that slipped in before strict mode is refused by the accessors')
  or diag("out=$out err=$err");
# (a token is valid only in the database it was signed in: sign one in appdb)
my $tok_acme_appdb = $node->safe_psql('appdb', q{SELECT tenant_rls.sign_tenant('acme')});
($ret, $out, $err) = as_app(qq{BEGIN; SELECT tenant_rls.set_tenant_signed('$tok_acme_appdb'); SELECT tenant_rls.current_tenant(); COMMIT;},
	db => 'appdb');
is($out, "acme\nacme", '... while set_tenant_signed() still works there');
# the audit log records the session's tenant context (context_tenant) only
# as strict mode trusts it: not the default held from before strict mode
$node->safe_psql('appdb', q{
	SET tenant_rls.auto_protect = off;
	CREATE TABLE public.notes (id int PRIMARY KEY, tenant_id text NOT NULL);
	SELECT tenant_rls.enable_audit('public.notes');
	GRANT INSERT ON public.notes TO app;
});
($ret, $out, $err) = as_app(qq{INSERT INTO public.notes VALUES (1, 'acme');
	BEGIN; SELECT tenant_rls.set_tenant_signed('$tok_acme_appdb') \\g /dev/null
	INSERT INTO public.notes VALUES (2, 'acme'); COMMIT;}, db => 'appdb');
is($ret, 0, 'an audited write with the untrusted default held, and one with a token') or diag($err);
is($node->safe_psql('appdb', q{SELECT string_agg(row_pk->>'id' || ':' || coalesce(context_tenant, '<none>'), ',' ORDER BY seq, entry)
	FROM tenant_rls.audit_log WHERE table_name = 'notes'}),
	'1:<none>,2:acme', '... the log records no context for the first, acme for the second');
# nor a signed tenant set in a subtransaction that rolled back (review
# rev38a M2: the statement kept it as its context)
$node->safe_psql('appdb', q{
	CREATE FUNCTION public.try_signed(tok text) RETURNS int LANGUAGE plpgsql AS $f$
	BEGIN
		BEGIN
			PERFORM tenant_rls.set_tenant_signed(tok);
			RAISE EXCEPTION 'undone';
		EXCEPTION WHEN raise_exception THEN NULL;
		END;
		RETURN 3;
	END $f$;
});
($ret, $out, $err) = as_app(qq{BEGIN; INSERT INTO public.notes VALUES (public.try_signed('$tok_acme_appdb'), 'acme'); COMMIT;},
	db => 'appdb');
is($ret, 0, 'an audited write by a statement that set a signed tenant in a subtransaction rolled back') or diag($err);
is($node->safe_psql('appdb', q{SELECT coalesce(context_tenant, '<none>') FROM tenant_rls.audit_log WHERE table_name = 'notes' AND row_pk->>'id' = '3'}),
	'<none>', '... records no context');
$node->safe_psql('postgres', q{
	ALTER ROLE app IN DATABASE appdb RESET app.current_tenant_id;
	ALTER DATABASE appdb RESET tenant_rls.strict;
	ALTER SYSTEM RESET tenant_rls.strict;
	SELECT pg_reload_conf();
});
$node->poll_query_until('postgres', q{SELECT current_setting('tenant_rls.strict') = 'on'})
  or die 'reload not seen';

# --- privileged roles: superuser, members of tenant_rls.admin_role
($ret, $out, $err) = as_app(q{BEGIN; SET LOCAL app.current_tenant_id = 'globex'; SELECT count(*) FROM public.docs;
	SELECT tenant_rls.set_tenant('acme'); COMMIT;}, user => 'postgres');
is($out, "10\nacme", 'a superuser may SET and switch');
refused(q{BEGIN; SELECT tenant_rls.set_tenant('acme'); COMMIT;}, qr/not allowed in strict mode/,
	'support before tenant_rls.admin_role names its role', user => 'support');
$node->safe_psql('postgres', q{ALTER SYSTEM SET tenant_rls.admin_role = 'tenant_admins'; SELECT pg_reload_conf();});
$node->poll_query_until('postgres', q{SELECT current_setting('tenant_rls.admin_role') = 'tenant_admins'})
  or die 'reload not seen';
($ret, $out, $err) = as_app(q{BEGIN; SELECT tenant_rls.set_tenant('acme'); SELECT count(*) FROM public.docs;
	SELECT tenant_rls.set_tenant('globex'); SELECT count(*) FROM public.docs; COMMIT;}, user => 'support');
is($out, "acme\n5\nglobex\n5", 'a member of tenant_rls.admin_role may set and switch');
refused('SET app.current_tenant_id = $$acme$$', $set_re, 'app is still refused');

# A tenant set by a privileged role counts only while the role is privileged
# (review rev25a): a session-wide set_tenant() of a member of admin_role kept
# reading that tenant's rows after the membership was revoked -- behind a
# pooler, for the next clients of the role too -- and refused their signed
# tokens as "a second tenant in the transaction".
{
	my $s = $node->background_psql('postgres', on_error_stop => 0, extra_params => [ '-U', 'support' ]);
	is($s->query_safe(q{SELECT tenant_rls.set_tenant('acme', false); SELECT count(*) FROM public.docs}), "acme\n5",
		'a member of admin_role sets a session-wide tenant');
	$node->safe_psql('postgres', 'REVOKE tenant_admins FROM support');
	$s->{stderr} = '';
	my ($out, $failed) = $s->query(q{SELECT count(*) FROM public.docs});
	ok($failed && $s->{stderr} =~ /ERROR:  tenant context was not set through tenant_rls in strict mode/,
		'once the membership is revoked, that tenant no longer serves the session')
	  or diag("out=$out stderr=$s->{stderr}");
	$s->{stderr} = '';
	is($s->query_safe(qq{BEGIN; SELECT tenant_rls.set_tenant_signed('$tok_globex'); SELECT count(*) FROM public.docs; COMMIT}),
		"globex\n5", 'and a signed token of another tenant is accepted in the next transaction');
	$node->safe_psql('postgres', 'GRANT tenant_admins TO support');
	is($s->query_safe(q{SELECT tenant_rls.set_tenant('acme', false); SELECT count(*) FROM public.docs}), "acme\n5",
		'a member again sets a session-wide tenant');
	# the same when tenant_rls.admin_role stops naming its role
	$node->safe_psql('postgres', q{ALTER SYSTEM SET tenant_rls.admin_role = ''; SELECT pg_reload_conf();});
	$node->poll_query_until('postgres', q{SELECT current_setting('tenant_rls.admin_role') = ''})
	  or die 'reload not seen';
	$s->{stderr} = '';
	($out, $failed) = $s->query(q{SELECT pg_sleep(0.2); SELECT count(*) FROM public.docs});
	ok($failed && $s->{stderr} =~ /ERROR:  tenant context was not set through tenant_rls in strict mode/,
		'nor once tenant_rls.admin_role no longer names its role')
	  or diag("out=$out stderr=$s->{stderr}");
	$s->quit;
	$node->safe_psql('postgres', q{ALTER SYSTEM SET tenant_rls.admin_role = 'tenant_admins'; SELECT pg_reload_conf();});
	$node->poll_query_until('postgres', q{SELECT current_setting('tenant_rls.admin_role') = 'tenant_admins'})
	  or die 'reload not seen';
}
# and a superuser's session-wide tenant after ALTER ROLE ... NOSUPERUSER
{
	$node->safe_psql('postgres', 'CREATE ROLE su2 LOGIN SUPERUSER');
	my $s = $node->background_psql('postgres', on_error_stop => 0, extra_params => [ '-U', 'su2' ]);
	is($s->query_safe(q{SELECT tenant_rls.set_tenant('acme', false); SELECT tenant_rls.current_tenant()}), "acme\nacme",
		'a superuser sets a session-wide tenant');
	$node->safe_psql('postgres', 'ALTER ROLE su2 NOSUPERUSER; GRANT SELECT ON public.docs TO su2');
	$s->{stderr} = '';
	my ($out, $failed) = $s->query(q{SELECT count(*) FROM public.docs});
	ok($failed && $s->{stderr} =~ /ERROR:  tenant context was not set through tenant_rls in strict mode/,
		'no longer superuser: that tenant no longer serves the session')
	  or diag("out=$out stderr=$s->{stderr}");
	$s->quit;
	$node->safe_psql('postgres', 'REVOKE SELECT ON public.docs FROM su2; DROP ROLE su2');
}
# ... and one set after SET ROLE to the admin role (review rev46b): the
# role that set it was the admin role itself, which never stops being
# privileged, so after RESET ROLE and the revocation of the membership the
# tenant still served the session, while the same tenant set without SET
# ROLE did not.  Now it counts while the session user may SET ROLE to it.
{
	my $s = $node->background_psql('postgres', on_error_stop => 0, extra_params => [ '-U', 'support' ]);
	is($s->query_safe(q{SET ROLE tenant_admins; SELECT tenant_rls.set_tenant('acme', false); RESET ROLE;
		SELECT count(*) FROM public.docs}), "acme\n5",
		'a member of admin_role sets a session-wide tenant after SET ROLE to it');
	$node->safe_psql('postgres', 'REVOKE tenant_admins FROM support');
	$s->{stderr} = '';
	my ($out, $failed) = $s->query(q{SELECT count(*) FROM public.docs});
	ok($failed && $s->{stderr} =~ /ERROR:  tenant context was not set through tenant_rls in strict mode/,
		'once the membership is revoked, that tenant no longer serves the session either')
	  or diag("out=$out stderr=$s->{stderr}");
	$s->quit;
	$node->safe_psql('postgres', 'GRANT tenant_admins TO support');
	# a SECURITY DEFINER function of a superuser that sets the tenant keeps
	# working as before: its owner's privilege counts, not the caller's
	$node->safe_psql('postgres', q{CREATE FUNCTION public.sd_set_acme() RETURNS text LANGUAGE sql SECURITY DEFINER
		SET search_path = pg_catalog, pg_temp AS $$ SELECT tenant_rls.set_tenant('acme', false) $$;
		GRANT EXECUTE ON FUNCTION public.sd_set_acme() TO app});
	($ret, $out, $err) = as_app(q{SELECT public.sd_set_acme(); SELECT count(*) FROM public.docs;});
	is($out, "acme\n5", 'a superuser\'s SECURITY DEFINER function sets a tenant that serves the session')
	  or diag("err=$err");
	$node->safe_psql('postgres', 'DROP FUNCTION public.sd_set_acme()');
}
# and the database owner's, with tenant_rls.admin_role = 'pg_database_owner',
# once the database has another owner (review rev45d: the privilege was
# checked again after changes of roles and memberships only, not of
# pg_database, and the accessors kept answering with that tenant)
{
	$node->safe_psql('postgres', 'CREATE ROLE dbo LOGIN; CREATE DATABASE dbodb OWNER dbo');
	$node->safe_psql('dbodb', q{
		SET client_min_messages = warning;
		CREATE EXTENSION tenant_rls;
		ALTER DATABASE dbodb SET tenant_rls.admin_role = 'pg_database_owner';});
	my $s = $node->background_psql('dbodb', on_error_stop => 0, extra_params => [ '-U', 'dbo' ]);
	is($s->query_safe(q{SELECT tenant_rls.set_tenant('acme', false); SELECT tenant_rls.current_tenant()}),
		"acme\nacme", 'the database owner (pg_database_owner is the admin role) sets a session-wide tenant');
	$node->safe_psql('postgres', 'ALTER DATABASE dbodb OWNER TO postgres');
	$s->{stderr} = '';
	my ($out, $failed) = $s->query(q{SELECT tenant_rls.current_tenant()});
	ok($failed && $s->{stderr} =~ /ERROR:  tenant context was not set through tenant_rls in strict mode/,
		'no longer the database owner: that tenant no longer serves the session')
	  or diag("out=$out stderr=$s->{stderr}");
	$s->quit;
	$node->safe_psql('postgres', 'DROP DATABASE dbodb; DROP ROLE dbo');
}

# --- key rotation by ALTER SYSTEM + reload: old tokens keep working in the grace
my $key2 = 'tap-strict-key-rotated-0123456789abcdef0123456789';
$node->safe_psql('postgres', qq{
	ALTER SYSTEM SET tenant_rls.signing_key_previous = '$key';
	ALTER SYSTEM SET tenant_rls.signing_key = '$key2';
	SELECT pg_reload_conf();
});
$node->poll_query_until('postgres', q{SELECT current_setting('tenant_rls.signing_key_previous') <> ''})
  or die 'reload not seen';
($ret, $out, $err) = as_app(qq{BEGIN; SELECT tenant_rls.set_tenant_signed('$tok_acme'); COMMIT;});
is($out, 'acme', 'rotation: a token of the previous key is accepted during the grace');
$node->safe_psql('postgres', q{ALTER SYSTEM RESET tenant_rls.signing_key_previous; SELECT pg_reload_conf();});
$node->poll_query_until('postgres', q{SELECT current_setting('tenant_rls.signing_key_previous') = ''})
  or die 'reload not seen';
refused(qq{BEGIN; SELECT tenant_rls.set_tenant_signed('$tok_acme'); COMMIT;},
	qr/token was signed with a key that is not accepted/, 'rotation: ... and refused after it');
# statements that carry a key, failing or not
$node->psql('postgres', qq{SET tenant_rls.signing_key = '$key2-session'; SELECT 1/0 WHERE '$key2' IS NOT NULL;});

# the setting's name as a bind parameter too (extended protocol: pgbench sends
# :name and :val as $1 and $2): log_statement logs the parameters, and with
# log_parameter_max_length_on_error the context of a failing statement does;
# these keys are configured nowhere yet, so only the name can give them away
my $key3 = 'tap-strict-key-bound-fail-0123456789abcdef0123456789';
my $key4 = 'tap-strict-key-bound-0123456789abcdef0123456789';
{
	my $dir = PostgreSQL::Test::Utils::tempdir();
	PostgreSQL::Test::Utils::append_to_file("$dir/fail.sql",
		"SET log_parameter_max_length_on_error = -1;\n"
		  . "SELECT set_config(:name, :val, false), 1/0;\n");
	PostgreSQL::Test::Utils::append_to_file("$dir/ok.sql",
		"SELECT set_config(:name, :val, false) IS NOT NULL;\n");
	my @pgbench = ('pgbench', '-n', '-M', 'extended', '-t', '1',
		'-h', $node->host, '-p', $node->port, '-U', 'postgres',
		'-D', 'name=tenant_rls.signing_key');
	my ($stdout, $stderr) = run_command([ @pgbench, '-D', "val=$key3", '-f', "$dir/fail.sql", 'postgres' ]);
	like($stderr, qr/division by zero/, '(the failing bound statement ran)');
	($stdout, $stderr) = run_command([ @pgbench, '-D', "val=$key4", '-f', "$dir/ok.sql", 'postgres' ]);
	like($stdout, qr/number of transactions actually processed: 1\//, '(the bound statement ran)')
	  or diag("stderr=$stderr");
}
# ... or the key as the argument of EXECUTE of a statement prepared to set it
# (log_statement logs the EXECUTE with the PREPARE as its detail)
my $key5 = 'tap-strict-key-prepared-0123456789abcdef0123456789';
$node->safe_psql('postgres', qq{PREPARE setkey(text) AS SELECT set_config('tenant_rls.signing_key', \$1, false);
	EXECUTE setkey('$key5');});

# a role that cannot set a key does not hide its statements from the log by
# naming the setting in a comment (nor their errors' STATEMENT lines)
as_app(q{SELECT count(*) AS hidden_from_the_log FROM public.docs /* tenant_rls.signing_key */});
as_app(q{SELECT 1/0 AS hidden_error /* tenant_rls.signing_key */}, on_error_stop => 0);

# --- two-phase commit (review rev23a): the tenants of app share its prepared
# transactions (COMMIT PREPARED runs outside a transaction, with no tenant),
# so one tenant committed or rolled back another's; strict mode refuses them
# to roles it holds to tokens
$node->safe_psql('postgres', q{SET tenant_rls.strict = off; SET ROLE app; BEGIN;
	SELECT count(*) FROM public.docs; PREPARE TRANSACTION 'prepared-by-app';});
refused(q{ROLLBACK PREPARED 'prepared-by-app'}, qr/two-phase commit is not allowed in strict mode/,
	'ROLLBACK PREPARED of a transaction of app (another tenant\'s)');
refused(q{COMMIT PREPARED 'prepared-by-app'}, qr/two-phase commit is not allowed in strict mode/,
	'COMMIT PREPARED of a transaction of app');
refused(q{BEGIN; SELECT count(*) FROM public.docs; PREPARE TRANSACTION 'acme-1';},
	qr/two-phase commit is not allowed in strict mode/, 'PREPARE TRANSACTION');
# ... as it prepares, as PostgreSQL's own failures there: the transaction is
# rolled back and the block ends (review rev49d: refused in the block, it
# left it open and aborted, and a COMMIT, as the hint said, rolled back)
($ret, $out, $err) = as_app(q{BEGIN; SELECT count(*) FROM public.docs; PREPARE TRANSACTION 'acme-2'; SELECT 'after ' || count(*) FROM public.docs; COMMIT;},
	on_error_stop => 0);
like($err, qr/two-phase commit is not allowed in strict mode.*WARNING:  there is no transaction in progress/s,
	'refused PREPARE TRANSACTION ends the block: the next statement runs, COMMIT finds no transaction');
like($out, qr/^after 0$/m, '... (the next statement ran outside the block)');
unlike($err, qr/current transaction is aborted/, '... not in an aborted block');
is($node->safe_psql('postgres', q{SELECT string_agg(gid, ',' ORDER BY gid) FROM pg_prepared_xacts}),
	'prepared-by-app', '... the prepared transaction is still there, and no other was prepared');
is($node->safe_psql('postgres', q{ROLLBACK PREPARED 'prepared-by-app'; SELECT count(*) FROM pg_prepared_xacts}),
	'0', 'a superuser ends it');

# COMMIT, ROLLBACK and ROLLBACK TO of a failed block come to strict mode's
# utility hook in the aborted transaction, where no catalog may be read:
# after a change of the role's own pg_authid row (which empties
# superuser()'s cache), the hook read pg_authid there, an assertion failure
# that restarted an assert-enabled server (review rev50b; a release build
# showed nothing, so this fails only under --enable-cassert)
($ret, $out, $err) = as_app(q{BEGIN; ALTER ROLE app PASSWORD 'x'; SELECT 1/0; COMMIT;
BEGIN; SAVEPOINT s; ALTER ROLE app PASSWORD 'y'; SELECT 1/0; ROLLBACK TO s; ROLLBACK;
BEGIN; ALTER ROLE app PASSWORD 'z'; SELECT 1/0; ROLLBACK;
SELECT 'still here'}, on_error_stop => 0);
like($out, qr/^still here$/m, 'COMMIT, ROLLBACK TO and ROLLBACK of failed blocks after the role changed its own row: the session goes on')
	or diag("ret=$ret out=$out err=$err");
is($node->safe_psql('postgres', q{ALTER ROLE app PASSWORD NULL; SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'}),
	'1', '... and the server did not restart (the check session is the only one)');

# --- the keys never reach the log (log_statement = all, debug1, reloads)
my $log = slurp_file($node->logfile);
like($log, qr{statement: SELECT count\(\*\) AS hidden_from_the_log FROM public\.docs /\* tenant_rls\.signing_key \*/},
	'a statement of a role that cannot set a key is logged even when it names the key setting');
like($log, qr{STATEMENT:  SELECT 1/0 AS hidden_error /\* tenant_rls\.signing_key \*/},
	'... and so is the STATEMENT line of its error');
unlike($log, qr/\Q$key\E/, 'the signing key is not in the server log');
unlike($log, qr/\Q$key2\E/, 'the rotated key (ALTER SYSTEM, reload, a failing statement) is not in the server log');
unlike($log, qr/\Q$key3\E/, 'a key bound as a parameter, with the name as another, is not in the server log (error context)');
unlike($log, qr/\Q$key4\E/, 'a key bound as a parameter, with the name as another, is not in the server log (log_statement)');
unlike($log, qr/\Q$key5\E/, 'a key passed to EXECUTE of a statement prepared to set it is not in the server log');
like($log, qr/CONTEXT:  \[not logged: it mentions tenant_rls\.signing_key\]/,
	'(the context of the failing bound statement is logged as not logged)');
like($log, qr/parameters: \[not logged: they mention tenant_rls\.signing_key\]/,
	'(the bound parameters are logged as not logged)');
like($log, qr/parameter "tenant_rls\.signing_key" \(or signing_key_previous\) changed/,
	'(the reload is logged without the value)');
like($log, qr/cannot be set at connection start/, '(the log does have the refusals)');

$node->stop;
done_testing();
