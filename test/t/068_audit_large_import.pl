# A transaction that queues more than 32 MB of audit entries, with immediate
# delivery (the default).  It used to write the batches of its current level
# into the log at once and keep those tenants' chain locks to its end, so
#  - every other writer of those tenants waited at its commit for the
#    import to end, and
#  - when the import later wrote a tenant that sorts before one it had
#    flushed, an ordinary commit of both tenants deadlocked with it.
# Now it moves them to a temporary file, still queued, and writes them at
# its commit like the rest: no chain is locked before the commit.  Its
# entries stay in the order they were made, a savepoint rolled back drops
# its spilled entries, one released keeps them, and the chains verify.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TenantRlsTest qw($versioned_table);

my $node = PostgreSQL::Test::Cluster->new('large_import');
$node->init;
$node->append_conf('postgresql.conf', q{
max_wal_size = 1GB
log_temp_files = 0
});
$node->start;
$node->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION tenant_rls;
SET tenant_rls.auto_protect = off;
CREATE TABLE public.big (id bigserial PRIMARY KEY, tenant_id text NOT NULL, v text);
SELECT tenant_rls.enable_audit('public.big');
});

# 40,000 rows of 1 kB of tenant x: more than 32 MB of entries
my $import = q{INSERT INTO public.big (tenant_id, v) SELECT 'x', 'import ' || g || ' ' || repeat('z', 1000) FROM generate_series(1, 40000) g};
my $chain_locks = q{SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	WHERE l.locktype = 'advisory' AND l.objsubid = 29810 AND a.backend_type = 'client backend'};

my $s = $node->background_psql('postgres', on_error_stop => 1);
# (the session's tenant context goes through the spill file with its batches)
$s->query_safe(q{SET app.current_tenant_id = 'importer'});
$s->query_safe(q{BEGIN});
$s->query_safe($import);
# (checked while it is open)
is($node->safe_psql('postgres', $chain_locks), '0', 'the open import holds no audit chain lock');
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.audit_log WHERE tenant = 'x'}), '0',
	'nothing of the open import is in the log');

# another writer of tenant x commits while the import is open: no wait
my ($ret, $out, $err) = $node->psql('postgres', q{
SET lock_timeout = '10s';
INSERT INTO public.big (tenant_id, v) VALUES ('x', 'small x');
});
is($ret, 0, 'a commit of the same tenant does not wait for the open import') or diag($err);

# the import now writes tenant a, which sorts before x; an ordinary
# transaction writes a, then x: it used to deadlock with the import
$s->query_safe(q{INSERT INTO public.big (tenant_id, v) VALUES ('a', 'import a')});
($ret, $out, $err) = $node->psql('postgres', q{
SET lock_timeout = '10s';
BEGIN;
INSERT INTO public.big (tenant_id, v) VALUES ('a', 'small a'), ('x', 'small x 2');
COMMIT;
});
is($ret, 0, 'a commit of a and x while the import holds entries of both: no wait, no deadlock') or diag($err);

# a savepoint that spills and is rolled back: its entries go; one that
# spills and is released: kept (after entries made before it, at the outer level)
$s->query_safe(q{INSERT INTO public.big (tenant_id, v) VALUES ('x', 'before savepoints')});
$s->query_safe(q{SAVEPOINT s1});
$s->query_safe($import =~ s/'import '/'rolled back '/r);
$s->query_safe(q{ROLLBACK TO SAVEPOINT s1});
$s->query_safe(q{SAVEPOINT s2});
$s->query_safe($import =~ s/'import '/'released '/r);
$s->query_safe(q{RELEASE SAVEPOINT s2});
$s->query_safe(q{INSERT INTO public.big (tenant_id, v) VALUES ('x', 'last')});
is($node->safe_psql('postgres', $chain_locks), '0', 'still no chain lock before the commit');
$s->query_safe(q{COMMIT});
$s->quit;

