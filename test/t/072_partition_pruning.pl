# Plan-time partition pruning of tables partitioned by the tenant column
# (src/planner_prune.c; review rev25c).  With the library preloaded, a plan
# made for one execution names only the tenant's partition, a plan the
# extended protocol caches is made again at each change of tenant (a stale
# one would read nothing), plans that are not (SQL functions, statements
# with parameters) get no value, and rows a grant or the admin role makes
# visible stay visible (review rev26a), and the extension dropped and
# created again in one session is looked up again.  A plan with the value
# refuses a change of tenant while it runs and fails after one no check
# hook sees (reviews rev28b/c, rev29a/b; named portals through
# test/pgwire.py).  Everything runs as app: not superuser, not BYPASSRLS, not the
# owner of the tables.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('partition_pruning');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'tenant_rls, pg_stat_statements'
pg_stat_statements.track_planning = on
tenant_rls.audit = off
tenant_rls.admin_role = 'support'
});
$node->start;
$node->safe_psql('postgres', q{
SET client_min_messages = error;
CREATE EXTENSION tenant_rls;
CREATE EXTENSION pg_stat_statements;
CREATE ROLE app LOGIN;
CREATE ROLE support;
CREATE ROLE supporter LOGIN IN ROLE support;
CREATE ROLE owner_role;
CREATE SCHEMA s AUTHORIZATION owner_role;
GRANT USAGE ON SCHEMA s TO app, supporter;
SET ROLE owner_role;
-- bigint tenants, one list partition each
CREATE TABLE s.orders (tenant_id bigint NOT NULL, id int NOT NULL, v int,
                       PRIMARY KEY (tenant_id, id)) PARTITION BY LIST (tenant_id);
CREATE TABLE s.orders_1 PARTITION OF s.orders FOR VALUES IN (1);
CREATE TABLE s.orders_2 PARTITION OF s.orders FOR VALUES IN (2);
CREATE TABLE s.orders_3 PARTITION OF s.orders FOR VALUES IN (3);
INSERT INTO s.orders SELECT t, i, t * 100 + i FROM generate_series(1, 3) t, generate_series(1, 10) i;
-- text tenants, hash partitions, the tenant's partitions by range below
CREATE TABLE s.notes (tenant_id text NOT NULL, id int NOT NULL, body text) PARTITION BY HASH (tenant_id);
CREATE TABLE s.notes_0 PARTITION OF s.notes FOR VALUES WITH (MODULUS 4, REMAINDER 0) PARTITION BY RANGE (id);
CREATE TABLE s.notes_0_lo PARTITION OF s.notes_0 FOR VALUES FROM (MINVALUE) TO (5);
CREATE TABLE s.notes_0_hi PARTITION OF s.notes_0 FOR VALUES FROM (5) TO (MAXVALUE);
CREATE TABLE s.notes_1 PARTITION OF s.notes FOR VALUES WITH (MODULUS 4, REMAINDER 1);
CREATE TABLE s.notes_2 PARTITION OF s.notes FOR VALUES WITH (MODULUS 4, REMAINDER 2);
CREATE TABLE s.notes_3 PARTITION OF s.notes FOR VALUES WITH (MODULUS 4, REMAINDER 3);
INSERT INTO s.notes SELECT 't' || t, i, 'n' FROM generate_series(1, 8) t, generate_series(1, 10) i;
-- uuid tenants, hash partitions
CREATE TABLE s.items (tenant_id uuid NOT NULL, id int NOT NULL) PARTITION BY HASH (tenant_id);
CREATE TABLE s.items_0 PARTITION OF s.items FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE s.items_1 PARTITION OF s.items FOR VALUES WITH (MODULUS 2, REMAINDER 1);
INSERT INTO s.items SELECT md5(t::text)::uuid, i FROM generate_series(1, 6) t, generate_series(1, 5) i;
-- partitioned by something else: nothing to prune by the tenant
CREATE TABLE s.events (tenant_id bigint NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE s.events_a PARTITION OF s.events FOR VALUES FROM ('2026-01-01') TO ('2026-07-01');
CREATE TABLE s.events_b PARTITION OF s.events FOR VALUES FROM ('2026-07-01') TO ('2027-01-01');
INSERT INTO s.events SELECT t, DATE '2026-01-01' + i * 30 FROM generate_series(1, 3) t, generate_series(0, 11) i;
-- a table with a grant
CREATE TABLE s.docs (tenant_id text NOT NULL, id int NOT NULL) PARTITION BY LIST (tenant_id);
CREATE TABLE s.docs_1 PARTITION OF s.docs FOR VALUES IN ('t1');
CREATE TABLE s.docs_2 PARTITION OF s.docs FOR VALUES IN ('t2');
CREATE TABLE s.docs_3 PARTITION OF s.docs FOR VALUES IN ('t3');
INSERT INTO s.docs SELECT 't' || t, i FROM generate_series(1, 3) t, generate_series(1, 10) i;
-- partitioned by time, each month by tenant below
CREATE TABLE s.visits (tenant_id bigint NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE s.visits_jan PARTITION OF s.visits FOR VALUES FROM ('2026-01-01') TO ('2026-02-01') PARTITION BY LIST (tenant_id);
CREATE TABLE s.visits_jan_1 PARTITION OF s.visits_jan FOR VALUES IN (1);
CREATE TABLE s.visits_jan_2 PARTITION OF s.visits_jan FOR VALUES IN (2);
CREATE TABLE s.visits_jan_3 PARTITION OF s.visits_jan FOR VALUES IN (3);
CREATE TABLE s.visits_feb PARTITION OF s.visits FOR VALUES FROM ('2026-02-01') TO ('2026-03-01') PARTITION BY LIST (tenant_id);
CREATE TABLE s.visits_feb_1 PARTITION OF s.visits_feb FOR VALUES IN (1);
CREATE TABLE s.visits_feb_2 PARTITION OF s.visits_feb FOR VALUES IN (2);
CREATE TABLE s.visits_feb_3 PARTITION OF s.visits_feb FOR VALUES IN (3);
INSERT INTO s.visits SELECT t, DATE '2026-01-01' + i FROM generate_series(1, 3) t, generate_series(0, 49) i;
CREATE TABLE s.customers (tenant_id bigint NOT NULL, id int PRIMARY KEY);
INSERT INTO s.customers SELECT (i - 1) % 3 + 1, i FROM generate_series(1, 30) i;
-- not partitioned, no tenant index: read by sequential scans
CREATE TABLE s.ledger (tenant_id bigint NOT NULL, amount int NOT NULL);
-- STABLE functions the planner runs to estimate a qual: one changes the
-- tenant, one sets it again to what it is
CREATE FUNCTION s.switch_tenant(t bigint) RETURNS int LANGUAGE plpgsql STABLE AS
  $$ BEGIN PERFORM tenant_rls.set_tenant(t); RETURN 0; END $$;
-- opens a cursor as tenant 2 (a SET clause), fetches once and returns it:
-- the SET clause gives the caller's tenant back when it returns
CREATE FUNCTION s.open_as_2(n int) RETURNS refcursor LANGUAGE plpgsql
  SET app.current_tenant_id = '2' AS
  $$ DECLARE c refcursor := 'c2'; r record;
  BEGIN OPEN c FOR SELECT tenant_id, amount FROM s.ledger WHERE amount > n; FETCH c INTO r; RETURN c; END $$;
CREATE FUNCTION s.touch_tenant() RETURNS int LANGUAGE plpgsql STABLE AS
  $$ BEGIN PERFORM set_config('app.current_tenant_id', current_setting('app.current_tenant_id'), true); RETURN 0; END $$;
INSERT INTO s.ledger SELECT (i - 1) % 3 + 1, i FROM generate_series(1, 3000) i;
RESET ROLE;
SELECT count(*) FROM tenant_rls.protect('s.orders');
SELECT count(*) FROM tenant_rls.protect('s.notes');
SELECT count(*) FROM tenant_rls.protect('s.events');
SELECT count(*) FROM tenant_rls.protect('s.items');
SELECT count(*) FROM tenant_rls.protect('s.customers');
SELECT count(*) FROM tenant_rls.protect('s.visits');
SELECT count(*) FROM tenant_rls.protect('s.ledger');
SELECT count(*) FROM tenant_rls.protect('s.docs');
GRANT SELECT, UPDATE, DELETE ON s.orders TO app;
GRANT SELECT ON s.notes, s.events, s.customers, s.docs, s.items, s.visits, s.ledger TO app, supporter;
GRANT SELECT ON s.orders TO supporter;
-- tenant 3 may read tenant 1's documents
SELECT tenant_rls.grant_access('s.docs', 't1', 't3', 'read');
ANALYZE;
});

sub as_role
{
	my ($role, $sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', $sql,
		extra_params => [ '-U', $role ], on_error_stop => 1);
	diag("stderr: $err") if $ret != 0;
	return $out;
}
sub as_app { return as_role('app', $_[0]); }

# the partitions a plan names (EXPLAIN without costs), in order, and how many
# the executor removed when it started (the plan had them all)
sub scanned
{
	my ($plan) = @_;
	my @parts = $plan =~ /Scan (?:using \S+ )?on (\w+)/g;
	my @removed = $plan =~ /Subplans Removed: (\d+)/g;
	return join(',', @parts) . (@removed ? ' +' . join('+', @removed) . ' removed at executor start' : '');
}

# --- a plan for one execution names the tenant's partition only
my $plan = as_app(q{BEGIN; SELECT tenant_rls.set_tenant(2::bigint) \g /dev/null
EXPLAIN (COSTS OFF) SELECT * FROM s.orders WHERE id = 3; COMMIT;});
is(scanned($plan), 'orders_2', 'simple protocol: the plan names only the tenant\'s list partition (pruned while planning)');
like($plan, qr/One-Time Filter: tenant_rls\._planned_tenant_is\('2'::text\)/, '... and checks once that the tenant is still 2')
  or diag($plan);
is(as_app(q{BEGIN; SELECT tenant_rls.set_tenant(2::bigint) \g /dev/null
SELECT string_agg(tenant_id || ':' || id, ',' ORDER BY id) FROM s.orders WHERE id <= 3; COMMIT;}),
	'2:1,2:2,2:3', '... and reads the tenant\'s rows');

$plan = as_app(q{BEGIN; SELECT tenant_rls.set_tenant('t5') \g /dev/null
EXPLAIN (COSTS OFF) SELECT count(*) FROM s.notes; COMMIT;});
my $t5 = $node->safe_psql('postgres', q{SELECT tableoid::regclass FROM s.notes WHERE tenant_id = 't5' LIMIT 1});
$t5 =~ s/^s\.//;
is(scanned($plan), $t5, 'text tenants in hash partitions: one partition');
$plan = as_app(q{BEGIN; SELECT tenant_rls.set_tenant('t5') \g /dev/null
EXPLAIN (COSTS OFF) SELECT * FROM s.notes WHERE id = 7; COMMIT;});
my $hi = $t5 eq 'notes_0' ? 'notes_0_hi' : $t5;
is(scanned($plan), $hi, '... and partitions below it pruned by their own key');

my $u = $node->safe_psql('postgres', q{SELECT md5('4')::uuid});
my $upart = $node->safe_psql('postgres', qq{SELECT tableoid::regclass FROM s.items WHERE tenant_id = '$u' LIMIT 1});
$upart =~ s/^s\.//;
$plan = as_app(qq{BEGIN; SELECT tenant_rls.set_tenant('$u'::uuid) \\g /dev/null
EXPLAIN (COSTS OFF) SELECT count(*) FROM s.items; COMMIT;});
is(scanned($plan), $upart, 'uuid tenants in hash partitions: one partition');
is(as_app(qq{BEGIN; SELECT tenant_rls.set_tenant('$u'::uuid) \\g /dev/null
SELECT count(*), count(DISTINCT tenant_id) FROM s.items; COMMIT;}), '5|1', '... and the tenant\'s rows');
# a value not in the type's canonical form: no value, the accessor refuses it
my ($r, $o, $e) = $node->psql('postgres', qq{BEGIN; SET LOCAL app.current_tenant_id = '} . uc($u) . qq{';
EXPLAIN (COSTS OFF) SELECT count(*) FROM s.items; COMMIT;}, extra_params => [ '-U', 'app' ]);
like("$o$e", qr/Subplans Removed: 2|not in the canonical form/, '... an upper-case uuid gets no value') or diag("$o$e");

# nothing to prune by: every partition, each scanned for the value
$plan = as_app(q{BEGIN; SELECT tenant_rls.set_tenant(2::bigint) \g /dev/null
EXPLAIN (COSTS OFF) SELECT count(*) FROM s.events; COMMIT;});
is(scanned($plan), 'events_a,events_b', 'a table partitioned by time: every partition');
like($plan, qr/Filter: \(tenant_id = '2'::bigint\)/, '... each filtered by the value') or diag($plan);

# partitioned by time, by tenant below: the tenant's partition of each month
$plan = as_app(q{BEGIN; SELECT tenant_rls.set_tenant(2::bigint) \g /dev/null
EXPLAIN (COSTS OFF) SELECT count(*) FROM s.visits; COMMIT;});
is(scanned($plan), 'visits_jan_2,visits_feb_2', 'partitioned by time, then by tenant: pruned below the top level');
is(as_app(q{BEGIN; SELECT tenant_rls.set_tenant(2::bigint) \g /dev/null
SELECT count(*), min(tenant_id), max(tenant_id) FROM s.visits; COMMIT;}), '50|2|2', '... the tenant\'s rows');

# not partitioned: a sequential scan compares with the value, not with a
# call per row; the accessor is checked once
$plan = as_app(q{BEGIN; SELECT tenant_rls.set_tenant(3::bigint) \g /dev/null
EXPLAIN (COSTS OFF) SELECT sum(amount) FROM s.ledger; COMMIT;});
like($plan, qr/One-Time Filter: tenant_rls\._planned_tenant_is\('3'::text\).*Seq Scan on ledger\s+Filter: \(tenant_id = '3'::bigint\)/s,
	'a table that is not partitioned: the scan filters by the value, the tenant is checked once') or diag($plan);
unlike($plan, qr/current_tenant_bigint/, '... the accessor is not called at all') or diag($plan);
is(as_app(q{BEGIN; SELECT tenant_rls.set_tenant(3::bigint) \g /dev/null
SELECT count(*), min(tenant_id), max(tenant_id) FROM s.ledger; COMMIT;}), '1000|3|3', '... the tenant\'s rows');
# statements of one simple-protocol message are each planned when they run
is(as_app(q{BEGIN\; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
SELECT count(*), min(tenant_id) FROM s.ledger\; SELECT tenant_rls.set_tenant(2::bigint)\; SELECT count(*), min(tenant_id) FROM s.ledger\; COMMIT;}),
	"1000|1\n2\n1000|2", 'several statements in one message: each planned for the tenant set before it');
# a change of tenant while a plan made with the value runs is refused: the
# plan would go on reading the first tenant's rows, or (a subquery checking
# its tenant again) nothing, which makes NOT IN true (reviews rev28a, rev28b)
sub as_app_err
{
	my ($sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', $sql, extra_params => [ '-U', 'app' ]);
	return $err;
}
my $refused = qr/ERROR:  cannot change the tenant while a statement planned for tenant "1" is running/;
like(as_app_err(q{BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
SELECT t, tenant_rls.set_tenant(t::bigint), (SELECT count(*) FROM s.ledger WHERE amount > t - 10) FROM generate_series(1, 2) t; COMMIT;}),
	$refused, 'a statement that changes the tenant while it runs: refused (the same tenant again is not a change)');
like(as_app_err(q{BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
WITH t AS MATERIALIZED (SELECT tenant_rls.set_tenant(2::bigint) AS x)
SELECT count(*), min(l.tenant_id) FROM t CROSS JOIN s.ledger l; COMMIT;}),
	$refused, '... also before the scan starts (a CTE run first)');
like(as_app_err(q{CREATE TEMP TABLE u AS SELECT generate_series(1, 6) AS id;
BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
DELETE FROM u WHERE tenant_rls.set_tenant(3::bigint) IS NOT NULL
   AND id NOT IN (SELECT amount FROM s.ledger WHERE amount < 7) RETURNING id; COMMIT;}),
	$refused, '... and in a DELETE whose NOT IN subquery reads a tenant table');
like(as_app_err(q{BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
DECLARE c CURSOR FOR SELECT * FROM s.orders;
SELECT tenant_rls.set_tenant(2::bigint); COMMIT;}),
	$refused, '... while a cursor planned for the tenant is open');
is(as_app(q{BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
DECLARE c CURSOR FOR SELECT * FROM s.orders; CLOSE c;
SELECT tenant_rls.set_tenant(2::bigint) \g /dev/null
SELECT count(*), min(tenant_id) FROM s.orders; COMMIT;
BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
SAVEPOINT a; DECLARE c CURSOR FOR SELECT * FROM s.orders; ROLLBACK TO a;
SELECT tenant_rls.set_tenant(3::bigint) \g /dev/null
SELECT count(*), min(tenant_id) FROM s.orders; COMMIT;
BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
SELECT t, (SELECT count(*) FROM s.ledger) FROM generate_series(1, 2) t;
SELECT tenant_rls.set_tenant(2::bigint) \g /dev/null
SELECT count(*) FROM s.ledger; COMMIT;}),
	"10|2\n10|3\n1|1000\n2|1000\n1000",
	'... and allowed once the cursor is closed, or gone with its savepoint, or the statement has ended');
like(as_app_err(q{BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
SAVEPOINT a; DECLARE c CURSOR FOR SELECT * FROM s.orders; RELEASE a;
SAVEPOINT b; ROLLBACK TO b;
SELECT tenant_rls.set_tenant(2::bigint); COMMIT;}),
	$refused, '... a cursor of a released savepoint stays open: still refused');
# cursors of nested savepoints: a savepoint's cursors pass to its parent
# when it is released and go when it is rolled back, the others stay
my (undef, $nested, $nested_err) = $node->psql('postgres', q{BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
DECLARE a CURSOR FOR SELECT * FROM s.orders;
SAVEPOINT s1; DECLARE b CURSOR FOR SELECT * FROM s.orders;
SAVEPOINT s2; DECLARE c CURSOR FOR SELECT * FROM s.orders; RELEASE s2;
ROLLBACK TO s1;
SAVEPOINT s3; SELECT tenant_rls.set_tenant(2::bigint); ROLLBACK TO s3;
CLOSE a; SELECT tenant_rls.set_tenant(2::bigint) \g /dev/null
SELECT count(*), min(tenant_id) FROM s.orders; COMMIT;
BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
SAVEPOINT s1; DECLARE b CURSOR FOR SELECT * FROM s.orders; RELEASE s1;
SAVEPOINT s2; DECLARE c CURSOR FOR SELECT * FROM s.orders; ROLLBACK TO s2;
SAVEPOINT s3; SELECT tenant_rls.set_tenant(3::bigint); ROLLBACK TO s3;
FETCH 1 FROM b \g /dev/null
CLOSE b; SELECT tenant_rls.set_tenant(3::bigint) \g /dev/null
SELECT count(*), min(tenant_id) FROM s.orders; COMMIT;}, extra_params => [ '-U', 'app' ], on_error_stop => 0);
is($nested, "10|2\n10|3",
	'... cursors of nested savepoints: a released savepoint\'s cursor stays until closed, a rolled-back one\'s goes')
  or diag($nested_err);
like($nested_err, qr/\A[^\n]*ERROR:  cannot change the tenant while a statement planned for tenant "1" is running\n(?:[^\n]*(?:DETAIL|HINT)[^\n]*\n)*[^\n]*ERROR:  cannot change the tenant while a statement planned for tenant "1" is running\n(?:[^\n]*(?:DETAIL|HINT)[^\n]*\n?)*\z/,
	'... refused twice (the cursor declared before the savepoints, the released savepoint\'s), nothing else failed') or diag($nested_err);
# many cursors at once, then the next transaction (the bookkeeping grown for
# them is dropped at the end of the transaction and made again)
my $many = join('', map { "DECLARE m$_ CURSOR FOR SELECT * FROM s.orders;\n" } 1 .. 100);
my (undef, $many_out, $many_err) = $node->psql('postgres',
	"BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \\g /dev/null\n$many"
	  . join('', map { "CLOSE m$_;\n" } 1 .. 99)
	  . "SELECT tenant_rls.set_tenant(2::bigint); COMMIT;\n"
	  . "BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \\g /dev/null\n$many COMMIT;\n"
	  . "BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \\g /dev/null\n"
	  . "DECLARE c CURSOR FOR SELECT * FROM s.orders;\nSELECT tenant_rls.set_tenant(3::bigint); COMMIT;\n"
	  . "BEGIN; SELECT tenant_rls.set_tenant(3::bigint) \\g /dev/null\nSELECT count(*), min(tenant_id) FROM s.orders; COMMIT;",
	extra_params => [ '-U', 'app' ], on_error_stop => 0);
is($many_out, "10|3", '... many cursors: the session goes on');
like($many_err,
	qr/\A(?:[^\n]*ERROR:  cannot change the tenant while a statement planned for tenant "1" is running\n(?:[^\n]*(?:DETAIL|HINT)[^\n]*\n?)*){2}\z/,
	'100 cursors open, 99 closed: the last one refuses; after a transaction with 100 open, a cursor of the next one refuses too');
# changes no check hook sees (a reset, a SET clause's value given back):
# the plan fails when it next runs, or at the end of the run in which the
# tenant changed (review rev28c)
like(as_app_err(q{BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
DECLARE c CURSOR FOR SELECT tenant_id FROM s.orders; FETCH 2 FROM c;
SELECT set_config('app.current_tenant_id', NULL, true) \g /dev/null
FETCH 3 FROM c; COMMIT;}),
	qr/ERROR:  statement planned for tenant "1" ran with no tenant/, 'a cursor fetched after set_config(..., NULL): fails');
like(as_app_err(q{BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
WITH r AS MATERIALIZED (SELECT set_config('app.current_tenant_id', NULL, true) x)
SELECT l.tenant_id, count(*) FROM r CROSS JOIN LATERAL (SELECT tenant_id FROM s.ledger WHERE r.x IS NOT NULL) l GROUP BY 1; COMMIT;}),
	qr/ERROR:  statement planned for tenant "1" ran with no tenant/, '... a statement that reset the tenant while it ran: fails');
my $err_out = as_app_err(q{BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
SELECT s.open_as_2(0) \g /dev/null
SELECT tenant_rls.set_tenant(3::bigint) \g /dev/null
FETCH 3 FROM c2; COMMIT;});
like($err_out, qr/ERROR:  cannot change the tenant while a statement planned for tenant "2" is running/,
	'a cursor a function opened as tenant 2 (SET clause): a change to tenant 3 names tenant 2') or diag($err_out);
like(as_app_err(q{BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
SELECT s.open_as_2(0) \g /dev/null
FETCH 3 FROM c2; COMMIT;}),
	qr/ERROR:  statement planned for tenant "2" ran with tenant "1"/, '... and fetched under the tenant the SET clause gave back: fails');
# a change of tenant while the executor starts (a STABLE function run to
# prune partitions at start-up, also under EXPLAIN): an error naming both
# tenants, before the plan is registered as running (review rev32c)
{
	$node->safe_psql('postgres', q{SET client_min_messages = error;
SET ROLE owner_role;
CREATE TABLE s.sub (tenant_id bigint NOT NULL, id int NOT NULL) PARTITION BY LIST (tenant_id);
CREATE TABLE s.sub_1 PARTITION OF s.sub FOR VALUES IN (1) PARTITION BY HASH (id);
CREATE TABLE s.sub_1a PARTITION OF s.sub_1 FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE s.sub_1b PARTITION OF s.sub_1 FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE s.sub_2 PARTITION OF s.sub FOR VALUES IN (2);
RESET ROLE;
INSERT INTO s.sub SELECT t, i FROM generate_series(1, 2) t, generate_series(1, 10) i;
SELECT count(*) FROM tenant_rls.protect('s.sub');
GRANT SELECT ON s.sub TO app;});
	# st() changes the tenant when the planner estimates with it; st2() only
	# when it is called the second time, by the executor's start-up
	my $st = q{CREATE FUNCTION pg_temp.st() RETURNS int LANGUAGE plpgsql STABLE
	AS $$ BEGIN PERFORM set_config('app.current_tenant_id', '2', true); RETURN 1; END $$;
CREATE FUNCTION pg_temp.st2() RETURNS int LANGUAGE plpgsql STABLE
	AS $$ BEGIN
	IF current_setting('x.calls', true) = '1' THEN PERFORM set_config('app.current_tenant_id', '2', true); END IF;
	PERFORM set_config('x.calls', '1', true); RETURN 1; END $$;
};
	my (undef, $out, $err) = $node->psql('postgres', $st . q{BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
EXPLAIN (COSTS OFF) SELECT * FROM s.sub WHERE id = pg_temp.st();
ROLLBACK;
BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
EXPLAIN (COSTS OFF) SELECT * FROM s.sub WHERE id = pg_temp.st2();
ROLLBACK;
BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
DECLARE c CURSOR FOR SELECT * FROM s.sub WHERE id = pg_temp.st2();
ROLLBACK;
BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
SELECT count(*) FROM s.sub WHERE id = pg_temp.st2();
ROLLBACK;
BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
SELECT current_setting('app.current_tenant_id'), count(*) FROM s.sub;
ROLLBACK;}, extra_params => [ '-U', 'app' ], on_error_stop => 0);
	is($out, "1|10", '... the session goes on with its tenant') or diag($err);
	like($err, qr/\A(?:[^\n]*ERROR:  statement planned for tenant "1" ran with tenant "2"\n(?:[^\n]*(?:DETAIL|HINT|CONTEXT)[^\n]*\n?)*){4}\z/,
		'a change of tenant while planning (EXPLAIN), or while the executor starts (EXPLAIN, DECLARE, SELECT): refused, naming the planned tenant') or diag($err);
}
# a cursor whose fetch failed in a savepoint is gone from the count
my (undef, $fetched, $fetch_err) = $node->psql('postgres', q{BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
DECLARE c CURSOR FOR SELECT tenant_id, 1 / (id - 3) FROM s.orders;
SAVEPOINT a; FETCH ALL FROM c \g /dev/null
ROLLBACK TO a; CLOSE c;
SELECT tenant_rls.set_tenant(2::bigint) \g /dev/null
SELECT count(*), min(tenant_id) FROM s.orders; COMMIT;}, extra_params => [ '-U', 'app' ], on_error_stop => 0);
is($fetched, "10|2", 'a cursor whose fetch failed in a rolled-back savepoint no longer blocks a change of tenant')
  or diag($fetch_err);
# a cursor that failed outside its run (a backward fetch of a NO SCROLL
# cursor) no longer blocks a change once closed (review rev29a)
(undef, $fetched, $fetch_err) = $node->psql('postgres', q{BEGIN; SELECT tenant_rls.set_tenant(2::bigint) \g /dev/null
DECLARE c NO SCROLL CURSOR FOR SELECT * FROM s.orders;
SAVEPOINT a; FETCH BACKWARD 1 FROM c; ROLLBACK TO a; CLOSE c;
SELECT tenant_rls.set_tenant(3::bigint) \g /dev/null
SELECT count(*), min(tenant_id) FROM s.orders; COMMIT;}, extra_params => [ '-U', 'app' ], on_error_stop => 0);
is($fetched, "10|3", 'a NO SCROLL cursor fetched backward in a rolled-back savepoint, then closed: no longer blocks a change')
  or diag($fetch_err);
like($fetch_err, qr/\A[^\n]*ERROR:  cursor can only scan forward\nHINT:[^\n]*\n?\z/,
	'... only the backward fetch failed') or diag($fetch_err);
# a change no check hook sees (set_config(..., NULL) back to the session's
# tenant 3) in a data-modifying WITH query, which runs after the main query
# (ExecutorFinish), or undone before the run ends: the rows of tenant 2 the
# plan reads would be written as tenant 3's (review rev29a)
$node->safe_psql('postgres', q{
CREATE TABLE s.copies (tenant_id bigint NOT NULL, note text);
SELECT count(*) FROM tenant_rls.protect('s.copies');
GRANT SELECT, INSERT ON s.copies TO app;
CREATE FUNCTION s.to_session_tenant() RETURNS bigint LANGUAGE plpgsql AS
  $$ BEGIN PERFORM set_config('app.current_tenant_id', NULL, true); RETURN tenant_rls.current_tenant_bigint(); END $$;
CREATE FUNCTION s.back_to(t bigint) RETURNS bigint LANGUAGE plpgsql AS
  $$ BEGIN PERFORM tenant_rls.set_tenant(t); RETURN t; END $$;
});
{
	local $ENV{PGOPTIONS} = '-c app.current_tenant_id=3';
	like(as_app_err(q{BEGIN; SELECT tenant_rls.set_tenant(2::bigint) \g /dev/null
WITH src AS (SELECT * FROM s.orders WHERE id <= 3),
     w AS (INSERT INTO s.copies SELECT s.to_session_tenant(), 'copied ' || tenant_id || ':' || id FROM src RETURNING 1)
SELECT 1; COMMIT;}),
		qr/ERROR:  statement planned for tenant "2" ran with tenant "3"/,
		'a data-modifying WITH query that resets the tenant: fails');
	like(as_app_err(q{BEGIN; SELECT tenant_rls.set_tenant(2::bigint) \g /dev/null
INSERT INTO s.copies SELECT s.to_session_tenant(), 'copied ' || tenant_id || ':' || id FROM s.orders WHERE id <= 3
  RETURNING tenant_id, s.back_to(2); COMMIT;}),
		qr/ERROR:  statement planned for tenant "2" ran with tenant "3"/,
		'... a statement that resets the tenant and sets it back before its run ends: fails');
	is(as_app(q{BEGIN; SELECT tenant_rls.set_tenant(3::bigint) \g /dev/null
SELECT count(*) FROM s.copies; COMMIT;}), '0', '... and tenant 3 got no copy of tenant 2\'s rows');
	is(as_app(q{BEGIN; SELECT tenant_rls.set_tenant(2::bigint) \g /dev/null
DECLARE c CURSOR FOR SELECT id FROM s.orders ORDER BY id; FETCH 1 FROM c;
SELECT set_config('app.current_tenant_id', NULL, true) \g /dev/null
SELECT tenant_rls.set_tenant(2::bigint) \g /dev/null
FETCH 1 FROM c; CLOSE c; COMMIT;}), "1\n2",
		'... a cursor fetched again once the tenant is back: no error (it read nothing meanwhile)');
}
# the extended protocol step by step (test/pgwire.py), as app
sub wire
{
	my ($script) = @_;
	my ($out, $err);
	IPC::Run::run([ 'python3', "$ENV{TR_SRC}/test/pgwire.py", $node->host, $node->port, 'app', 'postgres' ],
		'<', \$script, '>', \$out, '2>', \$err)
	  or diag("pgwire.py: $err");
	return $out;
}
# a named portal run in parts: after a change no check hook sees, its next
# Execute fails before it hands over a row
my $wired = wire(q{Q BEGIN
Q SELECT tenant_rls.set_tenant(1::bigint) IS NOT NULL
P s1 SELECT tenant_id, id FROM s.orders ORDER BY id
B p1 s1
E p1 1
S
Q SELECT set_config('app.current_tenant_id', NULL, true) IS NULL
E p1 3
S
Q ROLLBACK
});
is($wired, qq{complete BEGIN\nrow t\ncomplete SELECT 1\nrow 1|1\nsuspended\nrow f\ncomplete SELECT 1\n}
	. qq{error 55000 statement planned for tenant "1" ran with no tenant\ncomplete ROLLBACK\n},
	'a named portal executed in parts, the tenant reset in between: no row of its next Execute, an error');
# a portal whose executor starts at Execute (a DELETE), bound for tenant 1,
# run after a change to tenant 2: its check fails, it deletes nothing
$wired = wire(q{Q BEGIN
Q SELECT tenant_rls.set_tenant(1::bigint) IS NOT NULL
P d1 DELETE FROM s.orders WHERE id = 4
B pd d1
S
Q SELECT tenant_rls.set_tenant(2::bigint) IS NOT NULL
E pd 0
S
Q ROLLBACK
});
is($wired, qq{complete BEGIN\nrow t\ncomplete SELECT 1\nrow t\ncomplete SELECT 1\n}
	. qq{error 55000 statement planned for tenant "1" ran with tenant "2"\ncomplete ROLLBACK\n},
	'a DELETE bound for tenant 1 and executed as tenant 2: the plan\'s check fails') or diag($wired);
# a cursor left open at ROLLBACK blocks nothing in the next transaction
is(as_app(q{BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
DECLARE c CURSOR FOR SELECT * FROM s.orders; FETCH 1 FROM c \g /dev/null
ROLLBACK;
BEGIN; SELECT tenant_rls.set_tenant(2::bigint) \g /dev/null
SELECT count(*), min(tenant_id) FROM s.orders; COMMIT;}), '10|2',
	'a cursor open at ROLLBACK: the next transaction changes the tenant');
# a function the planner runs (to estimate a qual) that changes the tenant
# leaves a plan made for the first one: it fails rather than reading nothing
like(as_app_err(q{BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
SELECT count(*) FROM s.ledger WHERE amount > s.switch_tenant(2); COMMIT;}),
	qr/ERROR:  statement planned for tenant "1" ran with tenant "2"/,
	'a change of tenant while planning: the plan made for the first tenant fails');
# a plan that may be cached keeps the accessor
$plan = as_app(q{PREPARE l AS SELECT sum(amount) FROM s.ledger;
BEGIN; SELECT tenant_rls.set_tenant(3::bigint) \g /dev/null
EXPLAIN (COSTS OFF) EXECUTE l; COMMIT;});
like($plan, qr/Filter: \(tenant_id = tenant_rls\.current_tenant_bigint\(\)\)/,
	'... a generic plan of a statement without parameters keeps the accessor (not planned again per tenant)') or diag($plan);
$plan = as_app(q{SET plan_cache_mode = force_custom_plan;
PREPARE l(int) AS SELECT sum(amount) FROM s.ledger WHERE amount > $1;
BEGIN; SELECT tenant_rls.set_tenant(3::bigint) \g /dev/null
EXPLAIN (COSTS OFF) EXECUTE l(0); COMMIT;});
like($plan, qr/Filter: \(.*tenant_id = '3'::bigint\)/, '... a custom plan gets the value') or diag($plan);
$plan = as_app(q{BEGIN; SELECT tenant_rls.set_tenant(3::bigint) \g /dev/null
EXPLAIN (COSTS OFF) SELECT * FROM (SELECT sum(amount) FROM s.ledger) x; COMMIT;});
like($plan, qr/'3'::bigint/, '... a subquery in FROM gets the value') or diag($plan);

# no tenant: no value, no rows
$plan = as_app(q{EXPLAIN (COSTS OFF) SELECT * FROM s.orders});
is(scanned($plan), ' +3 removed at executor start', 'no tenant: no value, every partition pruned at executor start');
is(as_app(q{SELECT count(*) FROM s.orders}), '0', '... and no rows');

# --- plans cached across a change of tenant
my $out = as_app(q{
PREPARE q AS SELECT tenant_id, count(*), sum(v) FROM s.orders GROUP BY 1;
BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
EXECUTE q; EXECUTE q; COMMIT;
BEGIN; SELECT tenant_rls.set_tenant(2::bigint) \g /dev/null
EXECUTE q; COMMIT;
SELECT tenant_rls.set_tenant(3::bigint, false) \g /dev/null
EXECUTE q;
SELECT tenant_rls.set_tenant(1::bigint, false) \g /dev/null
EXECUTE q;
SELECT tenant_rls.clear_tenant() \g /dev/null
EXECUTE q;
SELECT 'end';
});
is($out, "1|10|1055\n1|10|1055\n2|10|2055\n3|10|3055\n1|10|1055\nend",
	'PREPARE without parameters follows each change of tenant');
$plan = as_app(q{PREPARE q AS SELECT count(*) FROM s.orders;
BEGIN; SELECT tenant_rls.set_tenant(2::bigint) \g /dev/null
EXPLAIN (COSTS OFF) EXECUTE q; COMMIT;});
is(scanned($plan), 'orders_2 +2 removed at executor start',
	'... its plan, not told apart from a SQL function\'s, gets no value (pruned at executor start)');
$plan = as_app(q{SET plan_cache_mode = force_custom_plan;
PREPARE p(int) AS SELECT count(*) FROM s.orders WHERE id > $1;
BEGIN; SELECT tenant_rls.set_tenant(2::bigint) \g /dev/null
EXPLAIN (COSTS OFF) EXECUTE p(1); COMMIT;});
is(scanned($plan), 'orders_2', 'a custom plan of a prepared statement is pruned while planning');

# the extended protocol: a named statement without parameters, whose generic
# plan the plan cache keeps, gets the value and is planned again for each
# tenant; one whose parameter hides in a sub-select does not (review rev26a);
# nor does another table's statement
sub pgbench_prepared
{
	my ($name, $body, $runs, @opts) = @_;
	my $script = $node->basedir . "/$name.sql";
	PostgreSQL::Test::Utils::append_to_file($script, $body);
	my ($o, $e) = ('', '');
	my $ok = IPC::Run::run(
		[ 'pgbench', '-n', '-M', 'prepared', '-c', '1', '-t', $runs, @opts, '-f', $script,
		  '-h', $node->host, '-p', $node->port, '-U', 'app', 'postgres' ],
		'>', \$o, '2>', \$e);
	ok($ok && $o =~ /number of transactions actually processed: $runs\/$runs/,
		"pgbench -M prepared, $name: every transaction read its own tenant's rows") or diag("$o $e");
}
my $check = <<'EOT';
\set t random(1, 3)
BEGIN;
SELECT tenant_rls.set_tenant(:t::bigint);
SELECT coalesce(min(tenant_id), 0) AS lo, coalesce(max(tenant_id), 0) AS hi FROM s.orders \gset
END;
\if :lo != :t or :hi != :t
SELECT 'tenant ' || :t || ' read ' || :lo || '..' || :hi AS wrong_rows, 1 / 0;
\endif
EOT
pgbench_prepared('cached_generic', $check, 30);
(my $check_ledger = $check) =~ s/FROM s\.orders/FROM s.ledger/;
pgbench_prepared('cached_generic_unpartitioned', $check_ledger, 30);
$check =~ s/FROM s\.orders/FROM s.orders WHERE id > (SELECT :t - 100) AND tenant_id > -1/;
pgbench_prepared('generic_with_parameter', $check, 30, '-D', 'x=1');
$out = $node->safe_psql('postgres', q{SELECT calls, plans, query LIKE '%WHERE id >%' AS with_parameter
  FROM pg_stat_statements WHERE query LIKE '%AS lo, coalesce(max(tenant_id)%' AND query NOT LIKE '%s.ledger%' ORDER BY 3});
my @rows = split /\n/, $out;
like($rows[0] // '', qr/^30\|([2-9]|[12][0-9]|30)\|f$/,
	'... the statement without parameters was planned again for changes of tenant') or diag($out);
like($rows[1] // '', qr/^30\|[1-6]\|t$/,
	'... the one with a parameter kept its plans (custom plans first, then the generic one)') or diag($out);
is($node->safe_psql('postgres', q{SELECT calls || '/' || plans FROM pg_stat_statements
  WHERE query LIKE '%AS hi FROM s.ledger%'}), '30/1',
	'... that of a table not partitioned by the tenant was planned once (its generic plan has no value)');
# a table partitioned by time (tenant sub-partitions below): its generic
# plan keeps the accessor too, rather than being planned for every tenant
(my $check_visits = $check_ledger) =~ s/FROM s\.ledger/FROM s.visits/;
pgbench_prepared('cached_generic_time_partitioned', $check_visits, 30);
is($node->safe_psql('postgres', q{SELECT calls || '/' || plans FROM pg_stat_statements
  WHERE query LIKE '%AS hi FROM s.visits%'}), '30/1',
	'... that of a table partitioned by time, with tenant sub-partitions, was planned once');
# a plan whose planning set the tenant again (to the same value) is still
# planned again at the next change (review rev28b)
(my $check_touch = $check_ledger) =~ s/FROM s\.ledger/FROM s.orders WHERE v > s.touch_tenant()/;
pgbench_prepared('planning_sets_the_tenant', $check_touch, 30);

# ... and only those: a cached plan of another table is planned once
$out = as_app(q{
PREPARE q AS SELECT count(*) FROM s.orders;
PREPARE other AS SELECT count(*) AS other_count FROM s.customers;
BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
EXECUTE q; EXECUTE other; COMMIT;
BEGIN; SELECT tenant_rls.set_tenant(2::bigint) \g /dev/null
EXECUTE q; EXECUTE other; COMMIT;
BEGIN; SELECT tenant_rls.set_tenant(3::bigint) \g /dev/null
EXECUTE q; EXECUTE other; COMMIT;
});
is($out, "10\n10\n10\n10\n10\n10", '... (the statements ran)');
is($node->safe_psql('postgres', q{SELECT plans || '/' || calls FROM pg_stat_statements
  WHERE query LIKE '%other_count%' AND query NOT LIKE '%pg_stat_statements%'}), '1/3',
	'a change of tenant leaves the cached plans of other tables alone');

$out = as_app(q{
PREPARE p(int) AS SELECT tenant_id, count(*) FROM s.orders WHERE id > $1 GROUP BY 1;
BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
EXECUTE p(0); EXECUTE p(1); EXECUTE p(2); EXECUTE p(3); EXECUTE p(4); EXECUTE p(5); EXECUTE p(6); COMMIT;
BEGIN; SELECT tenant_rls.set_tenant(2::bigint) \g /dev/null
EXECUTE p(8); COMMIT;
SET plan_cache_mode = force_generic_plan;
BEGIN; SELECT tenant_rls.set_tenant(3::bigint) \g /dev/null
EXECUTE p(9); COMMIT;
});
is($out, "1|10\n1|9\n1|8\n1|7\n1|6\n1|5\n1|4\n2|2\n3|1",
	'a prepared statement with parameters: custom and generic plans read the current tenant');
$plan = as_app(q{SET plan_cache_mode = force_generic_plan;
PREPARE p(int) AS SELECT count(*) FROM s.orders WHERE id > $1;
BEGIN; SELECT tenant_rls.set_tenant(2::bigint) \g /dev/null
EXPLAIN (COSTS OFF) EXECUTE p(1); COMMIT;});
is(scanned($plan), 'orders_2 +2 removed at executor start', '... a generic plan for any parameters keeps pruning at executor start');

$node->safe_psql('postgres', q{
CREATE FUNCTION s.order_summary() RETURNS text LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT string_agg(DISTINCT tenant_id::text, ',') || '/' || count(*) FROM s.orders);
END $$;
GRANT EXECUTE ON FUNCTION s.order_summary() TO app;
});
$out = as_app(q{
BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
SELECT s.order_summary(); SELECT s.order_summary(); COMMIT;
BEGIN; SELECT tenant_rls.set_tenant(3::bigint) \g /dev/null
SELECT s.order_summary(); COMMIT;
BEGIN; SELECT tenant_rls.set_tenant(2::bigint) \g /dev/null
SAVEPOINT a; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
SELECT s.order_summary(); ROLLBACK TO a;
SELECT s.order_summary(); COMMIT;
});
is($out, "1/10\n1/10\n3/10\n1/10\n2/10",
	'a PL/pgSQL function\'s cached query follows the tenant, also across a rolled-back savepoint');

# a SQL function plans all its statements when first called, outside the
# plan cache, and reuses them in the calling statement: no value (review
# rev26a: a value made them read nothing after set_tenant())
$node->safe_psql('postgres', q{
CREATE FUNCTION s.count_orders() RETURNS bigint LANGUAGE sql STABLE
    AS $$ SELECT count(*) FROM s.orders $$;
CREATE FUNCTION s.orders_of(t bigint) RETURNS bigint LANGUAGE sql
    AS $$ SELECT tenant_rls.set_tenant(t); SELECT count(*) FROM s.orders $$;
GRANT EXECUTE ON FUNCTION s.count_orders(), s.orders_of(bigint) TO app;
});
is(as_app(q{BEGIN;
SELECT t, tenant_rls.set_tenant(t::bigint), s.count_orders() FROM generate_series(1, 3) t; COMMIT;}),
	"1|1|10\n2|2|10\n3|3|10", 'a SQL function called under three tenants in one statement reads each');
is(as_app(q{BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
SELECT s.orders_of(2); COMMIT;}), '10', 'a SQL function that sets the tenant and then reads');

# a rule adds a query that is planned before the statement runs: no value
# (review rev26b: it read nothing after the statement changed the tenant)
$node->safe_psql('postgres', q{
SET ROLE owner_role;
CREATE TABLE s.cmd (t text);
CREATE TABLE s.rlog (n bigint, cur text);
CREATE RULE r AS ON INSERT TO s.cmd DO ALSO
    INSERT INTO s.rlog SELECT count(*), tenant_rls.current_tenant() FROM s.orders;
GRANT INSERT ON s.cmd, s.rlog TO app;
GRANT SELECT ON s.rlog TO app;
});
is(as_app(q{BEGIN; SELECT tenant_rls.set_tenant(1::bigint) \g /dev/null
INSERT INTO s.cmd VALUES (tenant_rls.set_tenant(2::bigint));
SELECT * FROM s.rlog; COMMIT;}), '10|2', 'a rule\'s query reads the tenant its statement set');

# --- writes, joins, and rows other than the tenant's own
$out = as_app(q{
BEGIN; SELECT tenant_rls.set_tenant(2::bigint) \g /dev/null
UPDATE s.orders SET v = v + 1 WHERE id = 1 RETURNING tenant_id, id;
DELETE FROM s.orders WHERE id = 10 RETURNING tenant_id, id;
COMMIT;
});
is($out, "2|1\n2|10", 'UPDATE and DELETE change one row of the tenant');
is($node->safe_psql('postgres', q{SELECT string_agg(tenant_id || ':' || id || ':' || v, ',' ORDER BY tenant_id, id)
  FROM s.orders WHERE id IN (1, 10)}), '1:1:101,1:10:110,2:1:202,3:1:301,3:10:310',
	'... the tenant\'s rows only');
is(as_app(q{BEGIN; SELECT tenant_rls.set_tenant(3::bigint) \g /dev/null
SELECT count(*), count(o.id), count(DISTINCT o.tenant_id)
  FROM s.customers c LEFT JOIN s.orders o ON o.id = c.id; COMMIT;}),
	'10|3|1', 'an outer join to the partitioned table: the tenant\'s rows only');

is(as_app(q{BEGIN; SELECT tenant_rls.set_tenant('t3') \g /dev/null
SELECT string_agg(DISTINCT tenant_id, ',') || '/' || count(*) FROM s.docs; COMMIT;}),
	't1,t3/20', 'a grant: the granted tenant\'s rows stay visible');
$plan = as_app(q{BEGIN; SELECT tenant_rls.set_tenant('t3') \g /dev/null
EXPLAIN (COSTS OFF) SELECT count(*) FROM s.docs; COMMIT;});
unlike($plan, qr/'t3'::text/, '... and the qual, which would prune nothing, is not replaced') or diag($plan);
is(as_app(q{BEGIN; SELECT tenant_rls.set_tenant('t2') \g /dev/null
SELECT string_agg(DISTINCT tenant_id, ',') || '/' || count(*) FROM s.docs; COMMIT;}),
	't2/10', '... to the grantee only');
is(as_role('supporter', q{BEGIN; SELECT tenant_rls.set_tenant(2::bigint) \g /dev/null
SELECT string_agg(DISTINCT tenant_id::text, ',') || '/' || count(*) FROM s.orders; COMMIT;}),
	'1,2,3/29', 'a member of admin_role: every tenant\'s rows stay visible');

# --- the extension dropped and created again in one session: the planner
#     looks its functions up again (the accessors and the check have new
#     OIDs; a remembered one would name a function that no longer exists)
my ($rr, $ro, $re) = $node->psql('postgres', q{
SET client_min_messages = error;
BEGIN; SET LOCAL ROLE app; SELECT tenant_rls.set_tenant(2::bigint) \g /dev/null
SELECT count(*) FROM s.orders; COMMIT;
DROP EXTENSION tenant_rls CASCADE;
CREATE EXTENSION tenant_rls;
SELECT count(*) > 0 FROM tenant_rls.protect('s.orders') \g /dev/null
BEGIN; SET LOCAL ROLE app; SELECT tenant_rls.set_tenant(3::bigint) \g /dev/null
EXPLAIN (COSTS OFF) SELECT count(*) FROM s.orders;
SELECT count(*) || '/' || min(v) FROM s.orders; COMMIT;}, on_error_stop => 1);
like($ro, qr/^\d+\n.*orders_3.*\n10\/301$/s,
	'the extension created again in the same session: the new functions, the value, the tenant\'s rows')
  or diag("$ro $re");
like($ro, qr/_planned_tenant_is\('3'::text\)/, '... with the check, by the new function') or diag($ro);

$node->stop;

# --- not preloaded: nothing would see a change of tenant, no value
my $lazy = PostgreSQL::Test::Cluster->new('partition_pruning_lazy');
$lazy->init;
$lazy->append_conf('postgresql.conf', "tenant_rls.audit = off\n");
$lazy->start;
$lazy->safe_psql('postgres', q{
SET client_min_messages = error;
CREATE EXTENSION tenant_rls;
CREATE ROLE app LOGIN;
CREATE TABLE public.orders (tenant_id bigint NOT NULL, id int NOT NULL) PARTITION BY LIST (tenant_id);
CREATE TABLE public.orders_1 PARTITION OF public.orders FOR VALUES IN (1);
CREATE TABLE public.orders_2 PARTITION OF public.orders FOR VALUES IN (2);
INSERT INTO public.orders SELECT t, i FROM generate_series(1, 2) t, generate_series(1, 5) i;
SELECT count(*) FROM tenant_rls.protect('public.orders');
GRANT SELECT ON public.orders TO app;
});
my ($lr, $lo, $le) = $lazy->psql('postgres', q{BEGIN; SELECT tenant_rls.set_tenant(2::bigint) \g /dev/null
EXPLAIN (COSTS OFF) SELECT count(*) FROM public.orders; SELECT count(*) FROM public.orders; COMMIT;},
	extra_params => [ '-U', 'app' ]);
like($lo, qr/Subplans Removed: 1.*\n5$/s, 'not preloaded: no value, pruned at executor start, the tenant\'s rows')
  or diag("$lo $le");
$lazy->stop;
done_testing();
