#!/usr/bin/env bash
# `make bench`: every test/bench/bench_*.sh, in name order, each on its own
# throwaway cluster.  A benchmark compares tenant_rls against a baseline in the
# same run and prints TPS and ratios.  Narrow with BENCH="read audit".
#
# Each bench_*.sh is sourced with test/lib.sh loaded, a cluster started
# (PGHOST/PGPORT/PGUSER set, `tr_as_pg` runs commands as the cluster owner)
# and these helpers:
#   bench_psql ARGS...        psql -X -q -v ON_ERROR_STOP=1 as the cluster owner
#   bench_pgbench ARGS...     pgbench; prints its output
#   bench_tps FILE            the "tps = N" figure of a pgbench output
#   bench_ratio A B           A/B with 3 decimals
#   bench_log_means PREFIX N  the mean latency (ms, 4 decimals) of scripts 0..N-1
#                             in pgbench's per-transaction logs PREFIX.*
#                             (-l --log-prefix=PREFIX: microseconds, where its
#                             summary rounds to the microsecond)
# BENCH_SECONDS (default 20) is how long each pgbench cell runs.
set -u
. "$(dirname "$0")/../lib.sh"

tr_ensure_packages
tr_setup
BENCH_SECONDS=${BENCH_SECONDS:-20}

bench_psql() { tr_as_pg "$TR_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
bench_pgbench() { tr_as_pg "$TR_BINDIR/pgbench" "$@"; }
bench_tps() { sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$1" | tail -1; }
bench_log_means() {
	cat "$1".* | awk -v n="$2" '{ s[$4] += $3; c[$4]++ }
		END { for (i = 0; i < n; i++) printf "%.4f ", (c[i] ? s[i] / c[i] / 1000 : 0) }'
}
bench_ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }

status=0
for f in "$TR_SRC"/test/bench/bench_*.sh; do
	[ -e "$f" ] || continue
	name=$(basename "$f" .sh); name=${name#bench_}
	if [ -n "${BENCH:-}" ] && [[ " $BENCH " != *" $name "* ]]; then continue; fi
	tr_log "benchmark: $name"
	tr_start_cluster "bench_$name" "shared_buffers = '1GB'" "max_connections = 50" "$(printf 'shared_preload_libraries = %s' "'tenant_rls'")"
	( . "$f" ) || { echo "benchmark $name failed"; status=1; }
	tr_as_pg "$TR_BINDIR/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
done
exit $status
