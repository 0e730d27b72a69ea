# A superuser who tries to have audit_purge() remove a tenant's recent
# history, so that audit_verify() passes every chain and the chain heads
# exported before still check out (audit_verify_head()).  Review rev39c:
# (A) a second purge in the same transaction did not check the anchors;
# (B) the purge read with the snapshot of its statement, so batches backdated
# by a data-modifying WITH of that statement were not checked but removed;
# (C) the same with the backdating committed while the purge waited for its
# lock; (D) anchors forged by a WITH of the purge's statement were not seen.
# And the attack with the hashes recomputed (the canonical form is public:
# doc/audit.md), which only the exported heads' logged_at can catch, and
# audit_verify() on a chain whose logged_at goes back.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use TenantRlsTest qw(create_audit_default_db);

my $node = PostgreSQL::Test::Cluster->new('audit_forgery');
$node->init;
$node->start;

my $all_ok = q{SELECT count(*) FILTER (WHERE ok) || '/' || count(*) FROM tenant_rls.audit_verify()};
my $victim_batches = q{SELECT count(*) FROM tenant_rls.audit_batch WHERE tenant = 'victim'};

# A database whose batches land in the default partition (where a purge cuts
# at any time): batch 1 of victim and other, a genuine purge of them, then
# batches 2 to 6 of each.
sub setup_db
{
	my ($db) = @_;
	create_audit_default_db($node, $db);
	$node->safe_psql($db, q{INSERT INTO public.p VALUES (1, 'victim', 'a'); INSERT INTO public.p VALUES (2, 'other', 'a');});
	usleep(50_000);
	my $cut = $node->safe_psql($db, 'SELECT clock_timestamp()');
	usleep(50_000);
	$node->safe_psql($db, qq{SELECT tenant_rls.audit_purge('$cut')});
	$node->safe_psql($db,
		join('', map { "INSERT INTO public.p VALUES ($_, '" . ($_ % 2 ? 'victim' : 'other') . "', 'v$_');\n" } 3 .. 12));
	is($node->safe_psql($db, $all_ok), '3/3', "$db: three chains (victim, other, and '') verify");
}

# the heads, as exported to a place the superuser cannot write
sub export_heads
{
	my ($db) = @_;
	return $node->safe_psql($db,
		q{SELECT string_agg(format('(%L, %s, %L::bytea, %L::timestamptz)', tenant, seq, hash, logged_at), ', ' ORDER BY tenant)
            FROM tenant_rls.audit_chain});
}

# tenant:ok for each exported head (the chain without tenant is '')
sub check_heads
{
	my ($db, $heads) = @_;
	return $node->safe_psql($db,
		qq{SELECT string_agg(e.t || ':' || coalesce(v.ok::text, 'null'), ' ' ORDER BY e.t)
             FROM (VALUES $heads) e(t, s, h, l), tenant_rls.audit_verify_head(e.t, e.s, e.h, e.l) v});
}

my $guards_off = q{
ALTER TABLE tenant_rls.audit_batch DISABLE TRIGGER audit_guard;
ALTER TABLE tenant_rls.audit_chain DISABLE TRIGGER audit_guard;
ALTER TABLE tenant_rls.audit_anchor DISABLE TRIGGER audit_guard;
};
my $guards_on = q{
ALTER TABLE tenant_rls.audit_batch ENABLE ALWAYS TRIGGER audit_guard;
ALTER TABLE tenant_rls.audit_chain ENABLE ALWAYS TRIGGER audit_guard;
ALTER TABLE tenant_rls.audit_anchor ENABLE ALWAYS TRIGGER audit_guard;
};
my $forge_anchor = q{INSERT INTO tenant_rls.audit_anchor (tenant, seq, hash, purged_at)
  SELECT tenant, seq, hash, now() FROM tenant_rls.audit_chain WHERE tenant = 'victim'
  ON CONFLICT (tenant) DO UPDATE SET seq = excluded.seq, hash = excluded.hash};

my ($ret, $out, $err);

