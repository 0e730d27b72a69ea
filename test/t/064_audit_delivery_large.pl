# Deferred audit delivery of large transactions.  A transaction that queues
# more than 32 MB of audit entries writes them before its commit; with
# deferred delivery it used to write them into the log itself, and so held
# its tenants' audit chains until it ended.  The delivery worker, which
# writes every tenant's commits in commit order, then waited for that chain:
# one long import held up every tenant's delivery, and after 30 seconds it
# made the whole database write immediately (audit_delivery_stalled).  Now
# such a transaction puts those entries into the WAL too, like its commit
# does, and holds no chain: while it runs, the other commits of the same
# tenant and of others are delivered; once it commits, its entries are
# delivered in the order they were made, exactly once; a savepoint rolled
# back drops its early entries; the worker reads large messages back from
# the WAL instead of keeping them in memory.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TenantRlsTest qw($versioned_table);

my $node = PostgreSQL::Test::Cluster->new('delivery_large');
$node->init;
$node->append_conf('postgresql.conf', qq{
wal_level = replica
shared_preload_libraries = 'tenant_rls'
max_wal_size = 1GB
});
$node->start;

$node->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION tenant_rls;
CREATE TABLE public.big (id bigserial PRIMARY KEY, tenant_id text NOT NULL, v text);
SELECT tenant_rls.audit_delivery_start();
});
ok($node->poll_query_until('postgres', q{SELECT worker_running FROM tenant_rls.audit_delivery_status()}),
	'the delivery worker runs');

# 40,000 rows of 1 kB: more than 32 MB of entries, one early flush
my $import = q{INSERT INTO public.big (v) SELECT 'import ' || g || ' ' || repeat('x', 1000) FROM generate_series(1, 40000) g};

my $s = $node->background_psql('postgres', on_error_stop => 1);
$s->query_safe(q{SET tenant_rls.audit_delivery = deferred});
$s->query_safe(q{BEGIN});
$s->query_safe(q{SELECT tenant_rls.set_tenant('a')});
$s->query_safe($import);

# the import is still open: other commits of a and of b are delivered
$node->safe_psql('postgres', q{
SET tenant_rls.audit_delivery = deferred;
BEGIN; SELECT tenant_rls.set_tenant('a'); INSERT INTO public.big (v) VALUES ('small a'); COMMIT;
BEGIN; SELECT tenant_rls.set_tenant('b'); INSERT INTO public.big (v) VALUES ('small b'); COMMIT;
});
is($node->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('8 s')}), 't',
	'while the import is open, audit_delivery_wait() returns true within 8 seconds');
is($node->safe_psql('postgres',
		q{SELECT string_agg(new_row->>'v', ', ' ORDER BY new_row->>'v') FROM tenant_rls.audit_log WHERE new_row->>'v' LIKE 'small%'}),
	'small a, small b', '... and the small commits of a and b are in the log');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	WHERE l.locktype = 'advisory' AND a.backend_type = 'client backend' AND a.state = 'idle in transaction'}),
	'0', 'the open import holds no audit chain lock');
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.audit_log WHERE new_row->>'v' LIKE 'import%'}),
	'0', 'nothing of the open import is in the log');

# a savepoint rolled back after an early flush of its own: dropped
$s->query_safe(q{SAVEPOINT s1});
$s->query_safe($import =~ s/'import '/'rolled back '/r);
$s->query_safe(q{ROLLBACK TO SAVEPOINT s1});
# a savepoint released after an early flush: kept
$s->query_safe(q{SAVEPOINT s2});
$s->query_safe($import =~ s/'import '/'released '/r);
$s->query_safe(q{RELEASE SAVEPOINT s2});
$s->query_safe(q{INSERT INTO public.big (v) VALUES ('last')});
$s->query_safe(q{COMMIT});
$s->quit;

