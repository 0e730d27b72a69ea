# The signing key and the statement texts other roles can read: a superuser
# sets or rotates the key with SQL (ALTER SYSTEM, SET, set_config() in a DO
# block, a query, EXPLAIN, CREATE TABLE AS or COPY, EXECUTE of a prepared
# statement) and then leaves the
# session idle.  pg_stat_activity keeps showing an idle session's last
# statement, to pg_read_all_stats (pg_monitor: monitoring agents, not
# superusers), and pg_stat_statements keeps utility statements verbatim.
# A monitoring role must not find the key in either.
#
# Tokens (review revctx #2): pg_stat_activity shows a session's statement to
# every session of the same role, i.e. to all the tenants of a shared
# application role, and pg_stat_statements shows a role its own utility
# statements verbatim.  A token passed as a literal must be in neither.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Encode;

my $node = PostgreSQL::Test::Cluster->new('exposure');
$node->init;
# tenant_rls after pg_stat_statements: its ProcessUtility hook runs first and
# hands pg_stat_statements the masked text
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_stat_statements,tenant_rls'
pg_stat_statements.track_utility = on
track_activity_query_size = 4096
log_statement = 'all'
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION tenant_rls;
	CREATE EXTENSION pg_stat_statements;
	CREATE ROLE monitor LOGIN;
	GRANT pg_monitor TO monitor;
});
is($node->safe_psql('postgres', q{SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = 'monitor'}),
	'f', 'monitor is neither superuser nor BYPASSRLS');

# what the monitoring role sees of the other sessions, while the superuser's
# session is idle (psql runs \! between two statements)
my $peek = q{\! psql -XAtq -U monitor -d postgres -c "SELECT state || ': ' || query FROM pg_stat_activity WHERE usename = 'postgres' AND state = 'idle' AND query <> ''"};

