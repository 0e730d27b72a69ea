# bench_token.sh -- cost of the signed context (DESIGN: "set_tenant_signed + a
# query within 5 % of set_config + the same query").  Sourced by run.sh with a
# preloaded cluster running (see its header for the helpers).
#
# Each transaction, as a role that is not superuser, through an RLS policy:
#   (a) BEGIN; set_config('app.current_tenant_id', 'tNN', true); point query; COMMIT
#   (b) BEGIN; tenant_rls.set_tenant_signed(token);               point query; COMMIT
#   (c) as (b), with tenant_rls.strict = on (check hook + strict checks)
# Cells run a,b,c,c,b,a (BENCH_SECONDS/2 each) so a drift of the machine's
# load hits all of them alike; prepared protocol, 2 clients.  Prints TPS and the ratios b/a, c/a.
# Then one mixed run (a and b interleaved at random in the same clients, so
# both see exactly the same machine) gives the per-transaction latency ratio
# -- the robust figure on a busy machine.
set -u
tok_dir=$TR_TMP/bench_token
mkdir -p "$tok_dir"
chmod 777 "$tok_dir"

bench_psql -d postgres <<'SQL'
ALTER SYSTEM SET tenant_rls.signing_key = 'bench-signing-key-0123456789abcdef0123456789';
SELECT pg_reload_conf();
CREATE EXTENSION IF NOT EXISTS tenant_rls;
CREATE ROLE bench_owner NOLOGIN;
CREATE ROLE bench_app LOGIN;
SET tenant_rls.auto_protect = off;  -- the same hand-written policy for both ways of setting the tenant
CREATE TABLE public.docs (id int PRIMARY KEY, tenant_id text NOT NULL, body text NOT NULL);
INSERT INTO public.docs SELECT i, 't' || (i % 100), md5(i::text) FROM generate_series(1, 100000) i;
CREATE INDEX ON public.docs (tenant_id);
ALTER TABLE public.docs OWNER TO bench_owner;
ALTER TABLE public.docs ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.docs FORCE ROW LEVEL SECURITY;
CREATE POLICY iso ON public.docs USING (tenant_id = tenant_rls.current_tenant());
GRANT SELECT ON public.docs TO bench_app;
VACUUM ANALYZE public.docs;
SQL
token=$(bench_psql -d postgres -At -c "SELECT tenant_rls.sign_tenant('t42', '2 hours')")

# rows of tenant t42 are the ids = 42 (mod 100)
cat >"$tok_dir/a.sql" <<'SQL'
\set k random(0, 999)
BEGIN;
SELECT set_config('app.current_tenant_id', 't42', true);
SELECT body FROM public.docs WHERE id = :k * 100 + 42;
COMMIT;
SQL
cat >"$tok_dir/b.sql" <<SQL
\\set k random(0, 999)
BEGIN;
SELECT tenant_rls.set_tenant_signed('$token');
SELECT body FROM public.docs WHERE id = :k * 100 + 42;
COMMIT;
SQL
chmod 644 "$tok_dir"/*.sql

# sanity: as bench_app, both ways of setting the tenant show the tenant's row
for set in "SELECT set_config('app.current_tenant_id', 't42', true)" "SELECT tenant_rls.set_tenant_signed('$token')"; do
	n=$(bench_psql -d postgres -U bench_app -At -c "BEGIN" -c "$set" -c "SELECT count(*) FROM public.docs WHERE id = 342" -c "COMMIT" | tail -1)
	[ "$n" = 1 ] || { echo "bench_token: sanity check failed for: $set"; exit 1; }
done

half=$(( (BENCH_SECONDS + 1) / 2 ))
set_strict() {
	bench_psql -d postgres -c "ALTER SYSTEM SET tenant_rls.strict = $1" -c "SELECT pg_reload_conf()" >/dev/null
	sleep 0.5
}
run_cell() {	# run_cell NAME SCRIPT ROUND
	bench_pgbench -n -M prepared -c 2 -j 2 -T "$half" -U bench_app -f "$tok_dir/$2.sql" postgres \
		>"$tok_dir/$1.$3.out" 2>&1 || { cat "$tok_dir/$1.$3.out"; exit 1; }
}
cell() {	# cell a|b|c ROUND
	case $1 in
	a) set_strict off; run_cell a a "$2" ;;
	b) set_strict off; run_cell b b "$2" ;;
	c) set_strict on; run_cell c b "$2" ;;
	esac
}
# a b c, then c b a: a linear drift of the machine's load cancels out
for x in a b c; do cell $x 1; done
for x in c b a; do cell $x 2; done
set_strict off

tps() { awk -v x="$(bench_tps "$tok_dir/$1.1.out")" -v y="$(bench_tps "$tok_dir/$1.2.out")" 'BEGIN { printf "%.1f", (x + y) / 2 }'; }
a=$(tps a); b=$(tps b); c=$(tps c)

# mixed run: per-script mean latencies, from pgbench's per-transaction log
# (its summary's milliseconds to 3 decimals are too coarse for transactions
# of some 50 us)
bench_pgbench -n -M prepared -c 2 -j 2 -T "$BENCH_SECONDS" -U bench_app -l --log-prefix="$tok_dir/mixed.log" \
	-f "$tok_dir/a.sql@1" -f "$tok_dir/b.sql@1" postgres >"$tok_dir/mixed.out" 2>&1 \
	|| { cat "$tok_dir/mixed.out"; exit 1; }
# shellcheck disable=SC2046
set -- $(bench_log_means "$tok_dir/mixed.log" 2)
lat_a=$1 lat_b=$2

echo "token: (a) set_config + point query           TPS $a"
echo "token: (b) set_tenant_signed + point query    TPS $b   ratio b/a $(bench_ratio "$b" "$a")   (target >= 0.95)"
echo "token: (c) as (b), tenant_rls.strict = on     TPS $c   ratio c/a $(bench_ratio "$c" "$a")"
echo "token: per round: a $(bench_tps "$tok_dir/a.1.out") / $(bench_tps "$tok_dir/a.2.out"), b $(bench_tps "$tok_dir/b.1.out") / $(bench_tps "$tok_dir/b.2.out"), c $(bench_tps "$tok_dir/c.1.out") / $(bench_tps "$tok_dir/c.2.out")"
echo "token: mixed run, mean latency a $lat_a ms, b $lat_b ms: throughput ratio b/a $(bench_ratio "$lat_a" "$lat_b")   (target >= 0.95)"