is($node->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('120 s')}), 't',
	'after the import commits, audit_delivery_wait() returns true');
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE new_row->>'v' LIKE 'import%') || ' ' ||
	       count(*) FILTER (WHERE new_row->>'v' LIKE 'released%') || ' ' ||
	       count(*) FILTER (WHERE new_row->>'v' LIKE 'rolled back%') || ' ' ||
	       count(*) FILTER (WHERE new_row->>'v' = 'last')
	  FROM tenant_rls.audit_log}),
	'40000 40000 0 1', 'every committed row has exactly one entry, the rolled back savepoint none');
# (an early flush inside a savepoint writes that savepoint's entries, not
# those its transaction queued before it: the order holds per level)
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM (
	  SELECT split_part(new_row->>'v', ' ', 1) AS kind,
	         row_number() OVER (PARTITION BY split_part(new_row->>'v', ' ', 1) ORDER BY seq, entry) AS pos,
	         row_number() OVER (PARTITION BY split_part(new_row->>'v', ' ', 1) ORDER BY (new_row->>'id')::bigint) AS idpos
	    FROM tenant_rls.audit_log
	   WHERE tenant = 'a' AND (new_row->>'v' LIKE 'import%' OR new_row->>'v' LIKE 'released%')) x
	 WHERE pos <> idpos}),
	'0', 'the entries of the import are in the chain in the order they were made');
is($node->safe_psql('postgres', q{
	SELECT string_agg(new_row->>'v', ', ' ORDER BY seq DESC, entry DESC) FROM (
	  SELECT * FROM tenant_rls.audit_log WHERE tenant = 'a' ORDER BY seq DESC, entry DESC LIMIT 1) x}),
	'last', '... and the last row made is the last entry of a');
is($node->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE NOT ok) FROM tenant_rls.audit_verify()}), '0',
	'every chain verifies');
is($node->safe_psql('postgres', q{SELECT delivery FROM tenant_rls.audit_delivery_status()}),
	'deferred', 'delivery is still deferred');
unlike(slurp_file($node->logfile), qr/audit delivery could not lock/, 'the worker never waited for a chain');
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.lint() WHERE code LIKE 'audit_delivery%'}), '0',
	'lint() reports nothing about delivery');

# an early flush inside a savepoint is written under the savepoint's
# subtransaction: the status and lint() name the transaction instead (the
# xid pg_prepared_xacts, pg_locks and the user know)
$s = $node->background_psql('postgres', on_error_stop => 1);
$s->query_safe(q{SET tenant_rls.audit_delivery = deferred});
$s->query_safe(q{BEGIN});
$s->query_safe(q{SELECT tenant_rls.set_tenant('e')});
$s->query_safe(q{SELECT txid_current()});
my $top_xid = $s->query_safe(q{SELECT backend_xid FROM pg_stat_activity WHERE pid = pg_backend_pid()});
$s->query_safe(q{SAVEPOINT sp});
$s->query_safe($import =~ s/'import '/'in savepoint '/r);
ok($node->poll_query_until('postgres', q{SELECT oldest_pending_xid IS NOT NULL FROM tenant_rls.audit_delivery_status()}),
	'an early flush in a savepoint is pending');
is($node->safe_psql('postgres', q{SELECT oldest_pending_xid FROM tenant_rls.audit_delivery_status()}), $top_xid,
	'... and the status names its transaction, not the subtransaction');
$s->query_safe(q{ROLLBACK});
$s->quit;
ok($node->poll_query_until('postgres', q{SELECT oldest_pending_xid IS NULL FROM tenant_rls.audit_delivery_status()}),
	'... until it rolls back');

# audit_delivery_stop() while an import that deferred is open: stop() waits
# for it, and what the import flushes meanwhile (early, and at its commit)
# still goes into the WAL, so its entries stay in order
$s = $node->background_psql('postgres', on_error_stop => 1);
$s->query_safe(q{SET tenant_rls.audit_delivery = deferred});
$s->query_safe(q{BEGIN});
$s->query_safe(q{SELECT tenant_rls.set_tenant('c')});
$s->query_safe($import);
my $stopper = $node->background_psql('postgres', on_error_stop => 0);
$stopper->query_until(qr/stopping/, q{\echo stopping
SELECT tenant_rls.audit_delivery_stop('120 s');
});
ok($node->poll_query_until('postgres', q{SELECT delivery = 'immediate' FROM tenant_rls.audit_delivery_status()}),
	'audit_delivery_stop() has begun (writers no longer defer)');