my $masked = qr/idle: [^\n]*signing_key[^\n]*\*\*\*\*/;
my @cases = (
	[ 'ALTER SYSTEM SET', 'key-alter-system-0123456789abcdef0123456789',
	  q{ALTER SYSTEM SET tenant_rls.signing_key_previous = '%s';}, $masked ],
	[ 'SET', 'key-set-0123456789abcdef0123456789abcdef',
	  q{SET tenant_rls.signing_key = '%s';}, $masked ],
	[ 'set_config() in a DO block', 'key-do-block-0123456789abcdef0123456789',
	  q{DO $$ BEGIN PERFORM set_config('tenant_rls.signing_key', '%s', false); END $$;}, $masked ],
	[ 'set_config() in a query', 'key-select-0123456789abcdef0123456789abcd',
	  q{SELECT set_config('tenant_rls.signing_key', '%s', false) IS NOT NULL AS set;}, $masked ],
	[ 'the second statement of a multi-statement query', 'key-multi-statement-0123456789abcdef012345',
	  q{SELECT 1 AS first \; SET tenant_rls.signing_key = '%s';}, $masked ],
	# utility statements pg_stat_statements keeps verbatim (review revctx #4)
	[ 'EXPLAIN ANALYZE', 'key-explain-0123456789abcdef0123456789ab',
	  q{EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT set_config('tenant_rls.signing_key', '%s', false) IS NOT NULL;}, $masked ],
	[ 'CREATE TABLE AS', 'key-ctas-0123456789abcdef0123456789abcdef',
	  q{CREATE TEMP TABLE k AS SELECT set_config('tenant_rls.signing_key', '%s', false) IS NOT NULL AS set;}, $masked ],
	# PREPARE analyses its query again, and pg_stat_statements lexes the text
	[ 'PREPARE', 'key-prepare-0123456789abcdef0123456789ab',
	  q{PREPARE setkey2 AS SELECT set_config('tenant_rls.signing_key', '%s', false) IS NOT NULL, 1.5e3 AS n, E'a\\'b' AS s /* c */;}, $masked ],
	[ 'COPY (query)', 'key-copy-0123456789abcdef0123456789abcdef',
	  q{COPY (SELECT set_config('tenant_rls.signing_key', '%s', false) IS NOT NULL) TO STDOUT;}, $masked ],
	# a key before the setting's name (review rev30b): the constants before it are masked too
	[ 'a key in a DO block variable, before the name', 'key-do-before-0123456789abcdef0123456789',
	  q{DO $$ DECLARE k text := '%s'; BEGIN PERFORM set_config('tenant_rls.signing_key', k, false); END $$;}, $masked ],
	[ 'a key in a WITH query, before the name', 'key-with-before-0123456789abcdef012345678',
	  q{WITH k(v) AS (VALUES ('%s')) SELECT set_config('tenant_rls.signing_key', v, false) IS NOT NULL AS set FROM k;}, $masked ],
	[ 'EXECUTE of a prepared statement', 'key-execute-0123456789abcdef0123456789ab',
	  qq{PREPARE setkey(text) AS SELECT set_config('tenant_rls.signing_key', \$1, false) IS NOT NULL;\nEXECUTE setkey('%s');},
	  qr/idle: EXECUTE setkey\(\*+/ ],
);

for my $c (@cases)
{
	my ($name, $key, $sql, $shown) = @$c;
	my ($ret, $out, $err) = $node->psql('postgres', sprintf($sql, $key) . "\n$peek\n");
	is($ret, 0, "$name: ran") or diag("err=$err");
	unlike($out, qr/\Q$key\E/, "$name: the key is not in pg_stat_activity of the idle session");
	like($out, $shown, "$name: pg_stat_activity shows the statement, masked")
	  or diag("out=$out");
}
$node->safe_psql('postgres', 'ALTER SYSTEM RESET tenant_rls.signing_key_previous');

# a statement run inside another that names the setting and fails: its text
# is the CONTEXT (EXECUTE in a DO block, a procedure that rotates the key) or
# the QUERY of the error, and the new key is not configured yet (review
# rev30b): not in the log
{
	my @nested = (
		[ 'ALTER SYSTEM in a DO block', 'key-nested-alter-0123456789abcdef01234567',
		  q{DO $$ BEGIN EXECUTE 'ALTER SYSTEM SET tenant_rls.signing_key = ''%s'''; END $$;} ],
		[ 'a procedure that rotates the key', 'key-nested-proc-0123456789abcdef012345678',
		  q{CALL public.rotate_key('%s');} ],
		[ 'a failing query in a DO block', 'key-nested-query-0123456789abcdef01234567',
		  q{DO $$ BEGIN PERFORM set_config('tenant_rls.signing_key', '%s', false) FROM no_such_table; END $$;} ],
	);
	$node->safe_psql('postgres', q{CREATE PROCEDURE public.rotate_key(k text) LANGUAGE plpgsql
		AS $$ BEGIN EXECUTE format('ALTER SYSTEM SET tenant_rls.signing_key = %L', k); END $$});
	my $log_from = -s $node->logfile;
	for my $c (@nested)
	{
		my ($name, $key, $sql) = @$c;
		my ($ret, $out, $err) = $node->psql('postgres', sprintf($sql, $key), on_error_stop => 0);
		like($err, qr/ERROR/, "$name: fails");
		# (the CALL passes the key without naming the setting: a documented
		# limit, log_statement logs it and pg_stat_statements keeps it)
		push @cases, [ $name, $key ] unless $sql =~ /^CALL/;
	}
	my $log = substr(PostgreSQL::Test::Utils::slurp_file($node->logfile), $log_from);
	for my $c (@nested)
	{
		my ($name, $key, $sql) = @$c;
		if ($sql =~ /^CALL/)
		{
			unlike($log, qr/(?:ERROR|CONTEXT|QUERY|STATEMENT):[^\n]*\Q$key\E/,
				"$name: the key is not in the error's lines of the server log");
		}
		else
		{
			unlike($log, qr/\Q$key\E/, "$name: the key is not in the server log");
		}
	}
	like($log, qr/ERROR:  ALTER SYSTEM cannot be executed from a function\n[^\n]*CONTEXT:  \[not logged: it mentions tenant_rls\.signing_key\]/,
		'... the CONTEXT of the failing ALTER SYSTEM is logged as not logged') or diag($log);
	like($log, qr/QUERY:  \[not logged: it mentions tenant_rls\.signing_key\]/,
		'... and the QUERY of the failing query') or diag($log);
}

# statements that fail before they run (parser, parse analysis) never reach
# the executor or utility hooks; a statement that names the setting so the text
# does not show it (U&"...") is masked whole
my @failing = (
	[ 'a syntax error', 'key-syntax-error-0123456789abcdef0123456789',
	  q{SET tenant_rls.signing_key TO '%s' garbage;}, $masked ],
	[ 'an unknown table', 'key-no-table-0123456789abcdef0123456789ab',
	  q{SELECT set_config('tenant_rls.signing_key', '%s', false) FROM no_such_table;}, $masked ],
	[ 'a Unicode-escaped name', 'key-unicode-name-0123456789abcdef01234567',
	  q{SET tenant_rls.U&"signing\005fkey" = '%s';}, qr/idle: \*+/ ],
);
for my $c (@failing)
{
	my ($name, $key, $sql, $shown) = @$c;
	my ($ret, $out, $err) = $node->psql('postgres', sprintf($sql, $key) . "\n$peek\n", on_error_stop => 0);
	unlike($out, qr/\Q$key\E/, "$name: the key is not in pg_stat_activity of the idle session");
	like($out, $shown, "$name: pg_stat_activity shows the statement, masked")
	  or diag("out=$out err=$err");
	push @cases, $c;
}

# a role that cannot set a key does not hide its statements from monitoring by
# naming the setting in a comment
$node->safe_psql('postgres', 'CREATE ROLE app LOGIN');
{
	my $peek_app = $peek =~ s/usename = 'postgres'/usename = 'app'/r;
	my ($ret, $out, $err) = $node->psql('postgres',
		"SELECT 'hidden?' /* tenant_rls.signing_key */;\n$peek_app\n",
		extra_params => [ '-U', 'app' ]);
	like($out, qr{idle: SELECT 'hidden\?' /\* tenant_rls\.signing_key \*/}, 'a statement of a role that cannot set a key is not masked')
	  or diag("out=$out err=$err");
	$node->psql('postgres', "DO \$\$ BEGIN PERFORM 'hidden' /* tenant_rls.signing_key */; END \$\$;",
		extra_params => [ '-U', 'app' ]);
}

# --- tokens passed as literals, seen by another session of the same role
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET tenant_rls.signing_key = 'token-test-key-0123456789abcdef0123456789';
	SELECT pg_reload_conf();
	GRANT USAGE ON SCHEMA tenant_rls TO app;
	CREATE PROCEDURE public.with_token(t text) LANGUAGE plpgsql
		AS $$ BEGIN PERFORM tenant_rls.set_tenant_signed(t); END $$;
	GRANT EXECUTE ON PROCEDURE public.with_token(text) TO app;
	CREATE FUNCTION public.with_token_fn(t text) RETURNS text LANGUAGE sql
		AS $$ SELECT tenant_rls.set_tenant_signed(substr(t, 8)) $$;
	GRANT EXECUTE ON FUNCTION public.with_token_fn(text) TO app;
});
$node->poll_query_until('postgres', q{SELECT current_setting('tenant_rls.signing_key') <> ''})
  or die 'reload not seen';
my $peek_same = q{\! psql -XAtq -U app -d postgres -c "SELECT state || ': ' || query FROM pg_stat_activity WHERE usename = current_user AND pid <> pg_backend_pid() AND query <> ''"};
my @token_cases = (
	[ 'a literal, idle in transaction',
	  qq{BEGIN;\nSELECT tenant_rls.set_tenant_signed('%s') AS tenant, 'after' AS visible;\n$peek_same\nCOMMIT;},
	  qr/^idle in transaction: SELECT tenant_rls\.set_tenant_signed\('\*+'\) AS tenant, '\*\*\*\*\*' AS visible;?$/m ],
	[ 'a literal in a multi-statement string, idle',
	  qq{SELECT 1 AS first \\; SELECT TENANT_RLS.Set_Tenant_Signed ( /* c */ E'%s' ) IS NOT NULL \\; SELECT 'then';\n$peek_same},
	  qr/^idle: SELECT 1 AS first\s*;\s*SELECT TENANT_RLS\.Set_Tenant_Signed \( \/\* \* \*\/ E'\*+' \) IS NOT NULL\s*;\s*SELECT '\*\*\*\*';?$/m ],
	[ 'EXECUTE of a prepared statement',
	  qq{PREPARE withtok(text) AS SELECT tenant_rls.set_tenant_signed(\$1);\nBEGIN;\nEXECUTE withtok('%s');\n$peek_same\nCOMMIT;},
	  qr/^idle in transaction: EXECUTE withtok\('\*+'\);?$/m ],
	[ 'a DO block',
	  qq{BEGIN;\nDO \$\$ BEGIN PERFORM tenant_rls.set_tenant_signed(\$tok\$%s\$tok\$); END \$\$;\n$peek_same\nCOMMIT;},
	  qr/^idle in transaction: DO \$\$ BEGIN PERFORM tenant_rls\.set_tenant_signed\(\$tok\$\*+\$tok\$\); END \$\$;?$/m ],
	[ 'EXPLAIN ANALYZE',
	  qq{BEGIN;\nEXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT tenant_rls.set_tenant_signed('%s');\n$peek_same\nCOMMIT;},
	  qr/^idle in transaction: EXPLAIN \(ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF\) SELECT tenant_rls\.set_tenant_signed\('\*+'\);?$/m ],
	[ 'PREPARE with the token as a literal',
	  qq{BEGIN;\nPREPARE withlit AS SELECT tenant_rls.set_tenant_signed('%s');\n$peek_same\nEXECUTE withlit;\nCOMMIT;},
	  qr/^idle in transaction: PREPARE withlit AS SELECT tenant_rls\.set_tenant_signed\('\*+'\);?$/m ],
	[ 'a failing statement',
	  qq{SELECT tenant_rls.set_tenant_signed('%s') FROM no_such_table;\n$peek_same},
	  qr/^idle: SELECT tenant_rls\.set_tenant_signed\('\*+'\) FROM no_such_table;?$/m ],
	[ 'a literal the call reads from VALUES',
	  qq{BEGIN;\nSELECT tenant_rls.set_tenant_signed(t) FROM (VALUES ('%s')) v(t);\n$peek_same\nCOMMIT;},
	  qr/^idle in transaction: SELECT tenant_rls\.set_tenant_signed\(t\) FROM \(VALUES \('\*+'\)\) v\(t\);?$/m ],
	[ 'a dollar-quoted literal the call reads from VALUES',
	  qq{BEGIN;\nSELECT tenant_rls.set_tenant_signed(t) FROM (VALUES (\$t\$%s\$t\$)) v(t);\n$peek_same\nCOMMIT;},
	  qr/^idle in transaction: SELECT tenant_rls\.set_tenant_signed\(t\) FROM \(VALUES \(\$t\$\*+\$t\$\)\) v\(t\);?$/m ],
	[ 'a dollar-quoted constant in a DO block',
	  qq{BEGIN;\nDO \$\$ DECLARE t text := \$q\$%s\$q\$; BEGIN PERFORM tenant_rls.set_tenant_signed(t); END \$\$;\n$peek_same\nCOMMIT;},
	  qr/^idle in transaction: DO \$\$ DECLARE t text := \$q\$\*+\$q\$; BEGIN PERFORM tenant_rls\.set_tenant_signed\(t\); END \$\$;?$/m ],
	[ 'a call in a string a DO block EXECUTEs',
	  qq{BEGIN;\nDO \$\$ BEGIN EXECUTE 'SELECT tenant_rls.set_tenant_signed(''%s'')'; END \$\$;\n$peek_same\nCOMMIT;},
	  qr/^idle in transaction: DO \$\$ BEGIN EXECUTE '[* ]+'; END \$\$;?$/m ],
	# a token passed to a procedure or function of the application's is
	# recognised by its form (CALL is a utility statement, which
	# pg_stat_statements keeps verbatim)
	[ 'CALL of a procedure of yours',
	  qq{BEGIN;\nCALL public.with_token('%s');\n$peek_same\nCOMMIT;},
	  qr/^idle in transaction: CALL public\.with_token\('\*+'\);?$/m ],
	[ 'a function of yours, the token inside a longer string',
	  qq{BEGIN;\nSELECT public.with_token_fn('Bearer %s') AS visible;\n$peek_same\nCOMMIT;},
	  qr/^idle in transaction: SELECT public\.with_token_fn\('Bearer \*+'\) AS visible;?$/m ],
	[ 'a token in a comment, after a slash',
	  qq{BEGIN;\nSELECT 1 AS visible /* https://example.com/%s/ */;\n$peek_same\nCOMMIT;},
	  qr{^idle in transaction: SELECT 1 AS visible /\* https://example\.com/A\*+[A-Za-z0-9_-]/ \*/;?$}m ],
);
my @tokens;
for my $c (@token_cases)
{
	my ($name, $sql, $shown) = @$c;
	my $tok = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('acme', '1 hour')});
	push @tokens, [ $name, $tok ];
	my ($ret, $out, $err) = $node->psql('postgres', sprintf($sql, $tok),
		extra_params => [ '-U', 'app' ], on_error_stop => 0);
	unlike($out, qr/\Q$tok\E/, "token, $name: another session of the role does not see it in pg_stat_activity")
	  or diag("out=$out err=$err");
	unlike($err, qr/ERROR/, "token, $name: runs (the masked text lexes)")
	  unless $name eq 'a failing statement';
	like($out, $shown, "token, $name: it sees the statement, the arguments masked")
	  or diag("out=$out err=$err");
}
# the extended protocol (Parse, Bind, Execute: what most drivers send even
# for a literal): PostgreSQL reports the plain text again at Parse and at each
# Execute; pgbench -M extended / -M prepared, then idle in \sleep (review
# rev15d: the token stayed readable after Execute, and after a Parse alone)
for my $mode ('extended', 'prepared')
{
	my $tok = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('acme', '1 hour')});
	my $script = $node->basedir . "/ext_$mode.sql";
	PostgreSQL::Test::Utils::append_to_file($script,
		"SELECT tenant_rls.set_tenant_signed('$tok') AS ext_$mode;\n\\sleep 30 s\n");
	my ($o, $e) = ('', '');
	my $h = IPC::Run::start(
		[ 'pgbench', '-n', '-M', $mode, '-t', '1', '-f', $script,
		  '-h', $node->host, '-p', $node->port, '-U', 'app', 'postgres' ],
		'>', \$o, '2>', \$e);
	$node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM pg_stat_activity WHERE usename = 'app' AND state = 'idle' AND query LIKE '%ext_$mode%'")
	  or diag("pgbench: $o $e");
	my $seen = $node->safe_psql('postgres',
		"SELECT query FROM pg_stat_activity WHERE usename = current_user AND pid <> pg_backend_pid() AND query LIKE '%ext_$mode%'",
		extra_params => [ '-U', 'app' ]);
	push @tokens, [ "extended protocol ($mode)", $tok ];
	unlike($seen, qr/\Q$tok\E/, "token, extended protocol ($mode): another session of the role does not see it");
	like($seen, qr/set_tenant_signed\('\*+'\) AS ext_$mode/, "token, extended protocol ($mode): it sees the statement, masked")
	  or diag("seen=$seen");
	$h->kill_kill;
}
# utility statements with the extended protocol (review revcode17 F1): with
# Parse/Bind/Execute, pg_stat_activity gets a copy of the portal's text, and
# CALL, DO and SET were taken for nested statements and never masked: the
# token or key stayed there while the session was idle in transaction.
# Runs $sql (BEGIN; <statement>; \sleep; COMMIT) with pgbench -M $mode as
# $user (undef: the cluster owner), and returns what $observer (likewise)
# sees of the session in pg_stat_activity while it is idle in transaction.
# With $runs (default 1), the transaction runs $runs times and sleeps the
# last time (each Bind and Execute of a prepared statement starts a new
# statement).
sub idle_in_block_seen
{
	my ($marker, $sql, $mode, $user, $observer, $runs) = @_;
	$runs //= 1;
	my $script = $node->basedir . "/$marker.sql";
	PostgreSQL::Test::Utils::append_to_file($script,
		"\\set n :n + 1\nBEGIN;\n$sql\n\\if :n = $runs\n\\sleep 30 s\n\\endif\nCOMMIT;\n");
	my ($o, $e) = ('', '');
	my $h = IPC::Run::start(
		[ 'pgbench', '-n', '-M', $mode, '-t', $runs, '-D', 'n=0', '-f', $script,
		  '-h', $node->host, '-p', $node->port, (defined $user ? ('-U', $user) : ()), 'postgres' ],
		'>', \$o, '2>', \$e);
	my $where = "state = 'idle in transaction' AND query LIKE '%$marker%'";
	$node->poll_query_until('postgres', "SELECT count(*) > 0 FROM pg_stat_activity WHERE $where")
	  or diag("$marker: pgbench: $o $e");
	my $seen = $node->safe_psql('postgres',
		"SELECT query FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND $where",
		extra_params => [ defined $observer ? ('-U', $observer) : () ]);
	$h->kill_kill;
	return $seen;
}
for my $mode ('extended', 'prepared')
{
	my $tok = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('acme', '1 hour')});
	push @tokens, [ "CALL, extended protocol ($mode)", $tok ];
	my $seen = idle_in_block_seen("ext_call_$mode",
		"CALL public.with_token('$tok') /* ext_call_$mode */;", $mode, 'app', 'app');
	unlike($seen, qr/\Q$tok\E/, "token, CALL with the extended protocol ($mode), idle in transaction: another session of the role does not see it");
	like($seen, qr/^CALL public\.with_token\('\*+'\) \/\* ext_call_$mode \*\/;?$/, "token, CALL with the extended protocol ($mode): it sees the statement, masked")
	  or diag("seen=$seen");

	$tok = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('acme', '1 hour')});
	push @tokens, [ "DO, extended protocol ($mode)", $tok ];
	$seen = idle_in_block_seen("ext_do_$mode",
		"DO \$\$ BEGIN PERFORM 1 /* $tok */; END \$\$ /* ext_do_$mode */;", $mode, 'app', 'app');
	unlike($seen, qr/\Q$tok\E/, "token, DO with the extended protocol ($mode), idle in transaction: another session of the role does not see it");
	like($seen, qr/^DO \$\$ BEGIN PERFORM 1 \/\* \*+ \*\/; END \$\$ \/\* ext_do_$mode \*\/;?$/, "token, DO with the extended protocol ($mode): it sees the statement, masked")
	  or diag("seen=$seen");

	my $key = "key-set-local-$mode-0123456789abcdef0123456789";
	push @cases, [ "SET LOCAL, extended protocol ($mode)", $key ];
	$seen = idle_in_block_seen("ext_key_$mode",
		"/* ext_key_$mode */ SET LOCAL tenant_rls.signing_key = '$key';", $mode, 'postgres', 'monitor');
	unlike($seen, qr/\Q$key\E/, "SET LOCAL signing_key with the extended protocol ($mode), idle in transaction: not in pg_stat_activity");
	like($seen, qr/^\/\* ext_key_$mode \*\/ SET LOCAL tenant_rls\.signing_key \*+/, "SET LOCAL signing_key with the extended protocol ($mode): the statement shows, masked")
	  or diag("seen=$seen");
}
# the same statement run again (each Bind and Execute of a prepared
# statement, the same query sent again): the check and the masked text of its
# first run are reused, recognised by the text; the third run sleeps, and
# another session of the role sees it masked
for my $mode ('simple', 'extended', 'prepared')
{
	my $tok = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('acme', '1 hour')});
	my $seen = idle_in_block_seen("again_$mode",
		"SELECT tenant_rls.set_tenant_signed('$tok') AS again_$mode;", $mode, 'app', 'app', 3);
	push @tokens, [ "the same statement a third time ($mode)", $tok ];
	unlike($seen, qr/\Q$tok\E/, "token, the same statement a third time ($mode): another session of the role does not see it");
	like($seen, qr/^SELECT tenant_rls\.set_tenant_signed\('\*+'\) AS again_$mode;?$/,
		"token, the same statement a third time ($mode): it sees the statement, masked")
	  or diag("seen=$seen");
}
# a statement prepared with the extended protocol (a Parse message, named:
# pgbench -M prepared, most drivers' prepared statements) keeps its text in
# pg_prepared_statements for the life of the connection -- behind a pooler,
# to the next clients of the server connection (review rev25a): masked there
# too, for a token and for a key
{
	$node->safe_psql('postgres', q{CREATE TABLE public.prepared_seen (who text, name text, statement text);
		GRANT INSERT ON public.prepared_seen TO app});
	my $tok = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('acme', '1 hour')});
	my $key = 'key-parse-message-0123456789abcdef0123456789';
	my %script = (
		app => "SELECT tenant_rls.set_tenant_signed('$tok') AS prep_tok;\n",
		postgres => "SELECT set_config('tenant_rls.signing_key', '$key', false) AS prep_key;\n");
	for my $who ('app', 'postgres')
	{
		my $file = $node->basedir . "/prep_$who.sql";
		PostgreSQL::Test::Utils::append_to_file($file, $script{$who}
			. "INSERT INTO public.prepared_seen SELECT '$who', name, statement FROM pg_prepared_statements;\n");
		my ($o, $e) = ('', '');
		my $out = IPC::Run::run(
			[ 'pgbench', '-n', '-M', 'prepared', '-t', '1', '-f', $file,
			  '-h', $node->host, '-p', $node->port, '-U', $who, 'postgres' ],
			'>', \$o, '2>', \$e);
		ok($out, "pgbench -M prepared as $who") or diag("$o $e");
	}
	my $seen = $node->safe_psql('postgres', q{SELECT who || ': ' || statement FROM public.prepared_seen ORDER BY 1});
	unlike($seen, qr/\Q$tok\E/, 'token, named statement of the extended protocol: not in pg_prepared_statements');
	like($seen, qr/app: SELECT tenant_rls\.set_tenant_signed\('\*+'\) AS prep_tok/,
		'token, named statement: pg_prepared_statements shows it masked') or diag("seen=$seen");
	unlike($seen, qr/\Q$key\E/, 'key, named statement of the extended protocol: not in pg_prepared_statements');
	like($seen, qr/postgres: SELECT set_config\('tenant_rls\.signing_key', '\*+'/,
		'key, named statement: pg_prepared_statements shows it masked') or diag("seen=$seen");
	push @tokens, [ 'named statement of the extended protocol', $tok ];
	push @cases, [ 'named statement of the extended protocol', $key ];
}
# a plan shows its constants: EXPLAIN (VERBOSE) EXECUTE of a statement
# prepared with a token showed it, where pg_prepared_statements shows it
# masked; and PostgreSQL gives PREPARE and DECLARE CURSOR the whole client
# message as their text, the other statements of a multi-statement string
# included, token and all (review rev46a: behind a pooler without a reset,
# the next client of the server connection read the token and replayed it)
{
	my $tok = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('acme', '1 hour')});
	my ($ret, $out, $err) = $node->psql('postgres',
		"PREPARE s_tok AS SELECT tenant_rls.set_tenant_signed('$tok');\n"
		. "EXPLAIN (VERBOSE, COSTS OFF) EXECUTE s_tok;\n"
		. "EXPLAIN (VERBOSE, COSTS OFF, FORMAT JSON) EXECUTE s_tok;\n"
		. "EXPLAIN (VERBOSE, COSTS OFF, FORMAT XML) EXECUTE s_tok;\n",
		extra_params => [ '-U', 'app' ]);
	push @tokens, [ 'EXPLAIN (VERBOSE) EXECUTE', $tok ];
	unlike($out, qr/\Q$tok\E/, 'token, EXPLAIN (VERBOSE) EXECUTE: not in the plan, in any format')
	  or diag("out=$out err=$err");
	like($out, qr/Output: tenant_rls\.set_tenant_signed\('\*+'::text\)/,
		'token, EXPLAIN (VERBOSE) EXECUTE: the plan shows it masked') or diag("out=$out err=$err");
	# the key of a statement prepared to set it, as in pg_prepared_statements;
	# and the masking stays in the constant: the JSON and XML still parse
	# (review rev46e: a constant ending in "set_tenant_signed(" had
	# everything up to the next quote of the document masked)
	my $ekey = 'key-explain-0123456789abcdef0123456789';
	($ret, $out, $err) = $node->psql('postgres',
		"PREPARE s_key AS SELECT set_config('tenant_rls.signing_key', '$ekey', false);\n"
		. "EXPLAIN (VERBOSE, COSTS OFF) EXECUTE s_key;\n"
		. "EXPLAIN (VERBOSE, COSTS OFF, FORMAT JSON) EXECUTE s_key;\n");
	unlike($out, qr/\Q$ekey\E/, 'key, EXPLAIN (VERBOSE) EXECUTE: not in the plan') or diag("out=$out err=$err");
	like($out, qr/set_config\('\*+'\*+'\*+'::text, false\)/, '... the plan shows it masked') or diag("out=$out err=$err");
	push @cases, [ 'EXPLAIN (VERBOSE) EXECUTE', $ekey ];
	is($node->safe_psql('postgres', q{
		CREATE FUNCTION pg_temp.plan(fmt text) RETURNS text LANGUAGE plpgsql AS $f$
		DECLARE p text;
		BEGIN
			EXECUTE format('EXPLAIN (VERBOSE, COSTS OFF, FORMAT %s) SELECT ''call set_tenant_signed('' || relname, relkind FROM pg_class WHERE relname = ''x''', fmt) INTO p;
			RETURN p;
		END $f$;
		SELECT pg_temp.plan('json')::jsonb IS NOT NULL, xml_is_well_formed_document(pg_temp.plan('xml')),
		       pg_temp.plan('json')::jsonb #>> '{0,Plan,Output,1}'}), "t|t|relkind",
		'EXPLAIN of a constant that ends in "set_tenant_signed(": JSON and XML well formed, the next output column intact');
	# ... and in YAML and text the masking stays in the constant too; a key
	# whose name and value land on different plan lines, or a key with a
	# newline, is masked whole: the statement explained names the key
	# (review rev46g)
	my $plain = $node->safe_psql('postgres', q{
		CREATE TABLE public.notes (note text, n int);
		EXPLAIN (COSTS OFF) SELECT * FROM public.notes WHERE note = 'x set_tenant_signed(' AND n = 1;
		EXPLAIN (COSTS OFF, FORMAT YAML) SELECT * FROM public.notes WHERE note = 'x set_tenant_signed(' AND n = 1;
		EXPLAIN (COSTS OFF) SELECT * FROM public.notes WHERE note = 'signing_key rotated' AND n = 1;
		DROP TABLE public.notes});
	like($plain, qr/Filter: \(\(note = 'x set_tenant_signed\('::text\) AND \(n = 1\)\)/,
		'EXPLAIN of a constant that ends in "set_tenant_signed(": text, the rest of the line intact') or diag($plain);
	like($plain, qr/Filter: "\(\(note = 'x set_tenant_signed\('::text\) AND \(n = 1\)\)"/,
		'... YAML: the value and its closing quote intact') or diag($plain);
	like($plain, qr/Filter: \(\(note = '\*+'::text\) AND \(n = 1\)\)/,
		'... a statement that names signing_key: its constants masked, the rest of the line intact') or diag($plain);
	my $k2 = 'THEKEY0123456789abcdefghijklmnopqrstuvwxyz';
	my $k3 = "KEYLINE1-0123456789abcdef\nKEYLINE2-0123456789abcdef";
	$out = $node->safe_psql('postgres', qq{
		PREPARE k2 AS WITH v AS MATERIALIZED (SELECT '$k2'::text AS val),
		                   n AS MATERIALIZED (SELECT 'tenant_rls.signing_key'::text AS name)
		  SELECT set_config(n.name, v.val, true) FROM v, n;
		EXPLAIN (VERBOSE, COSTS OFF) EXECUTE k2;
		EXPLAIN (VERBOSE, COSTS OFF) SELECT set_config('tenant_rls.signing_key', E'$k3', true);
		DEALLOCATE k2});
	unlike($out, qr/THEKEY|KEYLINE/, 'a key on another line of the plan than its name, or with a newline: masked whole')
	  or diag($out);
	push @cases, [ 'EXPLAIN, a key on another line than its name', $k2 ];
	# ... below CREATE TABLE AS EXECUTE too, and whatever apostrophes the
	# plan's names hold, quoted ("a'b") or not (CTE o'k), in every format
	# (review rev46h: read as SQL, the masking got out of step and left the
	# key between what it took for constants)
	my $k4 = 'KEYVALUE0123456789abcdefghijklmnop';
	$out = $node->safe_psql('postgres', qq{
		PREPARE k2 AS WITH v AS MATERIALIZED (SELECT '$k2'::text AS val),
		                   n AS MATERIALIZED (SELECT 'tenant_rls.signing_key'::text AS name)
		  SELECT set_config(n.name, v.val, true) FROM v, n;
		EXPLAIN (VERBOSE, COSTS OFF) CREATE TABLE never_created AS EXECUTE k2;
		CREATE TABLE public.q_names ("a'b" int);
		PREPARE k4 AS SELECT ROW(t."a'b", set_config('tenant_rls.signing_key', '$k4', true)) FROM public.q_names t;
		EXPLAIN (VERBOSE, COSTS OFF) EXECUTE k4;
		EXPLAIN (VERBOSE, COSTS OFF, FORMAT JSON) EXECUTE k4;
		EXPLAIN (VERBOSE, COSTS OFF, FORMAT YAML) EXECUTE k4;
		EXPLAIN (VERBOSE, COSTS OFF, FORMAT XML) EXECUTE k4;
		PREPARE k7 AS WITH "o'k" AS MATERIALIZED (SELECT '$k4'::text AS val)
		  SELECT set_config('tenant_rls.signing_key', val, true) FROM "o'k";
		EXPLAIN (VERBOSE, COSTS OFF) EXECUTE k7;
		DEALLOCATE k2; DEALLOCATE k4; DEALLOCATE k7; DROP TABLE public.q_names});
	unlike($out, qr/THEKEY|KEYVALUE/, 'a key in a plan of CREATE TABLE AS EXECUTE, or next to names with apostrophes: masked, in every format')
	  or diag($out);
	is($node->safe_psql('postgres', q{
		CREATE TABLE public.q_names ("a'b" int);
		PREPARE k5 AS SELECT ROW(t."a'b", set_config('tenant_rls.signing_key', 'KEYVALUE0123456789abcdefghijklmnop', true)) FROM public.q_names t;
		CREATE FUNCTION pg_temp.plan5(fmt text) RETURNS text LANGUAGE plpgsql AS $f$
		DECLARE p text;
		BEGIN
			EXECUTE format('EXPLAIN (VERBOSE, COSTS OFF, FORMAT %s) EXECUTE k5', fmt) INTO p;
			RETURN p;
		END $f$;
		SELECT pg_temp.plan5('json')::jsonb IS NOT NULL, xml_is_well_formed_document(pg_temp.plan5('xml'));
		DEALLOCATE k5; DROP TABLE public.q_names}), 't|t',
		'... and the JSON and XML of such a plan still parse');

	my $tok2 = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('acme', '1 hour')});
	my $multi = "BEGIN; SELECT tenant_rls.set_tenant_signed('$tok2'); "
	  . "DECLARE c_tok CURSOR WITH HOLD FOR SELECT 1 AS one; PREPARE p_tok AS SELECT 2 AS two; "
	  . "COMMIT; /* '$tok2' */";
	my ($o, $e) = ('', '');
	IPC::Run::run(
		[ 'psql', '-X', '-At', '-h', $node->host, '-p', $node->port, '-U', 'app', '-d', 'postgres',
		  '-c', $multi,
		  '-c', q{SELECT 'cursor: ' || statement FROM pg_cursors UNION ALL SELECT 'prepared: ' || statement FROM pg_prepared_statements} ],
		'>', \$o, '2>', \$e);
	push @tokens, [ 'a multi-statement string with PREPARE and DECLARE CURSOR', $tok2 ];
	unlike($o, qr/\Q$tok2\E/, 'token in a multi-statement string: not in pg_cursors or pg_prepared_statements')
	  or diag("out=$o err=$e");
	like($o, qr/^cursor: .*DECLARE c_tok CURSOR WITH HOLD FOR SELECT 1 AS one/m,
		'... pg_cursors shows the cursor\'s own statement') or diag("out=$o err=$e");
	like($o, qr/^prepared: .*PREPARE p_tok AS SELECT 2 AS two/m,
		'... pg_prepared_statements shows the statement\'s own') or diag("out=$o err=$e");
	# the blanks keep each character's place: an error in the PREPARE points
	# at its word, whatever the statements before it spell (review rev46e:
	# two bytes of an accented letter became two spaces, and the cursor
	# moved right)
	# (a UTF-8 database: in SQL_ASCII every byte is a character)
	$node->safe_psql('postgres', q{CREATE DATABASE utf8db ENCODING 'UTF8' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'});
	($o, $e) = ('', '');
	IPC::Run::run(
		[ 'psql', '-X', '-At', '-h', $node->host, '-p', $node->port, '-U', 'app', '-d', 'utf8db',
		  '-c', Encode::encode('UTF-8', "SELECT '" . ("\x{e9}" x 7) . "' AS accents; PREPARE p_err AS SELECT nocol FROM pg_class") ],
		'<', \'', '>', \$o, '2>', \$e);
	{
		my $err = Encode::decode('UTF-8', $e);
		my ($line, $caret) = $err =~ /^(LINE 1: .*)\n(\s*\^)/m;
		ok(defined $line && defined $caret && index($line, 'nocol') == length($caret) - 1,
			'an error in a PREPARE after a statement with multibyte characters: the cursor is under its word')
		  or diag("err=$err");
	}
}
# texts whose masked copy must not be reused (review rev18): two texts
# longer than track_activity_query_size (4096 here), equal up to the cut, the second
# with a token across it (its part before the cut is masked by what follows
# it); and the same text run again under another standard_conforming_strings,
# which decides whether '\' ends a constant (the piece after it is then an
# alias, else part of the argument, masked)
{
	my $tok = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('acme', '1 hour')});
	my $head = "SELECT '$tok' AS c, '";
	my $prefix = $head . ('p' x (4036 - length($head) - length("' AS a, '"))) . "' AS a, '";
	my $partial = substr($tok, 0, length($tok) - 2) . '!!';
	my $ta = "$prefix$partial' AS b WHERE false";
	my $tb = "$prefix$tok' AS b WHERE false";
	my $piece = substr($tok, 20, 30);
	my ($ret, $out, $err) = $node->psql('postgres', "$ta;\n$tb;\n$peek_same",
		extra_params => [ '-U', 'app' ]);
	push @tokens, [ 'a token across the cut of pg_stat_activity', $tok ];
	unlike($out, qr/\Q$piece\E/, 'token across the cut of pg_stat_activity, after a text equal up to the cut: masked')
	  or diag("out=$out err=$err");
	like($out, qr/^idle: SELECT '\*+' AS c, 'p+' AS a, '\*+$/m, '... the statement shows, masked up to the cut')
	  or diag("out=$out");

	$tok = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('acme', '1 hour')});
	my $mac = substr($tok, -43);
	my $q = "SELECT tenant_rls.set_tenant_signed('\\') AS x$mac -- ') IS NULL";
	($ret, $out, $err) = $node->psql('postgres',
		"SET standard_conforming_strings = on;\n$q\n;\nSET standard_conforming_strings = off;\n$q\n;\n$peek_same",
		extra_params => [ '-U', 'app' ], on_error_stop => 0);
	unlike($out, qr/\Q$mac\E/, 'the same text again under standard_conforming_strings = off: the part of the argument after a backslash is masked')
	  or diag("out=$out err=$err");
	like($out, qr/^idle: SELECT tenant_rls\.set_tenant_signed\('[* ]+'?\) IS NULL/m, '... the statement shows')
	  or diag("out=$out");
}
# the same for a statement naming the key setting, from a role that can set
# one (the reused check asks about the role each time): masked from the name
# on, the third time too
{
	my $seen = idle_in_block_seen('again_key',
		"SELECT /* again_key */ 'tenant_rls.signing_key = again-key-0123456789';", 'prepared', undef, undef, 3);
	unlike($seen, qr/again-key-0123456789/, 'the key setting named by a superuser, the third time: pg_stat_activity does not show what follows the name');
	like($seen, qr/^SELECT \/\* again_key \*\/ 'tenant_rls\.signing_key[ *]+$/, '... it shows the statement up to the name')
	  or diag("seen=$seen");
}
# a token bound as a parameter is in no statement text, but log_statement
# logs the parameters ("parameters: $1 = '...'")
{
	my $tok = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('acme', '1 hour')});
	my $script = $node->basedir . "/ext_param.sql";
	PostgreSQL::Test::Utils::append_to_file($script,
		"SELECT tenant_rls.set_tenant_signed(:tok) AS ext_param;\n");
	my ($ret, $o, $e) = PostgreSQL::Test::Utils::run_command(
		[ 'pgbench', '-n', '-M', 'extended', '-t', '1', '-f', $script, '-D', "tok=$tok",
		  '-h', $node->host, '-p', $node->port, '-U', 'app', 'postgres' ]);
	push @tokens, [ 'a bind parameter', $tok ];
	like(PostgreSQL::Test::Utils::slurp_file($node->logfile),
		qr/execute <unnamed>: SELECT tenant_rls\.set_tenant_signed\(\$1\) AS ext_param;?\n[^\n]*DETAIL:  parameters: \$1 = '\*+'/,
		'token, a bind parameter: the log has the parameter, masked');
}
# naming the function elsewhere (a comment, a string, an alias) masks the
# statement's constants and comments, never the statement itself: a call in a
# string EXECUTEd later is not recognised as one, and its token must not show
{
	my ($ret, $out, $err) = $node->psql('postgres',
		qq{SELECT 'visible' /* set_tenant_signed('x') */, 'set_tenant_signed(''y'')' AS "set_tenant_signed";\n$peek_same},
		extra_params => [ '-U', 'app' ]);
	like($out, qr/^idle: SELECT '\*+' \/\* \*+ \*\/, '\*+' AS "set_tenant_signed";?$/m,
		'token: the function named in a comment, a string or an alias: constants and comments masked, the statement shown')
	  or diag("out=$out err=$err");
}
# a statement of many dollar-quote tags that do not end, naming the function
# in a comment: the masking reads it once (it looked into each tag's rest of
# the text, one stack frame per tag: minutes, and 100,000 tags crashed the
# server); it fails as a syntax error, and the server goes on
{
	my $started = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
	my $tags = join(' ', map { '$t' . $_ . '$' } 1 .. 100000);
	my ($ret, $out, $err) = $node->psql('postgres', "/* set_tenant_signed */ SELECT $tags",
		extra_params => [ '-U', 'app' ]);
	like($err, qr/syntax error|unterminated dollar-quoted string/, 'token: 100,000 unterminated dollar-quote tags: an error')
	  or diag("err=" . substr($err, 0, 300));
	is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $started,
		'token: ... and the server did not restart');
}
# standard_conforming_strings = off: '\'' inside '...' is an escaped quote,
# and the masked text must lex the same (it ended the constant early, and
# pg_stat_statements, lexing the masked PREPARE again, failed)
{
	my ($ret, $out, $err) = $node->psql('postgres',
		q{SET standard_conforming_strings = off; SET escape_string_warning = off; PREPARE scs AS SELECT tenant_rls.set_tenant_signed('ab\'c) + 1, 2'), 1;},
		extra_params => [ '-U', 'app' ]);
	unlike($err, qr/ERROR/, 'token: standard_conforming_strings off, a backslash-escaped quote: the masked PREPARE lexes');
}
# review revshape16: pieces of a token that PostgreSQL cuts in a log message
# (the 64 bytes of "Failing row contains", the end of a line in a JSON
# error's context) can be completed by trying the missing characters
$node->safe_psql('postgres', q{
	CREATE TABLE public.sess (tok text, n int NOT NULL);
	GRANT INSERT ON public.sess TO app;
	CREATE TABLE public.lockme (n int);
	INSERT INTO public.lockme VALUES (1);
	GRANT SELECT, UPDATE ON public.lockme TO app;
});
my @pieces;
{
	my $tok = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('acme', '1 hour')});
	push @pieces, [ 'the start of a token in "Failing row contains"', substr($tok, 0, 40) ];
	$node->psql('postgres', "INSERT INTO public.sess VALUES ('$tok', NULL);",
		extra_params => [ '-U', 'app' ]);
	$tok = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('acme', '1 hour')});
	push @pieces, [ 'the end of a token in a JSON error context', substr($tok, -40) ];
	$node->psql('postgres', qq{SELECT '{"token": "$tok" x}'::jsonb;},
		extra_params => [ '-U', 'app' ]);
	# review revmask16b: characters before the token ('v1_' || token), and a
	# JSON context that shows 42 characters of its end (the rule needed 43)
	$tok = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('acme', '1 hour')});
	push @pieces, [ 'a token after other characters, cut in "Failing row contains"', substr($tok, 0, 30) ];
	$node->psql('postgres', "INSERT INTO public.sess VALUES ('v1_$tok', NULL);",
		extra_params => [ '-U', 'app' ]);
	$tok = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('acme', '1 hour')});
	push @pieces, [ 'the last 42 characters of a token in a JSON error context', substr($tok, -20) ];
	$node->psql('postgres', qq{SELECT '["$tok", 1, x]'::jsonb;},
		extra_params => [ '-U', 'app' ]);
	# review rev23b: a token without its last 4 characters fails ("token is
	# truncated"), and its STATEMENT line held the rest of it in clear (a
	# statement with no whole token was logged as it is)
	$tok = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('acme', '1 hour')});
	push @pieces, [ 'a token without its last 4 characters, in the STATEMENT line of its error',
		substr($tok, 0, -4) ];
	my ($ret, $out, $err) = $node->psql('postgres',
		"SELECT tenant_rls.set_tenant_signed('" . substr($tok, 0, -4) . "');",
		extra_params => [ '-U', 'app' ]);
	like($err, qr/ERROR:  token is truncated/, '(a token without its last 4 characters is refused as truncated)')
	  or diag("err=$err");
	# review rev23e: a token without its first 7 characters (those of the
	# tokens of one key differ little) has no token's shape, and was logged
	# in clear ("statement:" and STATEMENT lines); so was the rest of one
	# with a space inside
	$tok = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('acme', '1 hour')});
	push @pieces, [ 'a token without its first 7 characters, passed to set_tenant_signed()', substr($tok, 7) ];
	($ret, $out, $err) = $node->psql('postgres',
		"SELECT tenant_rls.set_tenant_signed('" . substr($tok, 7) . "');",
		extra_params => [ '-U', 'app' ]);
	like($err, qr/ERROR:  /, '(a token without its first 7 characters is refused)');
	$tok = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('acme', '1 hour')});
	push @pieces, [ 'the last 30 characters of a token with a space inside', substr($tok, -30) ];
	($ret, $out, $err) = $node->psql('postgres',
		"SELECT tenant_rls.set_tenant_signed('" . substr($tok, 0, -30) . ' ' . substr($tok, -30) . "');",
		extra_params => [ '-U', 'app' ]);
	like($err, qr/ERROR:  /, '(a token with a space inside is refused)');
}
# Runs $sql (it locks a row of public.lockme) as $user with pgbench -M
# $mode while another session holds that row, and resets its
# pg_stat_statements entry while it waits: pg_stat_statements then stores its
# text as it is at ExecutorEnd.  $marker names the statement.
sub evicted_while_locked
{
	my ($marker, $sql, $mode, $user) = @_;
	my ($in, $out, $err) = ("BEGIN; SELECT n FROM public.lockme FOR UPDATE;\n", '', '');
	my $holder = IPC::Run::start(
		[ 'psql', '-XAtq', '-h', $node->host, '-p', $node->port, '-d', 'postgres' ],
		'<', \$in, '>', \$out, '2>', \$err);
	$holder->pump while length $in;
	$node->poll_query_until('postgres',
		q{SELECT count(*) > 0 FROM pg_locks WHERE relation = 'public.lockme'::regclass AND mode = 'RowShareLock' AND granted})
	  or die 'lock holder did not start';
	my $script = $node->basedir . "/$marker.sql";
	PostgreSQL::Test::Utils::append_to_file($script, "$sql\n");
	my ($vo, $ve) = ('', '');
	my $victim = IPC::Run::start(
		[ 'pgbench', '-n', '-M', $mode, '-t', '1', '-f', $script,
		  '-h', $node->host, '-p', $node->port, '-U', $user, 'postgres' ],
		'>', \$vo, '2>', \$ve);
	my $waiting = "a.query LIKE '%$marker%' AND a.wait_event_type = 'Lock'";
	$node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM pg_stat_activity a WHERE $waiting")
	  or diag("$marker: $vo $ve");
	$node->safe_psql('postgres',
		"SELECT pg_stat_statements_reset(a.usesysid, a.datid, a.query_id) FROM pg_stat_activity a WHERE $waiting");
	$in .= "COMMIT;\n\\q\n";
	$holder->finish;
	$victim->finish;
	return;
}