like(slurp_file($node->logfile), qr/LOG:  temporary file: path "[^"]*pgsql_tmp[^"]*", size \d{8,}/,
	'the import spilled its entries to a temporary file (log_temp_files), now removed');
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE new_row->>'v' ~ '^import \d') || ' ' ||
	       count(*) FILTER (WHERE new_row->>'v' LIKE 'released %') || ' ' ||
	       count(*) FILTER (WHERE new_row->>'v' LIKE 'rolled back %') || ' ' ||
	       count(*) FILTER (WHERE new_row->>'v' IN ('import a', 'before savepoints', 'last', 'small x', 'small a', 'small x 2'))
	  FROM tenant_rls.audit_log}),
	'40000 40000 0 6', 'every committed row has exactly one entry, the rolled back savepoint none');
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE context_tenant = 'importer') || ' ' || count(*)
	  FROM tenant_rls.audit_log WHERE new_row->>'v' ~ '^(import \d|released |before savepoints$|last$)'}),
	'80002 80002', 'the import\'s entries record its session\'s tenant context, spilled or not');
# x's chain: the small commits first (they committed first), then the
# import's entries in the order its rows were made
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM (
	  SELECT row_number() OVER (ORDER BY seq, entry) AS pos,
	         row_number() OVER (ORDER BY (new_row->>'id')::bigint) AS idpos
	    FROM tenant_rls.audit_log WHERE tenant = 'x' AND new_row->>'v' NOT LIKE 'small%') x
	 WHERE pos <> idpos}),
	'0', 'the import\'s entries are chained in the order they were made (savepoint or not)');
is($node->safe_psql('postgres', q{
	SELECT string_agg(new_row->>'v', ', ' ORDER BY seq, entry) FROM tenant_rls.audit_log
	 WHERE tenant = 'x' AND (new_row->>'v' LIKE 'small%' OR new_row->>'v' IN ('before savepoints', 'last'))}),
	'small x, small x 2, before savepoints, last', '... after the commits that came before it');
is($node->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE NOT ok) FROM tenant_rls.audit_verify()}), '0',
	'every chain verifies');
unlike(slurp_file($node->logfile), qr/deadlock detected|temporary file leak/, 'no deadlock, no leaked temporary file');

# many small batches (rows of 20 tenants interleaved: each row its own
# batch): the spill keeps one entry per run in memory, not one per batch
# (review rev19d D1: with one per batch every entry past 32 MB of them spilled
# again, quadratic: 200,000 rows took 592 s)
($ret, $out, $err) = $node->psql('postgres', q{
SET statement_timeout = '60s';
BEGIN;
INSERT INTO public.big (tenant_id, v) SELECT 't' || (g % 20), 'r' FROM generate_series(1, 300000) g;
ROLLBACK;
});
is($ret, 0, '300,000 one-row batches of 20 tenants interleaved: spilled within a minute') or diag($err);

# a spill that fails (temp_file_limit) inside a savepoint that catches the
# error: the transaction goes on and commits what it kept (review rev19d D2:
# the file's buffer kept the failed write, and COMMIT failed on it)
($ret, $out, $err) = $node->psql('postgres', qq{
SET temp_file_limit = '50MB';
BEGIN;
$import;
DO \$\$ BEGIN
    INSERT INTO public.big (tenant_id, v) SELECT 'y', 'over ' || g || ' ' || repeat('z', 1000) FROM generate_series(1, 40000) g;
EXCEPTION WHEN others THEN RAISE NOTICE 'caught: %', SQLERRM;
END \$\$;
INSERT INTO public.big (tenant_id, v) VALUES ('x', 'after the failed spill');
COMMIT;
});
is($ret, 0, 'a spill over temp_file_limit caught by a savepoint: the transaction commits') or diag($err);
like($err, qr/caught: temporary file size exceeds temp_file_limit/, '... the spill did fail') or diag($err);
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE new_row->>'v' = 'after the failed spill') || ' ' ||
	       count(*) FILTER (WHERE new_row->>'v' LIKE 'over %')
	  FROM tenant_rls.audit_log WHERE tenant IN ('x', 'y')}),
	'1 0', '... with its entries, none of the rolled back block');