$s->query_safe($import =~ s/'import '/'second '/r);
$s->query_safe(q{INSERT INTO public.big (v) VALUES ('last c')});
$s->query_safe(q{COMMIT});
$s->quit;
$stopper->quit;
is($node->safe_psql('postgres', q{SELECT worker_running FROM tenant_rls.audit_delivery_status()}), 'f',
	'audit_delivery_stop() finished once the import committed');
is($node->safe_psql('postgres', q{
	SELECT count(*) || ' ' || count(DISTINCT (new_row->>'id')) FROM tenant_rls.audit_log WHERE tenant = 'c'}),
	'80001 80001', 'the import is in the log, every row once');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM (
	  SELECT row_number() OVER (ORDER BY seq, entry) AS pos,
	         row_number() OVER (ORDER BY (new_row->>'id')::bigint) AS idpos
	    FROM tenant_rls.audit_log WHERE tenant = 'c') x
	 WHERE pos <> idpos}),
	'0', '... in the order its rows were made (nothing written immediately ahead of the rest)');

# with max_slot_wal_keep_size set, a checkpoint could invalidate the slot
# under a long import: there its early flush is not deferred but kept for
# its commit, in a temporary file, as with immediate delivery (it holds no
# chain meanwhile; test/t/068_audit_large_import.pl), and nothing is lost
$node->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_start()});
$node->safe_psql('postgres', q{ALTER SYSTEM SET max_slot_wal_keep_size = '10GB'; SELECT pg_reload_conf();});
$s = $node->background_psql('postgres', on_error_stop => 1);
$s->query_safe(q{SET tenant_rls.audit_delivery = deferred});
$s->query_safe(q{SHOW max_slot_wal_keep_size});
$s->query_safe(q{BEGIN});
$s->query_safe(q{SELECT tenant_rls.set_tenant('d')});
$s->query_safe($import);
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	WHERE l.locktype = 'advisory' AND a.backend_type = 'client backend' AND a.state = 'idle in transaction'}),
	'0', 'with max_slot_wal_keep_size set, the open import keeps its early flush for its commit (it holds no chain)');
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.audit_log WHERE tenant = 'd'}),
	'0', '... and nothing of it is in the log yet');
$s->query_safe(q{COMMIT});
$s->quit;
is($node->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('60 s')}), 't', '... and after its commit');
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.audit_log WHERE tenant = 'd'}),
	'40000', 'every row of it is in the log');
is($node->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE NOT ok) FROM tenant_rls.audit_verify()}), '0',
	'every chain still verifies');