# pg_stat_statements keeps an optimisable statement's comments, and stores its
# text as it is at ExecutorEnd when the entry went away since the statement
# was analysed: here a reset while it waits for a row lock
{
	my $tok = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('acme', '1 hour')});
	push @tokens, [ 'a comment of a SELECT', $tok ];
	# with a constant (stored when analysed) and without (stored at ExecutorEnd)
	$node->safe_psql('postgres', "GRANT SELECT ON public.sess TO app");
	$node->safe_psql('postgres', "SELECT /* token=$tok */ n + 1 AS in_comment FROM public.sess;\n"
		. "SELECT /* token=$tok */ count(*) AS in_comment FROM public.sess;",
		extra_params => [ '-U', 'app' ]);
	like($node->safe_psql('postgres', q{SELECT string_agg(query, ' ' ORDER BY query) FROM pg_stat_statements WHERE query LIKE '%in_comment%'}),
		qr{^SELECT /\* token=\*+ \*/ count\(\*\) AS in_comment FROM public\.sess SELECT /\* token=\*+ \*/ n \+ \$1 AS in_comment FROM public\.sess$},
		'token: pg_stat_statements keeps a comment of a SELECT masked')
	  or diag($node->safe_psql('postgres', q{SELECT string_agg(query, E'\n') FROM pg_stat_statements}));

	# with the extended protocol ExecutorEnd runs at Sync, when the top-level
	# text is gone (review revmask16b)
	for my $mode ('simple', 'extended', 'prepared')
	{
		$tok = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('acme', '1 hour')});
		push @tokens, [ "a statement whose pg_stat_statements entry went away ($mode)", $tok ];
		evicted_while_locked("evicted_$mode",
			"SELECT public.with_token_fn('Bearer $tok') IS NOT NULL AS evicted_$mode, n /* $tok */ FROM public.lockme FOR UPDATE;",
			$mode, 'app');
		like($node->safe_psql('postgres', "SELECT string_agg(query, ' ') FROM pg_stat_statements WHERE query LIKE '%evicted_$mode%'"),
			qr/with_token_fn\('Bearer \*+'\) IS NOT NULL AS evicted_$mode, n \/\* \*+ \*\//,
			"token: pg_stat_statements stores the evicted statement masked ($mode)");
	}
}
# a statement that reaches no hook: one that fails before it runs while
# errors are not logged (log_min_messages = fatal), one that is only a comment
{
	my $peek_pg = $peek =~ s/state = 'idle'/state LIKE 'idle%'/r;
	my $tok = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('acme', '1 hour')});
	push @tokens, [ 'a syntax error, errors not logged', $tok ];
	my ($ret, $out, $err) = $node->psql('postgres',
		qq{SET log_min_messages = fatal;\nCALL public.with_token('$tok' x);\n$peek_pg},
		on_error_stop => 0);
	unlike($out, qr/\Q$tok\E/, 'token: a syntax error while errors are not logged: masked in pg_stat_activity')
	  or diag("out=$out");
	like($out, qr/idle: CALL public\.with_token\('\*+' x\)/, '... it shows the statement, masked')
	  or diag("out=$out");
	$tok = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('acme', '1 hour')});
	push @tokens, [ 'a statement that is only a comment', $tok ];
	($ret, $out, $err) = $node->psql('postgres', qq{/* $tok */;\n$peek_pg});
	unlike($out, qr/\Q$tok\E/, 'token: a statement that is only a comment: masked in pg_stat_activity')
	  or diag("out=$out");
	like($out, qr{idle: /\* \*+ \*/}, '... it shows the comment, masked')
	  or diag("out=$out");
}
# masking for the hooks that lex the text again never makes a statement
# fail: a token as an identifier (an operator of '*' was "operator too long")
{
	# a token of letters, digits and '_' only: an identifier.  (The expiry
	# is in the token: for 72 minutes in every 76 hours every token valid for
	# an hour has a '-' there, and the loop used to wait for that to pass;
	# each try asks for one more hour.)
	my $tok = '-';
	for (my $h = 1; $tok =~ /-/ && $h <= 200; $h++)
	{
		$tok = $node->safe_psql('postgres', "SELECT tenant_rls.sign_tenant('acme', '$h hours')");
	}
	unlike($tok, qr/-/, 'token: one without a "-" was made (to use it as an identifier)');
	my ($ret, $out, $err) = $node->psql('postgres',
		"PREPARE tokident AS SELECT 1 AS $tok, 2 AS b; EXECUTE tokident; CALL public.with_token(''::text || 'x') \\; SELECT 1 AS $tok;",
		extra_params => [ '-U', 'app' ]);
	unlike($err, qr/ERROR:  (?!invalid token|token)/, 'token: a token as an identifier: the statements run')
	  or diag("err=$err");
}
# review revcode17: pg_stat_statements.track_planning = on stores, at
# planning, the text of a statement that has no entry yet -- one without
# constants (F2) -- and track = all stores the statements of a DO block or a
# function, with their comments (F3): the planner hook and parse analysis of
# nested statements got the plain text
$node->safe_psql('postgres', q{
	ALTER ROLE app SET pg_stat_statements.track_planning = on;
	ALTER ROLE app SET pg_stat_statements.track = 'all';
});
{
	# (two statements: the same one would share an entry, and its text)
	for my $c ([ 'simple', 'now' ], [ 'extended', 'clock_timestamp' ])
	{
		my ($mode, $fn) = @$c;
		my $tok = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('acme', '1 hour')});
		push @tokens, [ "a statement without constants, track_planning ($mode)", $tok ];
		my $script = $node->basedir . "/planned_$mode.sql";
		PostgreSQL::Test::Utils::append_to_file($script,
			"SELECT $fn() IS NOT NULL AS planned_$mode /* auth='$tok' */;\n");
		my ($ret, $o, $e) = PostgreSQL::Test::Utils::run_command(
			[ 'pgbench', '-n', '-M', $mode, '-t', '1', '-f', $script,
			  '-h', $node->host, '-p', $node->port, '-U', 'app', 'postgres' ]);
		my $seen = $node->safe_psql('postgres',
			"SELECT plans || ' ' || query FROM pg_stat_statements WHERE query LIKE '%planned_$mode%'",
			extra_params => [ '-U', 'app' ]);
		unlike($seen, qr/\Q$tok\E/, "token, a statement without constants, track_planning = on ($mode): not in pg_stat_statements");
		like($seen, qr/^1 SELECT $fn\(\) IS NOT NULL AS planned_$mode \/\* auth='\*+' \*\/$/,
			"token, a statement without constants, track_planning = on ($mode): stored at planning, masked")
		  or diag("seen=$seen");
	}
	my $tok = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('acme', '1 hour')});
	my $tok2 = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('acme', '1 hour')});
	push @tokens, [ 'a statement of a DO block, track = all', $tok ], [ 'a string a DO block EXECUTEs, track = all', $tok2 ];
	$node->safe_psql('postgres',
		qq{DO \$\$ BEGIN PERFORM 1 /* auth='$tok' */ AS nested_do; EXECUTE 'SELECT 1, 2 /* ' || '$tok2' || ' */ AS nested_exec'; END \$\$;},
		extra_params => [ '-U', 'app' ]);
	my $seen = $node->safe_psql('postgres',
		q{SELECT string_agg(query, E'\n' ORDER BY query COLLATE "C") FROM pg_stat_statements WHERE NOT toplevel AND query ~ 'nested_(do|exec)'},
		extra_params => [ '-U', 'app' ]);
	unlike($seen, qr/\Q$tok\E/, 'token, a statement of a DO block, track = all: not in pg_stat_statements');
	unlike($seen, qr/\Q$tok2\E/, 'token, a string a DO block EXECUTEs, track = all: not in pg_stat_statements');
	like($seen, qr{^SELECT \$1 /\* auth='\*+' \*/ AS nested_do\nSELECT \$1, \$2 /\* \*+ \*/ AS nested_exec$},
		'token, nested statements, track = all: stored masked')
	  or diag("seen=$seen");
}
$node->safe_psql('postgres', 'ALTER ROLE app RESET ALL');
# review revcode17 F4: the parallel workers of an index build copy the
# leader's whole query string and show it in pg_stat_activity, before any
# hook of tenant_rls runs in them: a token of an earlier statement of the
# string, or a key, was readable in the workers' rows.  (slowimm() makes the
# build last long enough to look.)
$node->safe_psql('postgres', q{
	CREATE TABLE public.par AS SELECT g AS id FROM generate_series(1, 20000) g;
	ALTER TABLE public.par OWNER TO app;
	GRANT CREATE ON SCHEMA public TO app;
	CREATE FUNCTION public.slowimm(int) RETURNS int LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
		AS $$ BEGIN IF $1 % 1000 = 0 THEN PERFORM pg_sleep(0.3); END IF; RETURN $1; END $$;
	GRANT EXECUTE ON FUNCTION public.slowimm(int) TO app;
	ANALYZE public.par;
});
# Sends $sql as $user (one simple-protocol string that builds the index
# $marker) and returns what $observer sees of its parallel workers.
sub parallel_workers_seen
{
	my ($marker, $sql, $user, $observer) = @_;
	my ($o, $e) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-h', $node->host, '-p', $node->port, '-U', $user, '-d', 'postgres',
		  '-c', "$sql SET max_parallel_maintenance_workers = 2; SET min_parallel_table_scan_size = 0; CREATE INDEX $marker ON public.par (public.slowimm(id)); DROP INDEX public.$marker" ],
		'>', \$o, '2>', \$e);
	my $where = "backend_type = 'parallel worker' AND query LIKE '%$marker%'";
	$node->poll_query_until('postgres', "SELECT count(*) > 0 FROM pg_stat_activity WHERE $where")
	  or diag("$marker: no parallel worker seen: $o $e");
	my $seen = $node->safe_psql('postgres', "SELECT query FROM pg_stat_activity WHERE $where",
		extra_params => [ '-U', $observer ]);
	$h->finish;
	return $seen;
}
{
	my $tok = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('acme', '1 hour')});
	push @tokens, [ 'a string that builds an index in parallel', $tok ];
	my $seen = parallel_workers_seen('par_tok',
		"SELECT tenant_rls.set_tenant_signed('$tok') IS NOT NULL;", 'app', 'app');
	unlike($seen, qr/\Q$tok\E/, 'token, a string that builds an index in parallel: another session of the role does not see it in the workers\' rows');
	like($seen, qr/^SELECT tenant_rls\.set_tenant_signed\('\*+'\) IS NOT NULL; SET max_parallel_maintenance_workers/m,
		'token, a string that builds an index in parallel: the workers show it masked')
	  or diag("seen=$seen");

	my $key = 'key-parallel-index-0123456789abcdef01234567';
	push @cases, [ 'a string that builds an index in parallel', $key ];
	$seen = parallel_workers_seen('par_key',
		"/* par_key */ SET tenant_rls.signing_key = '$key';", 'postgres', 'monitor');
	unlike($seen, qr/\Q$key\E/, 'a key set by a string that builds an index in parallel: not in the workers\' rows');
	like($seen, qr/^\/\* par_key \*\/ SET tenant_rls\.signing_key \*/m,
		'a key set by a string that builds an index in parallel: the workers show it masked')
	  or diag("seen=$seen");
}
my $app_stmts = $node->safe_psql('postgres', 'SELECT query FROM pg_stat_statements',
	extra_params => [ '-U', 'app' ]);
