# bench_grants.sh -- what a cross-tenant grant (DESIGN P4) costs a reader.
#
# Two protected copies of one table (400,000 rows, 100 tenants), one with a
# grant to the reading tenant (t1 may read t2's rows), one without.  As a
# role that is not superuser, tenant t1 counts the rows of a scan that reads
# the whole table (a LIKE no index serves; parallel workers off): with a
# grant, every row of another tenant passes tenant_id = ANY (granted_tenants(...))
# once.  Prints ms per scan (fastest of BENCH_GRANTS_RUNS), the ratio
# no-grant / grant, and the cost per filtered row of granted_tenants() with
# a SET search_path clause added to it (as it had before 2026-11-22), from the
# same run.
# Sourced by test/bench/run.sh (cluster started, helpers defined).

runs=${BENCH_GRANTS_RUNS:-7}
bench_psql -d postgres <<'SQL'
CREATE EXTENSION IF NOT EXISTS tenant_rls;
SET tenant_rls.audit = off;
CREATE ROLE bench_app LOGIN;
CREATE TABLE public.g_plain (id int PRIMARY KEY, tenant_id text NOT NULL, body text NOT NULL);
INSERT INTO public.g_plain SELECT i, 't' || (i % 100), md5(i::text) FROM generate_series(1, 400000) i;
CREATE TABLE public.g_granted (LIKE public.g_plain INCLUDING ALL);
INSERT INTO public.g_granted SELECT * FROM public.g_plain;
SELECT count(*) FROM tenant_rls.protect('public.g_plain');
SELECT count(*) FROM tenant_rls.protect('public.g_granted');
SELECT tenant_rls.grant_access('public.g_granted', 't2', 't1', 'read');
GRANT SELECT ON public.g_plain, public.g_granted TO bench_app;
VACUUM ANALYZE public.g_plain, public.g_granted;
SQL

scan_ms() {	# scan_ms TABLE: the fastest of $runs scans, ms, and the row count
	{
		echo "SET max_parallel_workers_per_gather = 0;"
		echo "BEGIN;"
		echo "SELECT tenant_rls.set_tenant('t1');"
		echo "\\timing on"
		for _ in $(seq 1 "$runs"); do echo "SELECT count(*) FROM public.$1 WHERE body LIKE '%zz%' OR true;"; done
		echo "COMMIT;"
	} | bench_psql -U bench_app -d postgres -At 2>&1 \
		| awk '/^[0-9]+$/ { n = $1; counted = 1; next }
		       /^Time: / { if (counted) { t = $2 + 0; if (best == "" || t < best) best = t } counted = 0 }
		       END { printf "%.1f %d", best, n }'
}

set -- $(scan_ms g_plain); plain=$1; plain_rows=$2
set -- $(scan_ms g_granted); granted=$1; granted_rows=$2
bench_psql -d postgres -c "ALTER FUNCTION tenant_rls.granted_tenants(regclass, text) SET search_path = pg_catalog, pg_temp" >/dev/null
set -- $(scan_ms g_granted); clause=$1
bench_psql -d postgres -c "ALTER FUNCTION tenant_rls.granted_tenants(regclass, text) RESET search_path" >/dev/null
[ "$plain_rows" = 4000 ] && [ "$granted_rows" = 8000 ] \
	|| { echo "bench_grants: t1 read $plain_rows rows without the grant (4000 expected), $granted_rows with it (8000)"; exit 1; }
filtered=396000
echo "grants: full scan as tenant t1, 400,000 rows: without a grant $plain ms ($plain_rows rows), with a grant $granted ms ($granted_rows rows): ratio $(bench_ratio "$plain" "$granted")"
echo "grants: the same with SET search_path on granted_tenants(): $clause ms, $(awk -v a="$clause" -v b="$granted" -v n="$filtered" 'BEGIN { printf "%.2f", (a - b) * 1000 / n }') us more per row the grant filter sees"

# Tenants that are no grantee, on a table with one grant (review rev25c):
# point lookups by 1,000 tenants, simple protocol (each statement planned,
# the grants term evaluated for its estimate), interleaved in one pgbench run
# with the same lookups on g_plain, which has no grant.  Before the grantees
# of a table were read once, each such tenant read the grants itself, and a
# backend serving more than 64 tenants read them again at almost every plan.
gdir=$TR_TMP/bench_grants
mkdir -p "$gdir"
chmod 777 "$gdir"
for t in g_plain g_granted; do
	{
		echo '\set t random(3, 99)'
		echo '\set id random(1, 400000)'
		echo 'BEGIN;'
		echo "SELECT tenant_rls.set_tenant('t' || :t);"
		echo "SELECT body FROM public.$t WHERE id = :id;"
		echo 'END;'
	} >"$gdir/$t.sql"
done
chmod 644 "$gdir"/*.sql
gsecs=${BENCH_SECONDS:-10}
bench_psql -d postgres -c "CREATE INDEX ON public.g_plain (tenant_id); CREATE INDEX ON public.g_granted (tenant_id); ANALYZE public.g_plain, public.g_granted" >/dev/null
tr_as_pg "$TR_BINDIR/pgbench" -n -U bench_app -M simple -c 2 -j 2 -T "$gsecs" -l --log-prefix="$gdir/mixed.log" \
	-f "$gdir/g_plain.sql@1" -f "$gdir/g_granted.sql@1" postgres >"$gdir/mixed.out" 2>&1 \
	|| { cat "$gdir/mixed.out"; exit 1; }
# shellcheck disable=SC2046
set -- $(bench_log_means "$gdir/mixed.log" 2)
echo "grants: point lookups by 97 tenants that are no grantee, simple protocol, interleaved: without a grant on the table $1 ms, with one $2 ms: ratio $(bench_ratio "$1" "$2")"
rm -rf "$gdir"
