# Tenant sessions on a physical streaming hot standby (read replica), and the
# standby's promotion (review rev49a).  Every tenant check runs as app: not
# superuser, not BYPASSRLS, not the owner of the tables.
#   1. on the standby, in its read-only transactions: set_tenant_signed()
#      works and writes nothing; own rows, global rows and a cross-tenant
#      grant; strict mode refuses SET, set_config(), RESET, SET LOCAL,
#      set_tenant() and connection options; the audit log shows the tenant's
#      own entries only.
#   2. grants changed on the primary reach standby sessions that hold them in
#      their grant cache: a revoke replayed in the middle of a REPEATABLE READ
#      transaction, a grant replayed under a prepared statement planned
#      without it, a TRUNCATE of tenant_rls.tenant_grant.
#   3. the superuser's reports on the standby: audit_verify(),
#      audit_verify_head(), lint() (no delivery findings: the primary
#      delivers), coverage(), table_health.
#   4. audit_delivery_wait() on the standby of a database that defers, while
#      the primary's worker holds a change back: refused (it returned true at
#      once while the change was not in the log).
#   5. a database renamed on the primary under a standby session (the rename
#      is refused on the primary while anyone is connected, not under the
#      sessions of a standby): the session's tokens are those of its
#      database's new name, not of the new database with the old name.
#   6. promotion, with a change the primary had not delivered: the launcher
#      of the promoted server resumes deferred delivery by itself (review
#      rev51d: nothing did, and the server log said nothing) and says so in
#      the server log; the held change reaches the log, a session connected
#      before the promotion writes as its tenant and defers again, the
#      chains verify, lint() reports no lost slot.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use Test::More;

my $key = 'tap-standby-key-0123456789abcdef0123456789';
my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'tenant_rls'
tenant_rls.strict = on
tenant_rls.signing_key = '$key'
});
$primary->start;
$primary->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION tenant_rls;
CREATE ROLE app LOGIN;
CREATE ROLE owner_r NOLOGIN;
CREATE TABLE public.orders (id int PRIMARY KEY, tenant_id text NOT NULL, v text);
CREATE TABLE public.docs (id int PRIMARY KEY, tenant_id text, v text);
CREATE INDEX ON public.orders (tenant_id);
CREATE INDEX ON public.docs (tenant_id);
ALTER TABLE public.orders OWNER TO owner_r;
ALTER TABLE public.docs OWNER TO owner_r;
SELECT count(*) FROM tenant_rls.allow_global_rows('public.docs');
GRANT USAGE ON SCHEMA public TO app;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.orders, public.docs TO app;
SELECT tenant_rls.enable_audit('public.orders');
INSERT INTO public.orders VALUES (1, 'a', 'a1'), (2, 'b', 'b1'), (3, 'c', 'c1'), (4, 'a', 'a2');
INSERT INTO public.docs VALUES (1, NULL, 'global'), (2, 'a', 'a-doc'), (3, 'b', 'b-doc');
SELECT tenant_rls.grant_access('public.orders', 'b', 'a', 'read');
SELECT tenant_rls.audit_delivery_start();
ALTER DATABASE postgres SET tenant_rls.audit_delivery = deferred;
CREATE DATABASE appdb;
});
$primary->safe_psql('appdb', 'CREATE EXTENSION tenant_rls');
ok($primary->poll_query_until('postgres', q{SELECT worker_running FROM tenant_rls.audit_delivery_status()}),
	'primary: the delivery worker runs');
is($primary->safe_psql('postgres', q{SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = 'app'}),
	'f', 'app is neither superuser nor BYPASSRLS');

$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
# (a promotion keeps no more WAL than this: lint() reports a standby that
# could not deliver what its primary has not delivered, section 4b)
$standby->append_conf('postgresql.conf', "wal_keep_size = '32MB'");
$standby->start;
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');