like($app_stmts, qr/EXPLAIN \(ANALYZE/, '(pg_stat_statements has the statements of app)');
for my $t (@tokens)
{
	my ($name, $tok) = @$t;
	unlike($app_stmts, qr/\Q$tok\E/, "token, $name: not in pg_stat_statements");
}
$node->safe_psql('postgres', 'ALTER SYSTEM RESET tenant_rls.signing_key; SELECT pg_reload_conf()');

# the server log (log_statement = all): every statement above is logged,
# its tokens masked; a failing statement's STATEMENT line is left out and its
# masked text is the DETAIL
{
	my $log = PostgreSQL::Test::Utils::slurp_file($node->logfile);
	for my $t (@tokens)
	{
		my ($name, $tok) = @$t;
		unlike($log, qr/\Q$tok\E/, "token, $name: not in the server log");
	}
	for my $t (@pieces)
	{
		my ($name, $piece) = @$t;
		unlike($log, qr/\Q$piece\E/, "token, $name: not in the server log");
	}
	like($log, qr/statement: CALL public\.with_token\('\*+'\)/, 'token: the log has the CALL, masked');
	like($log, qr/ERROR:  relation "no_such_table" does not exist[^\n]*\n[^\n]*DETAIL:  statement, tokens masked: SELECT tenant_rls\.set_tenant_signed\('\*+'\) FROM no_such_table/,
		'token: a failing statement: the log has its text, masked, as the DETAIL')
	  or diag(substr($log, -3000));
}

# a key set by a statement whose pg_stat_statements entry went away before
# its ExecutorEnd (here: reset while it waits for a row lock), review
# revmask16c: pg_stat_statements stored the text as it was
{
	my $key = 'key-evicted-0123456789abcdef0123456789abcd';
	evicted_while_locked('key_evicted',
		"SELECT now() IS NOT NULL AS key_evicted, set_config('tenant_rls.signing_key', '$key', true) IS NOT NULL, n FROM public.lockme FOR UPDATE;",
		'extended', 'postgres');
	my $seen = $node->safe_psql('postgres',
		q{SELECT string_agg(query, ' ') FROM pg_stat_statements WHERE query LIKE '%key_evicted%'},
		extra_params => [ '-U', 'monitor' ]);
	unlike($seen, qr/\Q$key\E/, 'a key set by a statement whose pg_stat_statements entry went away: not in pg_stat_statements');
	like($seen, qr/signing_key', '\*+'/, '... the statement is there, masked')
	  or diag("seen=$seen");
	push @cases, [ 'a statement whose pg_stat_statements entry went away', $key ];
}
my $stmts = $node->safe_psql('postgres', 'SELECT query FROM pg_stat_statements',
	extra_params => [ '-U', 'monitor' ]);
like($stmts, qr{DO \$\$ BEGIN PERFORM 'hidden' /\* tenant_rls\.signing_key \*/; END \$\$},
	'pg_stat_statements keeps the DO block of a role that cannot set a key unmasked');
like($stmts, qr/ALTER SYSTEM SET tenant_rls\.signing_key_previous/, '(pg_stat_statements has the statements)');
for my $c (@cases)
{
	my ($name, $key) = @$c;
	unlike($stmts, qr/\Q$key\E/, "$name: the key is not in pg_stat_statements");
}

# masking never changes what a statement does
is($node->safe_psql('postgres', q{
	SET tenant_rls.signing_key = 'session-key-0123456789abcdef0123456789';
	SELECT tenant_rls.set_tenant_signed(tenant_rls.sign_tenant('acme'));}),
	'acme', 'a key set by a masked SET is the key in force');

# tenant_rls.mask_activity_values: every statement of the role shows in
# pg_stat_activity with its string constants, comments and numbers masked
# (sessions of one role see each other's statements there); a role without
# the setting shows its values.  Simple protocol, prepared (each Execute), a
# utility statement, a statement that fails to parse.
$node->safe_psql('postgres', q{
	CREATE ROLE valuer LOGIN;
	ALTER ROLE valuer SET tenant_rls.mask_activity_values = on;
	CREATE PROCEDURE public.takes_values(t text, n int) LANGUAGE plpgsql AS $$ BEGIN END $$;
	GRANT EXECUTE ON PROCEDURE public.takes_values(text, int) TO valuer, app;
});
my $peek_v = q{\! psql -XAtq -U valuer -d postgres -c "SELECT state || ': ' || query FROM pg_stat_activity WHERE usename = current_user AND pid <> pg_backend_pid() AND query <> ''"};
{
	my ($ret, $out, $err) = $node->psql('postgres',
		qq{BEGIN;\nSELECT 'alice\@example.com' AS email, 12345 AS amount, 3.14 AS pi, x1 /* note */ FROM (SELECT 1 AS x1) s WHERE 42 = 42;\n$peek_v\nCOMMIT;},
		extra_params => [ '-U', 'valuer' ]);
	my ($line) = $out =~ /^(idle in transaction: .*)$/m;
	unlike($line // 'none', qr/alice|12345|3\.14|note|none/, 'mask_activity_values: another session of the role sees no value of the statement');
	like($out, qr/^idle in transaction: SELECT '\*+' AS email, \*+ AS amount, \*+ AS pi, x1 \/\* \*+ \*\/ FROM \(SELECT \* AS x1\) s WHERE \*\* = \*\*;?$/m,
		'... it sees the statement, its values masked')
	  or diag("out=$out err=$err");

	($ret, $out, $err) = $node->psql('postgres',
		qq{BEGIN;\nCALL public.takes_values('bob\@example.com', 777);\n$peek_v\nCOMMIT;},
		extra_params => [ '-U', 'valuer' ]);
	like($out, qr/^idle in transaction: CALL public\.takes_values\('\*+', \*\*\*\);?$/m,
		'mask_activity_values: a utility statement (CALL) shows masked')
	  or diag("out=$out err=$err");

	($ret, $out, $err) = $node->psql('postgres',
		qq{SELECT 'carol\@example.com' AS email FROM;\n$peek_v},
		extra_params => [ '-U', 'valuer' ], on_error_stop => 0);
	like($out, qr/^idle: SELECT '\*+' AS email FROM;?$/m,
		'mask_activity_values: a statement that fails to parse shows masked')
	  or diag("out=$out err=$err");

	my $seen = idle_in_block_seen('values_prepared',
		"SELECT 'dave\@example.com' AS values_prepared, 4242 AS amount;", 'prepared', 'valuer', 'valuer', 3);
	like($seen, qr/^SELECT '\*+' AS values_prepared, \*+ AS amount;?$/,
		'mask_activity_values: a prepared statement, the third Execute, shows masked')
	  or diag("seen=$seen");

	($ret, $out, $err) = $node->psql('postgres',
		qq{BEGIN;\nSELECT 'erin\@example.com' AS email, 555 AS amount;\n$peek_same\nCOMMIT;},
		extra_params => [ '-U', 'app' ]);
	like($out, qr/^idle in transaction: SELECT 'erin\@example\.com' AS email, 555 AS amount;?$/m,
		'mask_activity_values off (role app): the values show')
	  or diag("out=$out err=$err");
}

# with track_activities off as well, PostgreSQL reports no text at all, and
# tenant_rls reports the masked statement while it runs: a statement that
# waits for a lock before its parse analysis is over (another session holds
# the table; with track_activities on, pg_stat_activity shows its raw text
# from its arrival until then) shows no text; a running one shows masked;
# the numbers of a DO block's code are masked too
$node->safe_psql('postgres', q{
	CREATE ROLE valuer2 LOGIN;
	ALTER ROLE valuer2 SET tenant_rls.mask_activity_values = on;
	ALTER ROLE valuer2 SET track_activities = off;
	CREATE TABLE public.lockable (id int PRIMARY KEY, v text);
	INSERT INTO public.lockable VALUES (1, 'x');
	GRANT SELECT, UPDATE ON public.lockable TO valuer, valuer2;
});
{
	# Another session holds the table; $role's UPDATE writing $value waits
	# for the lock in parse analysis.  Returns what the role's other sessions
	# see of it meanwhile.
	my $lock_wait_seen = sub {
		my ($role, $value) = @_;
		my $lock_script = $node->basedir . "/values_lock_$role.sql";
		PostgreSQL::Test::Utils::append_to_file($lock_script,
			"BEGIN;\nLOCK TABLE public.lockable IN ACCESS EXCLUSIVE MODE;\n\\sleep 5 s\nCOMMIT;\n");
		my ($lo, $le, $vo, $ve) = ('', '', '', '');
		my $holder = IPC::Run::start(
			[ 'pgbench', '-n', '-t', '1', '-f', $lock_script,
			  '-h', $node->host, '-p', $node->port, 'postgres' ],
			'>', \$lo, '2>', \$le);
		$node->poll_query_until('postgres', q{SELECT count(*) > 0 FROM pg_locks WHERE relation = 'public.lockable'::regclass AND granted AND mode = 'AccessExclusiveLock'})
		  or diag("lock holder: $lo $le");
		my $victim = IPC::Run::start(
			[ 'psql', '-XAtq', '-h', $node->host, '-p', $node->port, '-U', $role, '-d', 'postgres',
			  '-c', "UPDATE public.lockable SET v = '$value' WHERE id = 1" ],
			'>', \$vo, '2>', \$ve);
		$node->poll_query_until('postgres', q{SELECT count(*) > 0 FROM pg_locks WHERE relation = 'public.lockable'::regclass AND NOT granted})
		  or diag("victim: $vo $ve");
		my $seen = $node->safe_psql('postgres',
			"SELECT state || ': ' || coalesce(query, '') FROM pg_stat_activity WHERE usename = '$role' AND pid <> pg_backend_pid()",
			extra_params => [ '-U', $role ]);
		$holder->finish;
		$victim->finish;
		is($node->safe_psql('postgres', 'SELECT v FROM public.lockable WHERE id = 1'), $value,
			"... ($role) the UPDATE ran once the lock was released");
		return $seen;
	};
	# the window, with track_activities on (role valuer): the setup exposes the value
	like($lock_wait_seen->('valuer', 'window-lock-value'), qr/window-lock-value/,
		'mask_activity_values with track_activities on: a statement waiting for a lock in parse analysis shows its value (the documented window)');
	unlike($lock_wait_seen->('valuer2', 'secret-lock-value'), qr/secret-lock-value/,
		'mask_activity_values with track_activities off: the same statement shows no value');

	my ($so, $se) = ('', '');
	my $sleeper = IPC::Run::start(
		[ 'psql', '-XAtq', '-h', $node->host, '-p', $node->port, '-U', 'valuer2', '-d', 'postgres',
		  '-c', "SELECT pg_sleep(30) AS values_running, 'secret-running-value', 31337" ],
		'>', \$so, '2>', \$se);
	$node->poll_query_until('postgres',
		q{SELECT count(*) > 0 FROM pg_stat_activity WHERE usename = 'valuer2' AND state = 'active' AND query LIKE '%values_running%'})
	  or diag("sleeper: $so $se");
	my $seen = $node->safe_psql('postgres',
		q{SELECT query FROM pg_stat_activity WHERE usename = 'valuer2' AND pid <> pg_backend_pid()},
		extra_params => [ '-U', 'valuer2' ]);
	like($seen, qr/^SELECT pg_sleep\(\*\*\) AS values_running, '\*+', \*+$/m,
		'mask_activity_values with track_activities off: a running statement shows masked')
	  or diag("seen=$seen");
	$sleeper->kill_kill;

	my ($ret, $out, $err) = $node->psql('postgres',
		qq{BEGIN;\nDO \$\$DECLARE i int := 100; BEGIN i := i-424242; PERFORM i+31337 /* values_do */; END\$\$;\n$peek_v\nCOMMIT;},
		extra_params => [ '-U', 'valuer' ]);
	my ($line) = $out =~ /^(idle in transaction: DO .*)$/m;

	unlike($line // 'none', qr/100|424242|31337|none/, 'mask_activity_values: the numbers in a DO block are masked');
	like($line // '', qr/i := i-\*+; PERFORM i\+\*+/, '... its code stays readable')
	  or diag("out=$out err=$err");
	($ret, $out, $err) = $node->psql('postgres',
		qq{BEGIN;\nSELECT \$q\$acquire initech\$q\$ AS dq, length(\$\$another value\$\$) AS values_dollar;\n$peek_v\nCOMMIT;},
		extra_params => [ '-U', 'valuer' ]);
	($line) = $out =~ /^(idle in transaction: SELECT .*values_dollar.*)$/m;
	like($line // '', qr/^idle in transaction: SELECT \$q\$[* ]+\$q\$ AS dq, length\(\$\$[* ]+\$\$\) AS values_dollar;?$/,
		'mask_activity_values: a dollar-quoted value (not the body of DO or AS) is masked whole')
	  or diag("out=$out err=$err");
	($ret, $out, $err) = $node->psql('postgres',
		qq{BEGIN;\nSET LOCAL app.values_set = acme_corp \\; SELECT 1 AS values_set_after;\n$peek_v\nCOMMIT;},
		extra_params => [ '-U', 'valuer' ]);
	like($out, qr/^idle in transaction: SET LOCAL app\.values_set = \*+\s*;\s*SELECT \* AS values_set_after;?$/m,
		'mask_activity_values: the unquoted value of SET is masked, the statement after it is not')
	  or diag("out=$out err=$err");
}

$node->stop;
done_testing();
