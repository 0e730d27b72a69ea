# Tenant context under load through a transaction-pooling pgbouncer (review
# rev49d).  051_pgbouncer.pl shows the pooler path step by step with one
# server connection; this one runs it under load: 20 pgbench clients, each a
# tenant of its own, share 3 server connections, while
#   - error clients end transactions in every way a client can make them
#     fail (error then ROLLBACK, COMMIT of a failed block, a failing
#     statement that sets the tenant, a failing multi-statement string,
#     ROLLBACK TO SAVEPOINT after an error, a second tenant (strict: refused),
#     PREPARE TRANSACTION refused), each followed by a check that nothing of
#     the tenant reached their next transaction;
#   - an abandoning client leaves transactions open or aborted and
#     disconnects, or is killed in the middle of a statement;
#   - the table owner grants and revokes a cross-tenant grant (t0 -> t1
#     read) in a loop, tenant t5 grants to t6 and revokes it itself, and t3
#     writes t2's rows under a 'write' grant;
# every pgbench transaction checks, before it sets its tenant, that nothing
# is set and no row is visible (the previous client of the server connection
# left nothing), sets its tenant (set_tenant(); with strict mode on,
# set_tenant_signed() with the token as a bind parameter), writes an
# audited table, sets another tenant in a savepoint it rolls back (strict:
# the same token again), fails a subtransaction that set another tenant,
# and checks it sees its own rows only (and the granted ones).  A pipeline
# without BEGIN (one implicit transaction up to the Sync) does the same.
# Afterwards the audit log must attribute every entry to the tenant whose
# session made it, hold nothing of the rolled back work, and verify.
#
# pgbench runs with -M extended (unnamed statements, parameters bound):
# -M prepared does not work through pgbouncer 1.18 in transaction mode
# ("prepared statement "P_0" already exists" / "does not exist": named
# statements live in one server connection, the next transaction may get
# another).  A check that fails does not stop pgbench: it appends a line to
# a file (\shell), which must stay empty; a client that gets an error it did
# not expect aborts, which fails the test.
#
# TR_STRESS_SECONDS (default 8) is the length of each of the two phases
# (about 35 s in all by default); set it higher for a soak.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TenantRlsTest qw(start_pgbouncer);

my $pgbouncer = '/usr/sbin/pgbouncer';
plan skip_all => "pgbouncer not installed ($pgbouncer)" unless -x $pgbouncer;