sub token
{
	my ($tenant, $db) = @_;
	return $primary->safe_psql($db // 'postgres', "SELECT tenant_rls.sign_tenant('$tenant')");
}
my $tok_a = token('a');

sub catchup { $primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert')); }

# run as app on the standby: (exit code, stdout, stderr)
sub on_standby
{
	my ($sql, %opt) = @_;
	my ($ret, $out, $err) = $standby->psql($opt{db} // 'postgres', $sql,
		extra_params => [ '-U', 'app', '-v', 'ON_ERROR_STOP=1' ]);
	return ($ret, $out, $err);
}

sub refused_like
{
	my ($sql, $re, $name) = @_;
	my ($ret, $out, $err) = on_standby($sql);
	ok($ret != 0 && $err =~ $re, $name) or diag("ret=$ret out=$out err=$err");
}

# ---- 1. tenant context and isolation on the standby
{
	my ($ret, $out, $err) = on_standby(qq{
BEGIN;
SELECT tenant_rls.set_tenant_signed('$tok_a');
SELECT pg_catalog.current_setting('transaction_read_only');
SELECT string_agg(id || ':' || tenant_id, ',' ORDER BY id) FROM public.orders;
SELECT string_agg(id || ':' || coalesce(tenant_id, '-'), ',' ORDER BY id) FROM public.docs;
SELECT pg_catalog.txid_current_if_assigned() IS NULL;
COMMIT;
});
	is($ret, 0, 'standby: set_tenant_signed() in a read-only transaction') or diag($err);
	is($out, "a\non\n1:a,2:b,4:a\n1:-,2:a\nt",
		'standby: own rows, global rows, the granted rows; no transaction id taken');
}
refused_like(q{SET app.current_tenant_id = 'b'}, qr/only be changed through tenant_rls.set_tenant_signed/, 'standby: SET refused');
refused_like(q{SELECT set_config('app.current_tenant_id', 'b', false)}, qr/only be changed through tenant_rls.set_tenant_signed/,
	'standby: set_config() refused');
refused_like(q{BEGIN; SET LOCAL app.current_tenant_id = 'b'}, qr/only be changed through tenant_rls.set_tenant_signed/,
	'standby: SET LOCAL refused');
refused_like(q{RESET app.current_tenant_id}, qr/cannot be reset in strict mode/, 'standby: RESET refused');
refused_like(q{BEGIN; SELECT tenant_rls.set_tenant('b')}, qr/not allowed in strict mode/, 'standby: set_tenant() refused');
{
	my $tok_b = token('b');
	refused_like(qq{BEGIN; SELECT tenant_rls.set_tenant_signed('$tok_a'); SELECT tenant_rls.set_tenant_signed('$tok_b')},
		qr/the tenant cannot change within a transaction in strict mode/, 'standby: a second tenant in the same transaction refused');
	local $ENV{PGOPTIONS} = '-c app.current_tenant_id=b';
	refused_like('SELECT 1', qr/cannot be set at connection start in strict mode/, 'standby: connection options refused');
}
is((on_standby('SELECT count(*) FROM public.orders'))[1], '0', 'standby: no tenant, no rows');
{
	my ($ret, $out, $err) = on_standby(qq{
BEGIN;
SELECT tenant_rls.set_tenant_signed('$tok_a') \\g /dev/null
SELECT count(*) FILTER (WHERE tenant IS DISTINCT FROM 'a') || ' ' || count(*) FROM tenant_rls.audit_log;
SELECT count(*) FROM tenant_rls.audit_history('public.orders', '{"id": 2}');
SELECT count(*) FROM tenant_rls.audit_history('public.orders', '{"id": 1}');
COMMIT;
});
	my $own = $primary->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.audit_log WHERE tenant = 'a'});
	ok($own > 0, 'tenant a has entries in the log');
	is($out, "0 $own\n0\n1", 'standby: the audit log shows the tenant its own entries only') or diag($err);
}