# spills that keep failing, each caught by a savepoint: the memory each
# failed attempt used is freed (review rev19e D1: it stayed in
# TopTransactionContext, about 17 MB a time, 5 GB after 300)
($ret, $out, $err) = $node->psql('postgres', qq{
SET temp_file_limit = '50MB';
BEGIN;
$import;
DO \$\$ BEGIN
    FOR i IN 1..10 LOOP
        BEGIN
            INSERT INTO public.big (tenant_id, v) SELECT 'y', 'again ' || g || ' ' || repeat('z', 1000) FROM generate_series(1, 25000) g;
        EXCEPTION WHEN others THEN RAISE NOTICE 'caught: %', SQLERRM;
        END;
    END LOOP;
END \$\$;
SELECT 'memory: ' || sum(total_bytes) FROM pg_backend_memory_contexts;
ROLLBACK;
});
is($ret, 0, 'ten failed spills, each caught') or diag($err);
my @caught = $err =~ /caught: temporary file size exceeds temp_file_limit/g;
is(scalar(@caught), 10, '... each of them failed on temp_file_limit') or diag($err);
my ($mem) = $out =~ /memory: (\d+)/;
cmp_ok($mem // 0, '<', 200_000_000, '... and the session holds less than 200 MB afterwards') or diag("out=$out");

# a statement that passes 32 MB whose BEFORE trigger closes the previous
# version of the row's group: the trigger's UPDATEs are queued as they are
# made, the statement's rows when it ends, after the spill took the
# UPDATEs of most of them.  Every row is still recorded written before it is
# recorded closed (reviews rev41e, rev42a: 1,061 rows the other way round):
# such a tenant's entries are merged in command order at commit.  Tenant u,
# in order, is written as it is.
$node->safe_psql('postgres', $versioned_table . q{
-- (the UPDATEs as another role: their own batches, kept apart in the merge)
CREATE ROLE closer;
GRANT SELECT, UPDATE ON public.ver TO closer;
ALTER FUNCTION public.ver_close() OWNER TO closer;
ALTER FUNCTION public.ver_close() SECURITY DEFINER;
});
$node->safe_psql('postgres', q{
SET app.current_tenant_id = 'importer';
BEGIN;
INSERT INTO public.big (tenant_id, v) VALUES ('v', 'v first'), ('u', 'u first');
INSERT INTO public.ver (id, tenant_id, grp, v)
SELECT g, CASE WHEN g % 3 = 0 THEN 'w' ELSE 'v' END, g % 7, repeat('z', 3000) FROM generate_series(1, 12000) g;
INSERT INTO public.big (tenant_id, v) VALUES ('v', 'v last'), ('u', 'u last');
COMMIT;
});
my $ver_order = q{
	WITH l AS (SELECT tenant, operation, row_pk, seq, entry, new_row->>'v' AS v,
	                  row_number() OVER (PARTITION BY tenant ORDER BY seq, entry) AS pos
	             FROM tenant_rls.audit_log WHERE tenant IN ('u', 'v', 'w') AND txid = (
	                  SELECT max(txid) FROM tenant_rls.audit_log WHERE table_name = 'ver'))
	SELECT (SELECT count(*) FROM l WHERE operation = 'INSERT' AND row_pk ? 'id' AND v IS NOT NULL AND length(v) = 3000) || ' ' ||
	       (SELECT count(*) FROM l WHERE operation = 'UPDATE') || ' ' ||
	       (SELECT count(*) FROM l i JOIN l u ON u.tenant = i.tenant AND u.row_pk = i.row_pk
	         WHERE i.operation = 'INSERT' AND u.operation = 'UPDATE' AND u.pos < i.pos) || ' ' ||
	       (SELECT string_agg(tenant || ':' || v || '@' || CASE pos WHEN 1 THEN 'first' ELSE 'last' END, ', ' ORDER BY tenant, pos)
	          FROM l WHERE v LIKE '_ first' OR v LIKE '_ last') || ' ' ||
	       (SELECT count(*) FROM l WHERE v = 'v last' AND pos = (SELECT count(*) FROM l WHERE tenant = 'v'))
};
is($node->safe_psql('postgres', $ver_order),
	'12000 11986 0 u:u first@first, u:u last@last, v:v first@first, v:v last@last 1',
	'a 36 MB statement whose BEFORE trigger closes the previous row: each row recorded written before closed');
is($node->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE NOT ok) FROM tenant_rls.audit_verify()}), '0',
	'... and every chain verifies');