my $secs = $ENV{TR_STRESS_SECONDS} || 8;
my $ntenants = 20;
my $key = 'tap-stress-key-0123456789abcdef0123456789ab';
my $node = PostgreSQL::Test::Cluster->new('stress');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'tenant_rls'
tenant_rls.signing_key = '$key'
max_connections = 40
max_prepared_transactions = 0
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE ROLE tblowner LOGIN;
	CREATE ROLE app LOGIN;
	CREATE DATABASE appdb;
});
$node->safe_psql('appdb', qq{
	SET client_min_messages = warning;
	CREATE EXTENSION tenant_rls;
	-- protected and audited by the event triggers
	CREATE TABLE public.docs (
		id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		tenant_id text NOT NULL,
		val int NOT NULL DEFAULT 0,
		stamp text NOT NULL);
	CREATE INDEX ON public.docs (tenant_id);
	ALTER TABLE public.docs OWNER TO tblowner;
	GRANT SELECT, INSERT, UPDATE, DELETE ON public.docs TO app;
	INSERT INTO public.docs (tenant_id, val, stamp)
		SELECT 't' || c, 0, 't' || c || ':seed' FROM generate_series(0, $ntenants + 3) c, generate_series(1, 5);
	-- an audited table without tenant column: entries take the context's tenant
	CREATE TABLE public.events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, stamp text NOT NULL);
	ALTER TABLE public.events OWNER TO tblowner;
	SELECT tenant_rls.mark_global('public.events');
	SELECT tenant_rls.enable_audit('public.events');
	GRANT INSERT ON public.events TO app;
	-- t2 lets t3 write its rows (for good); t0 -> t1 (read) and t5 -> t6 come and go
	SELECT tenant_rls.grant_access('public.docs', 't2', 't3', 'write');
	-- the test's own tables (not tenant data)
	CREATE TABLE public.tok (client int PRIMARY KEY, token text NOT NULL);
	CREATE TABLE public.allowed (grantee text, owner text);
	INSERT INTO public.allowed VALUES ('t1', 't0'), ('t3', 't2'), ('t6', 't5');
	SELECT tenant_rls.mark_global(t) FROM unnest('{public.tok,public.allowed}'::regclass[]) t;
	GRANT SELECT ON public.tok, public.allowed TO app;
	-- SECURITY INVOKER: run as app, under row-level security
	CREATE FUNCTION public.foreign_rows(me text) RETURNS bigint LANGUAGE sql STABLE AS \$\$
		SELECT count(*) FROM public.docs d
		WHERE d.tenant_id IS DISTINCT FROM me
		  AND NOT EXISTS (SELECT 1 FROM public.allowed a WHERE a.grantee = me AND a.owner = d.tenant_id)
	\$\$;
	CREATE FUNCTION public.assert_clean() RETURNS void LANGUAGE plpgsql AS \$\$
	BEGIN
		IF tenant_rls.current_tenant() IS NOT NULL OR (SELECT count(*) FROM public.docs) > 0 THEN
			RAISE EXCEPTION 'CROSS-TENANT: context % carried over', tenant_rls.current_tenant();
		END IF;
	END \$\$;
	CREATE FUNCTION public.assert_only(me text) RETURNS void LANGUAGE plpgsql AS \$\$
	BEGIN
		IF tenant_rls.current_tenant() IS DISTINCT FROM me OR public.foreign_rows(me) > 0 THEN
			RAISE EXCEPTION 'CROSS-TENANT: % sees other rows (context %)', me, tenant_rls.current_tenant();
		END IF;
	END \$\$;
	-- tokens, signed as the application server would
	INSERT INTO public.tok SELECT c, tenant_rls.sign_tenant('t' || c, '1 hour') FROM generate_series(0, $ntenants + 3) c;
});
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_roles WHERE rolname = 'app' AND NOT rolsuper AND NOT rolbypassrls}),
	'1', 'app is neither superuser nor BYPASSRLS (and owns nothing)');
my %tok = map { split /\|/ } split /\n/, $node->safe_psql('appdb', 'SELECT client, token FROM public.tok');

my $dir = PostgreSQL::Test::Utils::tempdir();
my $bsock = PostgreSQL::Test::Utils::tempdir_short();
my $bport = PostgreSQL::Test::Cluster::get_free_port();
my $sightings = "$dir/sightings.log";