# ---- A: a second purge in one transaction, the anchors forged in between
setup_db('fa');
my $exp = export_heads('fa');
($ret, $out, $err) = $node->psql('fa', qq{
BEGIN;
SELECT tenant_rls.audit_purge('2000-01-01');
$guards_off
DELETE FROM tenant_rls.audit_batch WHERE tenant = 'victim';
$forge_anchor;
$guards_on
SELECT tenant_rls.audit_purge('2000-01-01');
COMMIT;
});
like($err, qr/ERROR:  the audit log's purge anchors are not those the last purge recorded/,
	'A: the second purge of the transaction refuses the anchors forged after the first');
is($node->safe_psql('fa', $victim_batches), '5', 'A: nothing of it stays');
# a second purge over the anchors the first recorded goes through
is($node->safe_psql('fa', q{BEGIN; SELECT tenant_rls.audit_purge('2000-01-01'); SELECT tenant_rls.audit_purge('2000-01-01'); COMMIT;}),
	"0\n0", 'A: two genuine purges in one transaction');
is(check_heads('fa', $exp), ':true other:true victim:true', 'A: the exported heads check out');

# ---- B: batches backdated by a WITH of the purge's own statement
($ret, $out, $err) = $node->psql('fa', q{
ALTER TABLE tenant_rls.audit_batch DISABLE TRIGGER audit_guard;
WITH u AS (UPDATE tenant_rls.audit_batch SET logged_at = '2001-01-15 00:00+00' WHERE tenant = 'victim' RETURNING 1)
SELECT tenant_rls.audit_purge('2001-02-01 00:00+00') FROM (SELECT count(*) FROM u) x;
});
like($err, qr/ERROR:  batch 6 of tenant 'victim', the last one of its chain the purge would remove, was modified/,
	'B: the purge checks the batches its statement backdated');
$node->safe_psql('fa', 'ALTER TABLE tenant_rls.audit_batch ENABLE ALWAYS TRIGGER audit_guard');
is($node->safe_psql('fa', $victim_batches), '5', 'B: nothing is removed');

# ---- C: the backdating commits while the purge waits for its lock
my $s1 = $node->background_psql('fa', on_error_stop => 1);
$s1->query_safe(q{BEGIN;
ALTER TABLE tenant_rls.audit_batch DISABLE TRIGGER audit_guard;
UPDATE tenant_rls.audit_batch SET logged_at = '2001-01-15 00:00+00' WHERE tenant = 'victim';
ALTER TABLE tenant_rls.audit_batch ENABLE ALWAYS TRIGGER audit_guard;});
my $s2 = $node->background_psql('fa', on_error_stop => 0);
$s2->query_until(qr/go/, "\\echo go\nSELECT tenant_rls.audit_purge('2001-02-01 00:00+00');\n");
$node->poll_query_until('fa',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE query LIKE '%audit_purge(''2001%' AND state = 'active' AND pid <> pg_backend_pid()})
  or diag 'the purge did not start';
usleep(300_000);
$s1->query_safe('COMMIT');
$s1->quit;
$node->poll_query_until('fa',
	q{SELECT count(*) = 0 FROM pg_stat_activity WHERE query LIKE '%audit_purge(''2001%' AND state = 'active' AND pid <> pg_backend_pid()})
  or diag 'the purge did not finish';
$s2->quit;
like($s2->{stderr}, qr/batch 6 of tenant 'victim', the last one of its chain the purge would remove, was modified/,
	'C: the purge checks the batches backdated while it waited');
is($node->safe_psql('fa', $victim_batches), '5', 'C: nothing is removed');
like($node->safe_psql('fa', q{SELECT ok, reason FROM tenant_rls.audit_verify('victim')}), qr/^f\|batch 2 was modified/,
	'C: the backdating shows');