# ---- 2. grant caches of standby sessions follow the primary's changes
# one long-lived psql session as app on the standby
my ($in, $out, $err) = ('', '', '');
my $sess = IPC::Run::start([ 'psql', '-XAtq', '-h', $standby->host, '-p', $standby->port, '-U', 'app', '-d', 'postgres', '-f', '-' ],
	'<', \$in, '>', \$out, '2>', \$err, IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
my $marker = 0;
sub sess_query
{
	my ($sql) = @_;
	$marker++;
	$out = '';
	$err = '';
	$in .= "$sql\nSELECT 'done-$marker';\n";
	$sess->pump until $out =~ /done-$marker/;
	(my $res = $out) =~ s/\n?done-$marker\n?//;
	return $res;
}
sess_query(q{PREPARE q AS SELECT string_agg(id || ':' || tenant_id, ',' ORDER BY id) FROM public.orders;});
is(sess_query(qq{BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT tenant_rls.set_tenant_signed('$tok_a') \\g /dev/null
EXECUTE q;}), '1:a,2:b,4:a', 'standby session: the grant is cached');
$primary->safe_psql('postgres', q{SELECT tenant_rls.revoke_access('public.orders', 'b', 'a')});
catchup();
is(sess_query('EXECUTE q; COMMIT;'), '1:a,4:a', 'standby session: a revoke replayed mid-transaction takes effect');
$primary->safe_psql('postgres', q{SELECT tenant_rls.grant_access('public.orders', 'c', 'a', 'read')});
catchup();
is(sess_query(qq{BEGIN; SELECT tenant_rls.set_tenant_signed('$tok_a') \\g /dev/null
EXECUTE q; COMMIT;}), '1:a,3:c,4:a', 'standby session: a grant replayed under a prepared statement takes effect');
$primary->safe_psql('postgres', q{TRUNCATE tenant_rls.tenant_grant});
catchup();
is(sess_query(qq{BEGIN; SELECT tenant_rls.set_tenant_signed('$tok_a') \\g /dev/null
EXECUTE q; COMMIT;}), '1:a,4:a', 'standby session: TRUNCATE of the grants replayed takes effect');

# ---- 3. reports of the superuser on the standby
is($standby->safe_psql('postgres', q{SELECT count(*) > 0 AND bool_and(ok) FROM tenant_rls.audit_verify()}), 't',
	'standby: audit_verify()');
{
	my ($seq, $hash) = split /\|/, $primary->safe_psql('postgres', q{SELECT seq, hash FROM tenant_rls.audit_chain WHERE tenant = 'a'});
	is($standby->safe_psql('postgres', qq{SELECT ok FROM tenant_rls.audit_verify_head('a', $seq, '$hash')}), 't',
		'standby: audit_verify_head()');
}
is($standby->safe_psql('postgres', q{SELECT string_agg(code, ',' ORDER BY code) FROM tenant_rls.lint() WHERE level = 'error' OR code LIKE 'audit_delivery%'}),
	'', 'standby: lint() reports no error and no delivery finding');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.coverage()}),
	$primary->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.coverage()}), 'standby: coverage() as on the primary');
is($standby->safe_psql('postgres', q{SELECT string_agg(table_name || ':' || status, ',' ORDER BY table_name) FROM tenant_rls.table_health}),
	'public.docs:protected,public.orders:protected', 'standby: table_health');

{
	my ($ret, $o, $e) = $standby->psql('postgres', q{SELECT tenant_rls.audit_maintain()});
	like($e, qr/cannot run audit_maintain\(\) on a standby/, 'standby: audit_maintain() refused up front (it failed deep inside)');
}

# a session of the primary that holds deferred delivery back (it locks the
# state row the worker updates), and its end
sub hold_delivery
{
	my ($hin, $hout, $herr) = ('', '', '');
	my $hold = IPC::Run::start([ 'psql', '-XAtq', '-h', $primary->host, '-p', $primary->port, '-d', 'postgres', '-f', '-' ],
		'<', \$hin, '>', \$hout, '2>', \$herr, IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	$hin .= "BEGIN;\nSELECT 'locked' FROM tenant_rls.audit_delivery_state FOR UPDATE;\n";
	$hold->pump until $hout =~ /locked/;
	return ($hold, \$hin);
}

sub release_delivery
{
	my ($hold, $hin) = @_;
	$$hin .= "ROLLBACK;\n\\q\n";
	$hold->finish;
}

# ---- 4. audit_delivery_wait() on the standby while the primary holds a change
is($standby->safe_psql('postgres', q{SELECT delivery FROM tenant_rls.audit_delivery_status()}), 'deferred (by the primary)',
	'standby: audit_delivery_status() says the primary defers (it said immediate)');
{
	my ($hold, $hin) = hold_delivery();
	$primary->safe_psql('postgres', q{BEGIN; SELECT tenant_rls.set_tenant('a') \g /dev/null
UPDATE public.orders SET v = 'held' WHERE id = 4; COMMIT;});
	catchup();
	is($standby->safe_psql('postgres', q{SELECT count(*) FROM public.orders WHERE v = 'held'}), '1',
		'standby: the held-back change is replayed');
	my ($ret, $o, $e) = on_standby(q{SELECT tenant_rls.audit_delivery_wait('2 s')});
	ok($ret != 0 && $e =~ /cannot wait for deferred audit delivery on a standby/,
		'standby: audit_delivery_wait() refused while the primary defers') or diag("ret=$ret out=$o err=$e");
	is($standby->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.audit_log WHERE row_pk->>'id' = '4' AND new_row->>'v' = 'held'}),
		'0', 'standby: (the change is indeed not in the log yet)');
	release_delivery($hold, $hin);
	is($primary->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait()}), 't', 'primary: delivered');
	catchup();
	is($standby->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.audit_log WHERE row_pk->>'id' = '4' AND new_row->>'v' = 'held'}),
		'1', 'standby: the change is in the log after the primary delivered it');
}