# ---- the scripts
my $check_pre = q{
SELECT ((tenant_rls.current_tenant() IS NOT NULL) OR coalesce(current_setting('app.current_tenant_id', true), '') <> '')::int AS pre_bad, (SELECT count(*) FROM public.docs) AS pre_rows \gset
\if :pre_bad + :pre_rows > 0
\shell echo PRE client :client_id pre_bad :pre_bad pre_rows :pre_rows >> SIGHTINGS
\endif
};
my $body = q{
INSERT INTO public.docs (val, stamp) VALUES (:r::int, 't' || :client_id::int || '/ins/' || :rb::int);
UPDATE public.docs SET val = val + 1, stamp = 't' || :client_id::int || '/upd/' || :rb::int || '/' || :r::int WHERE id = (SELECT min(id) FROM public.docs WHERE tenant_id = 't' || :client_id::int);
SAVEPOINT s1;
SAVEPOINT_BODY
ROLLBACK TO SAVEPOINT s1;
DO $$ BEGIN PERFORM tenant_rls.set_tenant('t99'); PERFORM 1/0; EXCEPTION WHEN division_by_zero OR insufficient_privilege THEN NULL; END $$;
\if :client_id = 3
UPDATE public.docs SET stamp = 't3/gw/' || :rb::int || '/' || :r::int WHERE id = (SELECT min(id) FROM public.docs WHERE tenant_id = 't2');
\endif
\if :client_id = 5
\if :r <= 50
SELECT tenant_rls.grant_access('public.docs', 't5', 't6', 'read');
\else
SELECT tenant_rls.revoke_access('public.docs', 't5', 't6');
\endif
\endif
INSERT INTO public.events (stamp) VALUES ('t' || :client_id::int || '/ev/' || :rb::int);
\if :r <= 15
DELETE FROM public.docs WHERE id = (SELECT max(id) FROM public.docs WHERE tenant_id = 't' || :client_id::int AND stamp LIKE '%/ins/%');
\endif
SELECT public.foreign_rows('t' || :client_id::int) AS bad, (tenant_rls.current_tenant() IS DISTINCT FROM 't' || :client_id::int)::int AS ctx_bad, (SELECT count(*) FROM public.docs WHERE stamp LIKE '%/sp/%') AS sp_rows \gset
\if :bad + :ctx_bad + :sp_rows > 0
\shell echo IN client :client_id bad :bad ctx_bad :ctx_bad sp_rows :sp_rows >> SIGHTINGS
\endif
\if :rb
ROLLBACK;
\else
COMMIT;
\endif
};
my $head = q{
\set r random(1, 100)
\if :r <= 10
\set rb 1
\else
\set rb 0
\endif
BEGIN;
};
my $plain = $head . $check_pre
  . q{SELECT tenant_rls.set_tenant('t' || :client_id::int);} . $body;
$plain =~ s/SAVEPOINT_BODY/SELECT tenant_rls.set_tenant('t' || ((:client_id::int + 7) % 20));\nINSERT INTO public.docs (val, stamp) VALUES (-1, 't' || ((:client_id::int + 7) % 20) || '\/sp\/1');/;
my $signed = $head . $check_pre
  . q{SELECT token FROM public.tok WHERE client = :client_id::int \gset
SELECT tenant_rls.set_tenant_signed(:token);} . $body;
$signed =~ s/SAVEPOINT_BODY/SELECT tenant_rls.set_tenant_signed(:token);\nINSERT INTO public.docs (val, stamp) VALUES (-1, 't' || :client_id::int || '\/sp\/1');/;
my $pipeline = q{
\startpipeline
SELECT public.assert_clean();
SELECT tenant_rls.set_tenant_signed((SELECT token FROM public.tok WHERE client = :client_id::int));
SELECT public.assert_only('t' || :client_id::int);
\endpipeline
SELECT public.assert_clean();
};
# (the 'write' grant stays: a write grantee's UPDATE that runs while its grant
# is revoked may fail with "new row violates row-level security policy",
# see the review's report; reads are only filtered)
my $granter = q{
SELECT tenant_rls.grant_access('public.docs', 't0', 't1', 'read');
\sleep 10 ms
SELECT tenant_rls.revoke_access('public.docs', 't0', 't1');
\sleep 10 ms
};
for ([ 'plain', $plain ], [ 'signed', $signed ], [ 'pipeline', $pipeline ], [ 'granter', $granter ])
{
	my ($name, $text) = @$_;
	$text =~ s/SIGHTINGS/$sightings/g;
	open my $fh, '>', "$dir/$name.sql" or die;
	print $fh $text;
	close $fh;
}