# ---- D: anchors forged by a WITH of the purge's own statement
setup_db('fd');
$exp = export_heads('fd');
$node->safe_psql('fd', $guards_off . q{DELETE FROM tenant_rls.audit_batch WHERE tenant = 'victim';} . $guards_on);
($ret, $out, $err) = $node->psql('fd', $guards_off . qq{
WITH f AS ($forge_anchor RETURNING 1)
SELECT tenant_rls.audit_purge('2000-01-01') FROM (SELECT count(*) FROM f) x;
});
like($err, qr/ERROR:  the audit log's purge anchors are not those the last purge recorded/,
	'D: the purge sees the anchors its statement forged');
$node->safe_psql('fd', $guards_on);
like($node->safe_psql('fd', q{SELECT ok, reason FROM tenant_rls.audit_verify('victim')}),
	qr/^f\|batches 2 to 6 \(the last ones\) are missing/, 'D: the deleted batches show');
is(check_heads('fd', $exp), ':true other:true victim:false', 'D: and the exported head names them');

# ---- T: a trigger of the superuser's on a table the purge writes forges an
# anchor (and deletes the batches below it) while an ordinary purge runs:
# the purge records what it computed, and refuses when the table differs
setup_db('ft');
$exp = export_heads('ft');
$node->safe_psql('ft', q{
CREATE FUNCTION public.evil() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tenant_rls.audit_anchor AS a (tenant, seq, hash, purged_at)
        SELECT tenant, seq, hash, now() FROM tenant_rls.audit_batch WHERE tenant = 'victim' AND seq = 4
        ON CONFLICT (tenant) DO UPDATE SET seq = excluded.seq, hash = excluded.hash;
    DELETE FROM tenant_rls.audit_batch WHERE tenant = 'victim' AND seq <= 4;
    RETURN NULL;
END $$;
CREATE TRIGGER evil AFTER INSERT ON tenant_rls.audit_purge_log FOR EACH ROW EXECUTE FUNCTION public.evil();
ALTER TABLE tenant_rls.audit_anchor DISABLE TRIGGER audit_guard;
});
($ret, $out, $err) = $node->psql('ft', q{SELECT tenant_rls.audit_purge('2000-01-01')});
like($err, qr/ERROR:  the audit log's purge anchors were changed while the purge ran/,
	'T: a purge whose trigger-planted anchor differs from what it computed refuses');
$node->safe_psql('ft', q{DROP TRIGGER evil ON tenant_rls.audit_purge_log; ALTER TABLE tenant_rls.audit_anchor ENABLE ALWAYS TRIGGER audit_guard;});
is($node->safe_psql('ft', $victim_batches), '5', 'T: nothing is removed');
is(check_heads('ft', $exp), ':true other:true victim:true', 'T: the exported heads check out');

# ---- F: purge, SAVEPOINT, purge, ROLLBACK TO the savepoint, purge: the
# anchors are those of the first purge, and the last one goes through
# (review rev39d: a false alarm).  A session reading the log keeps the
# purges from creating this month's partition, so the batches stay in the
# default partition, where each purge can cut.
create_audit_default_db($node, 'ff');
$node->safe_psql('ff', q{INSERT INTO public.p VALUES (1, 'victim', 'a'); INSERT INTO public.p VALUES (2, 'other', 'a');});
usleep(50_000);
my $cut1 = $node->safe_psql('ff', 'SELECT clock_timestamp()');
usleep(50_000);
$node->safe_psql('ff',
	join('', map { "INSERT INTO public.p VALUES ($_, '" . ($_ % 2 ? 'victim' : 'other') . "', 'v$_');\n" } 3 .. 10));