# a transaction's entries of a tenant are delivered in command order across
# its messages (the worker merges them): a statement past 32 MB whose
# BEFORE trigger closes the previous row (its rows are queued when it ends,
# after the trigger's UPDATEs went into an early message), and a row
# written before a savepoint and changed inside it, where an early flush
# sends the savepoint's entries first.  The worker merges in temporary
# files, whatever temp_file_limit says (review rev43b: it failed on it, and
# delivery stopped)
$node->safe_psql('postgres', q{
ALTER SYSTEM RESET max_slot_wal_keep_size;
ALTER SYSTEM SET temp_file_limit = '1MB';
SELECT pg_reload_conf();
});
$node->safe_psql('postgres', $versioned_table);
$node->safe_psql('postgres', q{
SET tenant_rls.audit_delivery = deferred;
INSERT INTO public.ver (id, tenant_id, grp, v)
SELECT g, CASE WHEN g % 3 = 0 THEN 'w' ELSE 'v' END, g % 7, repeat('z', 3000) FROM generate_series(1, 12000) g;
BEGIN;
INSERT INTO public.ver (id, tenant_id, grp, v) VALUES (100000, 'sp', 0, 'outer');
SAVEPOINT s;
UPDATE public.ver SET v = 'inner' WHERE id = 100000;
INSERT INTO public.ver (id, tenant_id, grp, v) SELECT 100000 + g, 'sp', g, repeat('y', 3000) FROM generate_series(1, 12000) g;
RELEASE SAVEPOINT s;
COMMIT;
});
# savepoints that flush early leave the outer level's entries queued: with
# two nested ones, the commit's batches passed 64 MB, and were written by
# the committing session, in the log before the savepoints' messages
# (review rev43c); now they go as several messages
$node->safe_psql('postgres', q{
SET tenant_rls.audit_delivery = deferred;
BEGIN;
INSERT INTO public.ver (id, tenant_id, grp, v) SELECT 500000 + g, 'sq', 500000 + g, repeat('q', 3000) FROM generate_series(1, 9000) g;
SAVEPOINT a;
INSERT INTO public.ver (id, tenant_id, grp, v) SELECT 600000 + g, 'sq', 600000 + g, repeat('q', 3000) FROM generate_series(1, 10000) g;
SAVEPOINT b;
INSERT INTO public.ver (id, tenant_id, grp, v) SELECT 700000 + g, 'sq', 700000 + g, repeat('q', 3000) FROM generate_series(1, 10000) g;
RELEASE SAVEPOINT b;
RELEASE SAVEPOINT a;
UPDATE public.ver SET v = 'changed' WHERE id = 600001;
COMMIT;
});
is($node->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('120 s')}), 't', 'both delivered');
# (the checks below sort more than 1 MB themselves)
$node->safe_psql('postgres', q{ALTER SYSTEM RESET temp_file_limit; SELECT pg_reload_conf();});
is($node->safe_psql('postgres', q{
	WITH l AS (SELECT tenant, operation, row_pk, row_number() OVER (PARTITION BY tenant ORDER BY seq, entry) AS pos
	             FROM tenant_rls.audit_log WHERE table_name = 'ver')
	SELECT (SELECT count(*) FROM l WHERE operation = 'INSERT') || ' ' ||
	       (SELECT count(*) FROM l WHERE operation = 'UPDATE') || ' ' ||
	       (SELECT count(*) FROM l i JOIN l u ON u.tenant = i.tenant AND u.row_pk = i.row_pk
	         WHERE i.operation = 'INSERT' AND u.operation = 'UPDATE' AND u.pos < i.pos)}),
	'53001 11988 0', 'each row is delivered written before it is changed');
is($node->safe_psql('postgres', q{
	SELECT (SELECT string_agg(operation || ' ' || coalesce(new_row->>'cur', new_row->>'v'), ', ' ORDER BY seq, entry)
	          FROM tenant_rls.audit_history('public.ver', '{"id": 11986}')) || ' | ' ||
	       (SELECT string_agg(operation || ' ' || coalesce(new_row->>'cur', new_row->>'v'), ', ' ORDER BY seq, entry)
	          FROM tenant_rls.audit_history('public.ver', '{"id": 100000}'))}),
	'INSERT true, UPDATE false | INSERT true, UPDATE inner',
	'... audit_history() of a row of the statement and of the row changed in the savepoint');
is($node->safe_psql('postgres', q{
	SELECT string_agg(operation || ' ' || length(new_row->>'v'), ', ' ORDER BY seq, entry)
	  FROM tenant_rls.audit_history('public.ver', '{"id": 600001}')}),
	'INSERT 3000, UPDATE 7',
	'... and of a row written in a savepoint, changed after it, past 64 MB of queue');
is($node->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE NOT ok) FROM tenant_rls.audit_verify()}), '0',
	'every chain still verifies');
is($node->safe_psql('postgres', q{SELECT delivery FROM tenant_rls.audit_delivery_status()}),
	'deferred', '... and delivery is still deferred');

$node->stop;
done_testing();
