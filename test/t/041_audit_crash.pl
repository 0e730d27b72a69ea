# Crash safety of the audit log (issue 5): writers of many tenants run while
# the server crashes (kill -9 of a backend, which makes the postmaster reset
# every backend and recover from WAL; then an immediate shutdown).  After
# each restart every committed row has its audit entry and no entry exists
# without its row (they commit together), and every chain verifies.
# The library is preloaded, so the writers find the chain heads through the
# hints in shared memory (emptied by each crash), and a head written by a
# prepared transaction that is rolled back leaves a hint to a dead row.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('audit_crash');
$node->init;
$node->append_conf('postgresql.conf', "restart_after_crash = on\n"
	  . "shared_preload_libraries = 'tenant_rls'\nmax_prepared_transactions = 2\n");
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION tenant_rls;
CREATE TABLE public.c (id bigserial PRIMARY KEY, tenant_id text NOT NULL, v text);
SELECT tenant_rls.enable_audit('public.c');
});

my $dir = $node->basedir;
open(my $fh, '>', "$dir/one.sql") or die;
print $fh "\\set t random(1, 20)\nINSERT INTO public.c (tenant_id, v) VALUES ('t' || :t, repeat('x', 200));\n";
close $fh;
open($fh, '>', "$dir/many.sql") or die;
print $fh "\\set t random(1, 20)\nINSERT INTO public.c (tenant_id, v) SELECT 't' || :t, repeat('y', 50) FROM generate_series(1, 50);\n";
close $fh;

sub start_writers
{
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			'pgbench', '-n', '-c', '4', '-j', '2', '-T', '60',
			'-h', $node->host, '-p', $node->port,
			'-f', "$dir/one.sql\@5", '-f', "$dir/many.sql\@1", 'postgres'
		],
		'>', \$out, '2>', \$err);
	return $h;
}

sub wait_for_rows
{
	my ($min) = @_;
	$node->poll_query_until('postgres', "SELECT count(*) >= $min FROM public.c")
	  or die "writers did not write";
}

sub check_consistent
{
	my ($label) = @_;
	my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM public.c');
	ok($rows > 0, "$label: rows were written ($rows)");
	is( $node->safe_psql('postgres', q{
SELECT count(*) FROM public.c r
 WHERE NOT EXISTS (SELECT FROM tenant_rls.audit_log l
                    WHERE l.table_oid = 'public.c'::regclass AND l.operation = 'INSERT'
                      AND l.row_pk = jsonb_build_object('id', r.id))}),
		'0', "$label: no committed row lacks its audit entry");
	is( $node->safe_psql('postgres', q{
SELECT count(*) FROM tenant_rls.audit_log l
 WHERE l.table_oid = 'public.c'::regclass
   AND NOT EXISTS (SELECT FROM public.c r WHERE jsonb_build_object('id', r.id) = l.row_pk)}),
		'0', "$label: no audit entry without its committed row");
	is( $node->safe_psql('postgres',
			q{SELECT count(*) FILTER (WHERE NOT ok) || ' broken of ' || count(*) FROM tenant_rls.audit_verify()}),
		'0 broken of 20', "$label: every chain verifies");
}

# 1. kill -9 a backend in the middle of writing: crash and automatic restart
my $h = start_writers();
wait_for_rows(500);
my $pid = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE query LIKE 'INSERT INTO public.c%' AND pid <> pg_backend_pid() LIMIT 1});
ok($pid =~ /^\d+$/, 'found a writing backend');
kill 'KILL', $pid;
$h->finish;		# pgbench ends with errors: its connections were reset
$node->poll_query_until('postgres', 'SELECT 1', '1') or die 'no restart after crash';
ok($node->log_contains('terminated by signal 9'), 'the server went through crash recovery');
check_consistent('after kill -9');

# 2. immediate shutdown (no checkpoint) while writing, then restart
$h = start_writers();
my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM public.c');
wait_for_rows($before + 500);
$node->stop('immediate');
$h->finish;
$node->start;
check_consistent('after immediate shutdown');

# the chains continue after the crashes
$node->safe_psql('postgres', q{INSERT INTO public.c (tenant_id, v) SELECT 't' || i, 'z' FROM generate_series(1, 20) i});
is($node->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE NOT ok) FROM tenant_rls.audit_verify()}),
	'0', 'chains verify after new writes');

# a prepared transaction writes heads (and their hints) and is rolled back:
# the next writers of those tenants find the live heads all the same
$node->safe_psql('postgres', q{
BEGIN;
INSERT INTO public.c (tenant_id, v) VALUES ('t1', 'prepared'), ('t2', 'prepared');
PREPARE TRANSACTION 'audit_p1';
ROLLBACK PREPARED 'audit_p1';
});
$node->safe_psql('postgres', q{INSERT INTO public.c (tenant_id, v) VALUES ('t1', 'after rollback')});
$node->safe_psql('postgres', q{
BEGIN;
INSERT INTO public.c (tenant_id, v) VALUES ('t2', 'prepared');
PREPARE TRANSACTION 'audit_p2';
COMMIT PREPARED 'audit_p2';
});
$node->safe_psql('postgres', q{INSERT INTO public.c (tenant_id, v) VALUES ('t2', 'after commit')});
is($node->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE NOT ok) FROM tenant_rls.audit_verify()}),
	'0', 'chains verify after a rolled back and a committed prepared transaction');
is( $node->safe_psql('postgres', q{
SELECT string_agg(h.tenant || ' ' || (h.seq = b.n), ',' ORDER BY h.tenant)
  FROM tenant_rls.audit_chain h
  JOIN (SELECT tenant, count(*) AS n FROM tenant_rls.audit_batch GROUP BY tenant) b USING (tenant)
 WHERE h.tenant IN ('t1', 't2')}),
	't1 true,t2 true', 'each head counts the batches of its tenant, none of the rolled back one');
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.audit_log WHERE new_row->>'v' = 'prepared'}),
	'1', 'only the committed prepared transaction is in the log');

$node->stop;
done_testing();