# tenant v: its first row, the statement's rows, the trigger's UPDATEs (as
# closer), its last row; w: the rows, the UPDATEs; u (in order): two batches
is($node->safe_psql('postgres', q{
	SELECT string_agg(tenant || ' ' || n, ', ' ORDER BY tenant) FROM (
	  SELECT tenant, string_agg(table_name || ':' || db_user || ':' || entries || ':' || context_tenant, ' ' ORDER BY seq) AS n
	    FROM tenant_rls.audit_batch WHERE tenant IN ('u', 'v', 'w') AND txid = (
	         SELECT max(txid) FROM tenant_rls.audit_batch WHERE table_name = 'ver')
	   GROUP BY tenant) b}),
	'u big:postgres:1:importer big:postgres:1:importer, '
	. 'v big:postgres:1:importer ver:postgres:8000:importer ver:closer:7993:importer big:postgres:1:importer, '
	. 'w ver:postgres:4000:importer ver:closer:3993:importer',
	'... its entries grouped again into batches by context (table, role, tenant context)');
is($node->safe_psql('postgres', q{
	SELECT string_agg(operation || coalesce(' ' || (new_row->>'cur'), ''), ', ' ORDER BY seq, entry)
	  FROM tenant_rls.audit_history('public.ver', '{"id": 11986}')}),
	'INSERT true, UPDATE false', '... audit_history() of a row written near the end of it');

# a savepoint whose spilled entries were out of order, rolled back: the
# tenant's later entries are written, not left to a merge that no longer
# runs (review rev43a: they were lost)
$node->safe_psql('postgres', q{
BEGIN;
SAVEPOINT s;
INSERT INTO public.ver (id, tenant_id, grp, v) SELECT 200000 + g, 'r', g % 7, repeat('z', 3000) FROM generate_series(1, 12000) g;
INSERT INTO public.ver (id, tenant_id, grp, v) SELECT 300000 + g, 'r', g % 7, repeat('z', 3000) FROM generate_series(1, 12000) g;
ROLLBACK TO SAVEPOINT s;
INSERT INTO public.ver (id, tenant_id, grp, v) VALUES (400000, 'r', 0, 'after the rollback');
COMMIT;
});
is($node->safe_psql('postgres', q{
	SELECT string_agg(operation || ' ' || (new_row->>'v'), ', ') FROM tenant_rls.audit_log WHERE tenant = 'r'}),
	'INSERT after the rollback', 'a savepoint that spilled out of order, rolled back: the entry made after it is in the log');

# a prepared transaction: written at PREPARE TRANSACTION, the file closed
$node->append_conf('postgresql.conf', 'max_prepared_transactions = 2');
$node->restart;
$node->safe_psql('postgres', "BEGIN; $import; PREPARE TRANSACTION 'big';");
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_prepared_xacts}), '1', 'a large transaction prepares');
$node->safe_psql('postgres', q{COMMIT PREPARED 'big'});
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.audit_log WHERE tenant = 'x' AND new_row->>'v' LIKE 'import %'}),
	'120000', '... and its entries are in the log once committed');
is($node->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE NOT ok) FROM tenant_rls.audit_verify()}), '0',
	'every chain still verifies');

$node->stop;
done_testing();
