# A transaction that writes audited rows of many tenants (issue 5, A3).  Each
# tenant's chain is locked at commit; a lock per tenant filled the server's
# lock table past a few thousand tenants ("out of shared memory": an import of
# 20,000 tenants' rows failed, and other sessions' locks with it).  Past
# max_locks_per_transaction tenants, the transaction takes the chain table
# (tenant_rls.audit_chain) in SHARE ROW EXCLUSIVE instead: every writer holds
# ROW EXCLUSIVE on it before its tenant's lock, so the chains stay in commit
# order and unforked, and other writers wait for that commit only.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('audit_many_tenants');
$node->init;
$node->append_conf('postgresql.conf', "max_prepared_transactions = 3\n");
$node->start;

$node->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION tenant_rls;
SET tenant_rls.auto_protect = off;
CREATE TABLE public.t (id integer PRIMARY KEY, tenant_id text NOT NULL);
SELECT tenant_rls.enable_audit('public.t');
});
my $chain_locks = q{SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 29810};
my $table_lock = q{SELECT string_agg(mode, ',' ORDER BY mode) FROM pg_locks
	WHERE locktype = 'relation' AND relation = 'tenant_rls.audit_chain'::regclass};

# 1. 20,000 tenants in one transaction (as a superuser's import would)
my ($ret, $out, $err) = $node->psql('postgres',
	q{INSERT INTO public.t SELECT g, 'm' || g FROM generate_series(1, 20000) g});
is($ret, 0, 'a transaction writing rows of 20,000 tenants commits') or diag($err);
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.audit_log WHERE tenant LIKE 'm%'}),
	'20000', '... every row has its entry');
is($node->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE NOT ok) || ' ' || count(*) FROM tenant_rls.audit_verify() WHERE tenant LIKE 'm%'}),
	'0 20000', '... and every chain verifies');

# 2. prepared with 100 tenants (more than max_locks_per_transaction, 64):
#    it keeps a lock per tenant, not the chain table; held until COMMIT
#    PREPARED, the table would make every audited commit of the database
#    wait (any role that may prepare could stop them all)
$node->safe_psql('postgres', q{
BEGIN;
INSERT INTO public.t SELECT 100000 + g, 'p' || g FROM generate_series(1, 100) g;
PREPARE TRANSACTION 'big';
});
is($node->safe_psql('postgres', $chain_locks), '100', 'a prepared transaction of 100 tenants holds their 100 locks');
is($node->safe_psql('postgres', $table_lock), 'RowExclusiveLock',
	'... and ROW EXCLUSIVE on the chain table only');
($ret, $out, $err) = $node->psql('postgres', q{SET lock_timeout = '5s'; INSERT INTO public.t VALUES (200001, 'other')});
is($ret, 0, '... a writer of another tenant commits meanwhile') or diag($err);
$node->safe_psql('postgres', q{COMMIT PREPARED 'big'});
my ($bout, $berr, $h) = ('', '', undef);

# 3. the other way round: a small prepared writer of tenant p1 holds its
#    chain (and ROW EXCLUSIVE on the chain table); a transaction of 100
#    tenants including p1 does not queue for the table (every commit would
#    queue behind it): within a second it takes a lock per tenant instead,
#    waits for p1's and chains after it
$node->safe_psql('postgres', q{
BEGIN;
INSERT INTO public.t VALUES (300001, 'p1');
PREPARE TRANSACTION 'small';
});
my $script2 = $node->basedir . '/big.sql';
PostgreSQL::Test::Utils::append_to_file($script2,
	"BEGIN;\nINSERT INTO public.t SELECT 300100 + g, 'p' || g FROM generate_series(1, 100) g;\nCOMMIT;\nSELECT 'committed';\n");
($bout, $berr) = ('', '');
$h = IPC::Run::start([ 'psql', '-X', '-At', '-f', $script2, '-d', $node->connstr('postgres') ],
	'>', \$bout, '2>', \$berr);
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 29810 AND NOT granted}),
	'a transaction of 100 tenants waits at its COMMIT for a prepared writer of one of them (for that tenant: the prepared writer keeps the chain table from it, and it does not queue for the table)');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_locks WHERE locktype = 'relation'
   AND relation = 'tenant_rls.audit_chain'::regclass AND NOT granted}), '0', '... nobody queues for the chain table');
($ret, $out, $err) = $node->psql('postgres', q{SET lock_timeout = '5s'; INSERT INTO public.t VALUES (300500, 'unrelated')});
is($ret, 0, '... and a writer of another tenant commits meanwhile') or diag($err);
$node->safe_psql('postgres', q{COMMIT PREPARED 'small'});
$h->finish;
like($bout, qr/committed/, '... and commits after it');
is($node->safe_psql('postgres', q{
SELECT string_agg(new_row->>'id', ' ' ORDER BY seq) FROM tenant_rls.audit_log WHERE tenant = 'p1'}),
	'100001 300001 300101', 'the chain of p1 is in commit order');
is($node->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE NOT ok) FROM tenant_rls.audit_verify()}),
	'0', 'every chain verifies');

# 4. 64 tenants or fewer: a lock per tenant, as before (writers of different
#    tenants never wait on each other)
$node->safe_psql('postgres', q{
BEGIN;
INSERT INTO public.t SELECT 400000 + g, 's' || g FROM generate_series(1, 50) g;
PREPARE TRANSACTION 'fifty';
});
is($node->safe_psql('postgres', $chain_locks), '50', 'a prepared transaction of 50 tenants holds their 50 locks');
is($node->safe_psql('postgres', $table_lock), 'RowExclusiveLock', '... and ROW EXCLUSIVE on the chain table only');
($ret, $out, $err) = $node->psql('postgres', q{SET statement_timeout = '10s'; INSERT INTO public.t VALUES (500001, 'elsewhere')});
is($ret, 0, '... a writer of another tenant does not wait');
$node->safe_psql('postgres', q{COMMIT PREPARED 'fifty'});

$node->stop;
done_testing();
