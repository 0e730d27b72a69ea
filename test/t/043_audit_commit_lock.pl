# The tenant's chain lock (issue 5, A3): entries are chained at commit under a
# lock per tenant, held to the end of the commit.  A prepared transaction keeps
# it until COMMIT PREPARED, so another writer of the same tenant waits at its
# COMMIT (and only there), then chains after it; a writer of another tenant
# does not wait at all.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('audit_commit_lock');
$node->init;
$node->append_conf('postgresql.conf', "max_prepared_transactions = 2\n");
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION tenant_rls;
CREATE TABLE public.t (id integer PRIMARY KEY, tenant_id text NOT NULL);
SELECT tenant_rls.enable_audit('public.t');
BEGIN;
INSERT INTO public.t VALUES (1, 'a');
PREPARE TRANSACTION 'p1';
});

# a writer of another tenant commits right away
my ($ret, $out, $err) = $node->psql('postgres', q{SET statement_timeout = '10s'; INSERT INTO public.t VALUES (10, 'b')});
is($ret, 0, 'a writer of another tenant does not wait');

# a writer of the same tenant: its INSERT runs, its COMMIT waits
my $script = $node->basedir . '/writer.sql';
open(my $fh, '>', $script) or die;
print $fh "BEGIN;\nINSERT INTO public.t VALUES (2, 'a');\nCOMMIT;\nSELECT 'committed';\n";
close $fh;
my ($bout, $berr) = ('', '');
my $h = IPC::Run::start([ 'psql', '-X', '-At', '-f', $script, '-d', $node->connstr('postgres') ],
	'>', \$bout, '2>', \$berr);
ok( $node->poll_query_until('postgres', q{
SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 29810 AND NOT granted}),
	'the second writer waits for the tenant lock');
is($node->safe_psql('postgres', q{
SELECT a.query FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
 WHERE l.locktype = 'advisory' AND l.objsubid = 29810 AND NOT l.granted}),
	'COMMIT;', 'it waits at its COMMIT, not at its INSERT');
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.audit_log WHERE tenant = 'a'}), '0',
	'no entry of tenant a is visible yet');

$node->safe_psql('postgres', q{COMMIT PREPARED 'p1'});
$h->finish;
like($bout, qr/committed/, 'the second writer committed after the prepared one');
is($node->safe_psql('postgres', q{SELECT string_agg(seq || ':' || (new_row->>'id'), ' ' ORDER BY seq) FROM tenant_rls.audit_log WHERE tenant = 'a'}),
	'1:1 2:2', 'chain order is commit order');
is($node->safe_psql('postgres', q{SELECT string_agg(tenant || ':' || ok, ' ' ORDER BY tenant) FROM tenant_rls.audit_verify()}),
	'a:true b:true', 'both chains verify');

$node->stop;
done_testing();