# an error client's psql script: tenant t<n>; every failure followed by a check
sub error_script
{
	my ($n, $iters, $strict) = @_;
	my $set = sub {
		my ($t) = @_;
		return $strict ? "SELECT tenant_rls.set_tenant_signed('$tok{$t}')" : "SELECT tenant_rls.set_tenant('t$t')";
	};
	my $me = $set->($n);
	my $chk = q{SELECT 'CHK ' || coalesce(tenant_rls.current_tenant(), '-') || ' ' || coalesce(nullif(current_setting('app.current_tenant_id', true), ''), '-') || ' ' || (SELECT count(*) FROM public.docs);};
	my @s = ('\set VERBOSITY terse', '\pset tuples_only on', '\pset format unaligned');
	for my $i (1 .. $iters)
	{
		push @s,
		  'BEGIN;', "$me;", "INSERT INTO public.docs (val, stamp) VALUES (0, 't$n/err/1');", 'SELECT 1/0;', 'SELECT 1;', 'ROLLBACK;', $chk,
		  "$me, 1/0;", $chk,
		  "$me \\; INSERT INTO public.docs (val, stamp) VALUES (0, 't$n/err/1') \\; SELECT 1/0;", $chk,
		  'BEGIN;', "$me;", "INSERT INTO public.docs (val, stamp) VALUES (0, 't$n/err/1');", "INSERT INTO public.docs (id, val, stamp) VALUES (1, 0, 'x');", 'COMMIT;', $chk,
		  'BEGIN;', "$me;", 'SAVEPOINT a;', 'SELECT 1/0;', 'ROLLBACK TO SAVEPOINT a;', "SELECT 'SP ' || coalesce(tenant_rls.current_tenant(), '-');", 'ROLLBACK;', $chk,
		  'BEGIN;', "$me;", $set->(($n + 1) % $ntenants) . ';', 'ROLLBACK;', $chk,
		  'BEGIN;', "$me;", "PREPARE TRANSACTION 'p${n}_$i';", 'ROLLBACK;', $chk;
		push @s, 'BEGIN;', "SELECT tenant_rls.set_tenant('t$n', false);", 'SELECT 1/0;', 'ROLLBACK;', $chk
		  unless $strict;
	}
	return join("\n", @s) . "\n";
}
my $expected_errors = qr/division by zero|current transaction is aborted|cannot insert a non-DEFAULT value into column "id"|the tenant cannot change within a transaction in strict mode|two-phase commit is not allowed in strict mode|prepared transactions are disabled|there is no transaction in progress/;

# ---- pgbouncer: transaction pooling, 3 server connections for 20+ clients
my $bouncer = start_pgbouncer(node => $node, dir => $dir, sock => $bsock, port => $bport, pgbouncer => $pgbouncer,
	users => [ 'app', 'tblowner' ], pool_size => 3, max_client_conn => 100);
END
{
	if ($bouncer)
	{
		$bouncer->signal('KILL');
		eval { $bouncer->finish; };
	}
}
my @psql = ('psql', '-X', '-h', $bsock, '-p', $bport, '-d', 'appdb');

sub pgbench
{
	my ($user, $clients, $script, $tag) = @_;
	return IPC::Run::start(
		[ 'pgbench', '-n', '-h', $bsock, '-p', $bport, '-U', $user, '-M', 'extended',
		  '-c', $clients, '-j', 2, '-T', $secs, '-f', "$dir/$script.sql", 'appdb' ],
		'>', "$dir/$tag.out", '2>', "$dir/$tag.err");
}