# ---- 4b. the standby no longer holds the WAL from where the primary's
# delivery reads (review rev50d): the primary's slot keeps that WAL on the
# primary only, the standby's restartpoints remove it, and a failover then
# lost the changes not delivered yet (audit_delivery_start() on the promoted
# standby warned that they were gone); nothing said so before the failover.
{
	my $wal_missing = q{SELECT string_agg(level || ':' || object, ',') FROM tenant_rls.lint() WHERE code = 'audit_delivery_wal_missing'};
	my ($hold, $hin) = hold_delivery();
	$primary->safe_psql('postgres', q{BEGIN; SELECT tenant_rls.set_tenant('a') \g /dev/null
UPDATE public.orders SET v = 'held again' WHERE id = 4; COMMIT;});
	catchup();
	is($standby->safe_psql('postgres', $wal_missing), '', 'standby: holds the WAL of the change the primary has not delivered');
	# WAL moves on over three segments and checkpoints; a restartpoint on the
	# standby removes what it does not need itself
	$primary->safe_psql('postgres', 'CHECKPOINT; SELECT pg_switch_wal();') for 1 .. 3;
	catchup();
	$standby->safe_psql('postgres', 'CHECKPOINT');
	is($standby->safe_psql('postgres', $wal_missing), 'error:pg_wal',
		'standby: lint() reports audit_delivery_wal_missing once its restartpoint removed that WAL');
	release_delivery($hold, $hin);
	is($primary->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait()}), 't', 'primary: delivered');
	$primary->safe_psql('postgres', 'CHECKPOINT; SELECT pg_switch_wal();');
	$primary->poll_query_until('postgres', q{SELECT restart_lsn >= pg_current_wal_lsn() - 16 * 1024 * 1024 FROM tenant_rls.audit_delivery_state})
	  or diag('the recorded restart_lsn did not move on');
	catchup();
	is($standby->safe_psql('postgres', $wal_missing), '', 'standby: no finding once the primary delivered and that is replayed');
}

# ---- 5. a database renamed under a standby session
{
	my ($din, $dout, $derr) = ('', '', '');
	my $d = IPC::Run::start([ 'psql', '-XAtq', '-h', $standby->host, '-p', $standby->port, '-U', 'app', '-d', 'appdb', '-f', '-' ],
		'<', \$din, '>', \$dout, '2>', \$derr, IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	my $tok = token('a', 'appdb');
	$din .= "BEGIN; SELECT tenant_rls.set_tenant_signed('$tok'); COMMIT;\nSELECT 'first-done';\n";
	$d->pump until $dout =~ /first-done/;
	like($dout, qr/^a\n/, 'standby session in appdb: a token of appdb');
	$primary->safe_psql('postgres', q{ALTER DATABASE appdb RENAME TO appdb_old; CREATE DATABASE appdb;});
	$primary->safe_psql('appdb', 'CREATE EXTENSION tenant_rls');
	my $tok_new = token('b', 'appdb');
	my $tok_old = token('c', 'appdb_old');
	catchup();
	$dout = '';
	$derr = '';
	$din .= "SELECT current_database();\nBEGIN; SELECT tenant_rls.set_tenant_signed('$tok_new'); COMMIT;\n"
	  . "BEGIN; SELECT tenant_rls.set_tenant_signed('$tok_old'); COMMIT;\nSELECT 'second-done';\n";
	$d->pump until $dout =~ /second-done/;
	is($dout, "appdb_old\nc\nsecond-done\n",
		'standby session in the renamed database: refuses the new appdb\'s token, accepts its own') or diag($derr);
	like($derr, qr/token signature does not match/, '... with the error of a token of another database');
	$din .= "\\q\n";
	$d->finish;
}

# ---- 5b. a standby with a delivery key of its own (tenant_rls added to a
# primary and standby that already existed: each created its own key at its
# first start).  After a failover to it, the primary's undelivered messages
# were rejected as forged, silently (review rev49a): lint() on the standby
# reports it before.
is($primary->safe_psql('postgres', q{SELECT st.key_id = tenant_rls._audit_delivery_key_id() AND length(st.key_id) > 0
  FROM tenant_rls.audit_delivery_state st}), 't', 'primary: audit_delivery_start() recorded its key id');
is($primary->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.lint() WHERE code = 'audit_delivery_key_mismatch'}), '0',
	'primary: no key mismatch');
{
	# (a backup of its own: the WAL since backup b may be recycled by now)
	$primary->backup('b2');
	my $standby2 = PostgreSQL::Test::Cluster->new('standby2');
	$standby2->init_from_backup($primary, 'b2', has_streaming => 1);
	my $keyfile = $standby2->data_dir . '/tenant_rls_audit.key';
	my $primary_key = slurp_file($primary->data_dir . '/tenant_rls_audit.key');
	open my $kf, '>:raw', $keyfile or die "$keyfile: $!";
	print $kf 'k' x 32;
	close $kf;
	$standby2->start;
	$primary->wait_for_catchup($standby2, 'replay', $primary->lsn('insert'));
	is($standby2->safe_psql('postgres', q{SELECT level || ':' || object || ':' || coalesce(fix, 'no fix') || ':' || (detail ~ 'copy \$PGDATA/tenant_rls_audit.key from the primary')
	  FROM tenant_rls.lint() WHERE code = 'audit_delivery_key_mismatch'}),
		'error:tenant_rls_audit.key:no fix:true', 'standby with a key of its own: lint() reports audit_delivery_key_mismatch, says to copy the primary\'s key');
	$standby2->stop;
	open $kf, '>:raw', $keyfile or die "$keyfile: $!";
	print $kf $primary_key;
	close $kf;
	$standby2->start;
	is($standby2->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.lint() WHERE code = 'audit_delivery_key_mismatch'}), '0',
		'... with the primary\'s key copied over: no finding');
	$standby2->stop;
}