my $t3 = $node->safe_psql('ff', q{SELECT logged_at FROM tenant_rls.audit_batch WHERE tenant = 'victim' AND seq = 3});
my $hold = $node->background_psql('ff', on_error_stop => 1);
$hold->query_safe(q{BEGIN; SELECT count(*) FROM tenant_rls.audit_batch;});
($ret, $out, $err) = $node->psql('ff', qq{
SET client_min_messages = error;
BEGIN;
SELECT tenant_rls.audit_purge('$cut1');
SAVEPOINT s;
SELECT tenant_rls.audit_purge('$t3');
ROLLBACK TO s;
SELECT tenant_rls.audit_purge('$cut1');
COMMIT;
});
is($err, '', 'F: the purge after ROLLBACK TO SAVEPOINT goes through');
is($out, "2\n2\n0", 'F: ... each purge removed what it should');
is($node->safe_psql('ff', $all_ok), '3/3', 'F: every chain verifies');
is($node->safe_psql('ff', q{SELECT string_agg(tenant || ':' || seq, ' ' ORDER BY tenant) FROM tenant_rls.audit_anchor}),
	'other:1 victim:1', 'F: the anchors are those of the first purge');

# ---- S: a purge rolled back to a savepoint, then anchors forged to what
# it recorded (review rev39d: its digest was trusted by the next purge)
my $t4 = $node->safe_psql('ff', q{SELECT logged_at FROM tenant_rls.audit_batch WHERE tenant = 'victim' AND seq = 4});
($ret, $out, $err) = $node->psql('ff', qq{
SET client_min_messages = error;
BEGIN;
$guards_off
SAVEPOINT s;
DELETE FROM tenant_rls.audit_batch WHERE tenant IS DISTINCT FROM 'victim';
SELECT tenant_rls.audit_purge('$t4');
ROLLBACK TO s;
INSERT INTO tenant_rls.audit_anchor AS a (tenant, seq, hash, purged_at)
    SELECT tenant, seq, hash, now() FROM tenant_rls.audit_batch WHERE tenant = 'victim' AND seq = 3
    ON CONFLICT (tenant) DO UPDATE SET seq = excluded.seq, hash = excluded.hash;
DELETE FROM tenant_rls.audit_batch WHERE tenant = 'victim' AND seq <= 3;
SELECT tenant_rls.audit_purge('2000-01-01');
COMMIT;
});
like($err, qr/ERROR:  the audit log's purge anchors are not those the last purge recorded/,
	'S: a purge after one rolled back to a savepoint checks the anchors against the log');
is($node->safe_psql('ff', $victim_batches), '4', 'S: nothing is removed');
$hold->query_safe('COMMIT');
$hold->quit;

# ---- The attack with the hashes recomputed.  The canonical form of a batch
# (doc/audit.md, Tamper evidence) in SQL: every column from logged_at to
# row_keys as 0x00 (NULL) or 0x01, a 4-byte length and the bytes.
setup_db('fh');
$exp = export_heads('fh');
$node->safe_psql('fh', q{
CREATE FUNCTION public.fld(b bytea) RETURNS bytea LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE WHEN b IS NULL THEN '\x00'::bytea ELSE '\x01'::bytea || int4send(length(b)) || b END $$;
CREATE FUNCTION public.i8(v bigint) RETURNS bytea LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE WHEN v IS NULL THEN '\x00'::bytea ELSE public.fld(int8send(v)) END $$;
CREATE FUNCTION public.tx(v text) RETURNS bytea LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE WHEN v IS NULL THEN '\x00'::bytea ELSE public.fld(convert_to(v, 'UTF8')) END $$;
CREATE FUNCTION public.keys(a bigint[]) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN a IS NULL THEN '\x00'::bytea ELSE public.fld(
        public.i8(1) || public.i8(array_length(a, 1)) || public.i8(array_lower(a, 1))
        || (SELECT string_agg(CASE WHEN e IS NULL THEN '\x00'::bytea || int8send(0) ELSE '\x01'::bytea || int8send(e) END,
                              ''::bytea ORDER BY o) FROM unnest(a) WITH ORDINALITY u(e, o))) END $$;
CREATE FUNCTION public.rehash(prev bytea, b tenant_rls.audit_batch) RETURNS bytea LANGUAGE sql AS $$
    SELECT sha256(prev || convert_to('tenant_rls audit batch v1', 'UTF8') || '\x00'::bytea
        || public.i8(((extract(epoch FROM b.logged_at) - 946684800) * 1000000)::bigint)
        || public.tx(b.tenant) || public.i8(b.seq) || public.i8(b.table_oid::bigint)
        || public.tx(b.schema_name) || public.tx(b.table_name) || public.i8(b.txid)
        || public.tx(b.db_user) || public.tx(b.db_session_user) || public.tx(b.app_user)
        || public.tx(b.application_name) || public.tx(host(b.client_addr)) || public.tx(b.context_tenant)
        || public.i8(b.entries) || public.fld(b.payload) || public.i8(b.row_key) || public.keys(b.row_keys)) $$;
-- batches from_seq on of tenant t moved by shift, hashes and head recomputed
CREATE FUNCTION public.backdate(t text, from_seq bigint, shift interval) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    b tenant_rls.audit_batch;
    prev bytea;
BEGIN
    SELECT hash INTO prev FROM tenant_rls.audit_batch WHERE tenant = t AND seq = from_seq - 1;
    IF prev IS NULL THEN
        SELECT hash INTO prev FROM tenant_rls.audit_anchor WHERE tenant = t AND seq = from_seq - 1;
    END IF;
    FOR b IN SELECT * FROM tenant_rls.audit_batch WHERE tenant = t AND seq >= from_seq ORDER BY seq LOOP
        b.logged_at := b.logged_at + shift;
        UPDATE tenant_rls.audit_batch SET logged_at = b.logged_at, prev_hash = prev, hash = public.rehash(prev, b)
         WHERE tenant = t AND seq = b.seq RETURNING hash INTO prev;
    END LOOP;
    UPDATE tenant_rls.audit_chain SET hash = prev, logged_at = b.logged_at WHERE tenant = t;
END $$;
});
is($node->safe_psql('fh', q{SELECT count(*) FILTER (WHERE public.rehash(prev_hash, b) = hash) || '/' || count(*) FROM tenant_rls.audit_batch b}),
	'11/11', 'fh: the test computes the hash of every batch as the extension does');