sub phase
{
	my ($strict) = @_;
	my $mode = $strict ? 'strict' : 'plain';
	$node->safe_psql('postgres', "ALTER SYSTEM SET tenant_rls.strict = " . ($strict ? 'on' : 'off'));
	$node->reload;
	$node->poll_query_until('appdb', "SELECT in_force = " . ($strict ? 'true' : 'false') . " FROM tenant_rls.strict_status()")
	  or die 'reload not seen';
	unlink $sightings;
	my $main = pgbench('app', $ntenants, $strict ? 'signed' : 'plain', "main_$mode");
	my $gr = pgbench('tblowner', 1, 'granter', "granter_$mode");
	my @err;
	for my $n ($ntenants, $ntenants + 1)
	{
		open my $f, '>', "$dir/err${n}_$mode.sql" or die;
		print $f error_script($n, 6 * $secs, $strict);
		close $f;
		push @err, [ $n, IPC::Run::start([ @psql, '-U', 'app', '-f', "$dir/err${n}_$mode.sql" ],
			'>', "$dir/err${n}_$mode.out", '2>', "$dir/err${n}_$mode.err") ];
	}
	# the abandoning client, t<ntenants + 2>
	my $set = $strict ? "SELECT tenant_rls.set_tenant_signed('$tok{$ntenants + 2}')"
	  : "SELECT tenant_rls.set_tenant('t" . ($ntenants + 2) . "')";
	my ($abandoned, $t0) = (0, time);
	while (time - $t0 < $secs - 1)
	{
		my ($o, $e);
		IPC::Run::run([ @psql, '-U', 'app', '-c', 'BEGIN', '-c', $set, '-c', 'SELECT 1/0' ], '>', \$o, '2>', \$e);
		IPC::Run::run([ @psql, '-U', 'app', '-c', 'BEGIN', '-c', $set, '-c',
			"INSERT INTO public.docs (val, stamp) VALUES (0, 't" . ($ntenants + 2) . "/err/1')" ], '>', \$o, '2>', \$e);
		my $h = IPC::Run::start([ @psql, '-U', 'app', '-c', 'BEGIN', '-c', $set, '-c', 'SELECT pg_sleep(5)' ],
			'>', \$o, '2>', \$e);
		select(undef, undef, undef, 0.3);
		$h->signal('KILL');
		eval { $h->finish; };
		$abandoned += 3;
	}
	ok($abandoned > 0, "$mode: $abandoned transactions abandoned (aborted, open, killed)");

	for ([ $main, "main_$mode" ], [ $gr, "granter_$mode" ])
	{
		my ($h, $tag) = @$_;
		my $exited_0 = $h->finish;
		my $out = slurp_file("$dir/$tag.out");
		my @bad = grep { !/NOTICE|^progress/ } split /\n/, slurp_file("$dir/$tag.err");
		ok($exited_0, "$mode: pgbench $tag exits 0");
		is(join("\n", @bad), '', "$mode: pgbench $tag: no client error, no aborted client");
		like($out, qr/number of transactions actually processed: [1-9]/, "$mode: pgbench $tag ran transactions");
	}
	for (@err)
	{
		my ($n, $h) = @$_;
		$h->finish;
		my @out = split /\n/, slurp_file("$dir/err${n}_$mode.out");
		my @chk = grep { /^CHK/ } @out;
		ok(@chk >= 6 * $secs * 5, "$mode: error client t$n ran its checks (" . scalar(@chk) . ')');
		is(join("\n", grep { $_ ne 'CHK - - 0' } @chk), '', "$mode: error client t$n: no tenant, no row after any failure");
		is(join("\n", grep { /^SP/ && $_ ne "SP t$n" } @out), '', "$mode: error client t$n: ROLLBACK TO SAVEPOINT keeps the tenant");
		my @unexpected = grep { /ERROR|WARNING|FATAL/ && !/$expected_errors/ } split /\n/, slurp_file("$dir/err${n}_$mode.err");
		is(join("\n", @unexpected), '', "$mode: error client t$n: only the errors it provoked");
		# (in strict mode it is strict mode that refuses PREPARE TRANSACTION,
		# before PostgreSQL's own max_prepared_transactions = 0 would)
		my $err_text = slurp_file("$dir/err${n}_$mode.err");
		if ($strict)
		{
			ok($err_text =~ /two-phase commit is not allowed in strict mode/ && $err_text !~ /prepared transactions are disabled/,
				"$mode: error client t$n: PREPARE TRANSACTION refused by strict mode");
		}
		else
		{
			like($err_text, qr/prepared transactions are disabled/, "$mode: error client t$n: PREPARE TRANSACTION refused by PostgreSQL");
		}
	}
	my $s = -e $sightings ? slurp_file($sightings) : '';
	is($s, '', "$mode: no pgbench transaction saw a tenant or a row it should not");
}