# ---- 6. promotion, with a session connected before it and a change the
# primary had not delivered (the standby keeps the WAL: wal_keep_size)
$standby->append_conf('postgresql.conf', "wal_keep_size = '1GB'");
$standby->reload;
{
	my ($hold, $hin) = hold_delivery();
	$primary->safe_psql('postgres', q{BEGIN; SELECT tenant_rls.set_tenant('a') \g /dev/null
UPDATE public.orders SET v = 'held at the failover' WHERE id = 4; COMMIT;});
	catchup();
	$primary->stop('immediate');
	$hold->kill_kill;
}
$standby->promote;
ok($standby->wait_for_log(qr/LOG:  tenant_rls: deferred audit delivery of database "postgres" resumes from the WAL at [0-9A-F]+\/[0-9A-F]+ after a promotion/),
	'promoted: the launcher resumes deferred delivery by itself, and the server log says so');
ok(!$standby->log_contains(qr/tenant_rls: .*database "appdb/), '... and says nothing of the databases that did not defer');
is($standby->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('60 s')}), 't', 'promoted: delivered');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.audit_log WHERE row_pk->>'id' = '4' AND new_row->>'v' = 'held at the failover'}),
	'1', 'promoted: the change the old primary had not delivered is in the log, once');
is(sess_query('SELECT pg_is_in_recovery();'), 'f', 'the session connected before the promotion is on the new primary');
my $batches = $standby->safe_psql('postgres', q{SELECT batches_delivered FROM tenant_rls.audit_delivery_status()});
is(sess_query(qq{BEGIN; SELECT tenant_rls.set_tenant_signed('$tok_a') \\g /dev/null
UPDATE public.orders SET v = 'promoted' WHERE id = 1; INSERT INTO public.orders VALUES (10, 'a', 'new'); COMMIT;
SELECT tenant_rls.audit_delivery_wait('60 s');}), 't', 'promoted: the session writes as its tenant');
is($standby->safe_psql('postgres', qq{SELECT count(*) || ':' || (SELECT batches_delivered > $batches FROM tenant_rls.audit_delivery_status())
  FROM tenant_rls.audit_log WHERE row_pk->>'id' = '10'}), '1:true', '... deferred again: its entry is delivered by the worker');
ok(sess_query(qq{BEGIN; SELECT tenant_rls.set_tenant_signed('$tok_a') \\g /dev/null
INSERT INTO public.orders VALUES (11, 'b', 'x'); COMMIT;}) eq '' && $err =~ /row-level security/,
	'promoted: another tenant\'s row refused') or diag($err);
$in .= "\\q\n";
$sess->finish;
is($standby->safe_psql('postgres', q{SELECT count(*) > 0 AND bool_and(ok) FROM tenant_rls.audit_verify()}), 't',
	'promoted: audit_verify()');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.lint() WHERE code = 'audit_delivery_lost'}), '0',
	'promoted: lint() reports no lost slot');

$standby->stop;
done_testing();