# all of victim's batches moved to 2001, hashes and head recomputed: it verifies
$node->safe_psql('fh', $guards_off . q{SELECT public.backdate('victim', 2, '2001-01-15 00:00+00'::timestamptz - now());} . $guards_on);
is($node->safe_psql('fh', $all_ok), '3/3', 'fh: a chain backdated with its hashes recomputed verifies');
# ... and a genuine purge of 2001 removes it: its anchor batch is consistent
is($node->safe_psql('fh', q{SELECT tenant_rls.audit_purge('2001-02-01 00:00+00')}), '5', 'fh: a purge of 2001 removes it');
is($node->safe_psql('fh', $all_ok), '3/3', 'fh: every chain verifies');
# the head exported before: with its logged_at, no purge cut after it; without, the anchor's hash differs
is(check_heads('fh', $exp), ':true other:true victim:false', 'fh: the exported heads with logged_at name victim');
like($node->safe_psql('fh', qq{SELECT v.reason FROM (VALUES $exp) e(t, s, h, l), tenant_rls.audit_verify_head(e.t, e.s, e.h, e.l) v WHERE e.t = 'victim'}),
	qr/^batch 6 was purged, but no purge recorded in the log removed batches logged as late as it/, '... as purged by no purge');
like($node->safe_psql('fh', qq{SELECT v.reason FROM (VALUES $exp) e(t, s, h, l), tenant_rls.audit_verify_head(e.t, e.s, e.h) v WHERE e.t = 'victim'}),
	qr/^the purge anchor \(batch 6\) does not have the exported hash/, '... and without logged_at, by the anchor\'s hash');
# a chain whose logged_at goes back, hashes recomputed: audit_verify() names it
$node->safe_psql('fh', $guards_off . q{SELECT public.backdate('other', 4, '-1 hour');} . $guards_on);
like($node->safe_psql('fh', q{SELECT ok, first_bad_seq, reason FROM tenant_rls.audit_verify('other')}),
	qr/^f\|4\|batch 4 is dated before the batch before it \([^)]+\): batches were backdated$/,
	'fh: a batch dated before the one before it is named');

$node->stop;
done_testing();