phase(0);
phase(1);

# a pipeline without BEGIN: the tenant lasts until the Sync, never beyond
{
	my $h = pgbench('app', $ntenants, 'pipeline', 'pipeline');
	$h->finish;
	my @bad = grep { !/NOTICE|WARNING|DETAIL|HINT|^progress/ } split /\n/, slurp_file("$dir/pipeline.err");
	is(join("\n", @bad), '', 'pipeline: no client error (assert_clean/assert_only)');
	like(slurp_file("$dir/pipeline.out"), qr/number of transactions actually processed: [1-9]/, 'pipeline: ran');
}
$bouncer->signal('INT');
$bouncer->finish;
undef $bouncer;

# ---- the audit log
my $audit = $node->safe_psql('appdb', q{
SELECT 'verify_bad=' || count(*) FILTER (WHERE NOT ok) || ' chains=' || count(*) FROM tenant_rls.audit_verify();
SELECT 'misattributed=' || count(*) FROM tenant_rls.audit_log l
WHERE l.table_name = 'docs' AND coalesce(l.new_row->>'stamp', '') NOT LIKE '%:seed' AND NOT coalesce(CASE l.operation
  WHEN 'INSERT' THEN l.tenant = l.new_row->>'tenant_id' AND l.context_tenant = l.tenant
                     AND split_part(l.new_row->>'stamp', '/', 1) = l.tenant AND l.db_user = 'app'
  WHEN 'UPDATE' THEN coalesce(split_part(l.new_row->>'stamp', '/', 1), l.tenant) = l.context_tenant AND l.db_user = 'app'
                     AND (l.tenant = l.context_tenant OR (l.tenant = 't2' AND l.context_tenant = 't3'))
  WHEN 'DELETE' THEN l.tenant = l.old_row->>'tenant_id' AND l.context_tenant = l.tenant AND l.db_user = 'app'
  END, false);
SELECT 'events_misattributed=' || count(*) FROM tenant_rls.audit_log l WHERE l.table_name = 'events'
  AND NOT coalesce(l.tenant = split_part(l.new_row->>'stamp', '/', 1) AND l.context_tenant = l.tenant AND l.new_row->>'stamp' LIKE '%/ev/0', false);
SELECT 'rolled_back_logged=' || count(*) FROM tenant_rls.audit_log l
WHERE coalesce(l.new_row->>'stamp', '') ~ '/(ins|upd|gw|ev)/1|/(sp|err)/';
SELECT 'rolled_back_rows=' || (SELECT count(*) FROM public.docs WHERE stamp ~ '/(ins|upd|gw)/1|/(sp|err)/')
  + (SELECT count(*) FROM public.events WHERE stamp !~ '/ev/0$');
SELECT 'rows_without_insert_entry=' || count(*) FROM public.docs d
WHERE d.stamp NOT LIKE '%:seed' AND NOT EXISTS (SELECT 1 FROM tenant_rls.audit_log l
  WHERE l.table_name = 'docs' AND l.operation = 'INSERT' AND l.row_pk = jsonb_build_object('id', d.id) AND l.tenant = d.tenant_id);
SELECT 'grantee_writes=' || sign(count(*)) FROM tenant_rls.audit_log l WHERE l.tenant = 't2' AND l.context_tenant = 't3';
});
is($audit, "verify_bad=0 chains=" . ($ntenants + 4) . "
misattributed=0
events_misattributed=0
rolled_back_logged=0
rolled_back_rows=0
rows_without_insert_entry=0
grantee_writes=1", 'audit log: verified, every entry attributed to the tenant that made it, nothing rolled back in it');

$node->stop;
done_testing();
