#!/usr/bin/env bash
# `make test`: every suite on throwaway clusters.  See test/lib.sh.
#
#   pg_regress            sql/*.sql against expected/*.out
#   pg_isolation_regress  test/specs/*.spec against test/expected/*.out
#   TAP                   test/t/*.pl (PostgreSQL::Test::Cluster)
#
# Narrow a run while developing (empty = all, "none" = skip the suite):
#   REGRESS="context policy" ISOLATION=none TAP=none make test
# Ends with "N passed, N failed" and exits non-zero on any failure.
set -u
. "$(dirname "$0")/lib.sh"

# TEMP_CONFIG: a file of settings for every cluster of the run (below)
if [ -n "${TEMP_CONFIG:-}" ]; then
	[ -f "$TEMP_CONFIG" ] && [ -r "$TEMP_CONFIG" ] || tr_die "TEMP_CONFIG=$TEMP_CONFIG is not a readable file"
	# (the suites run in another directory, TAP's as the postgres user)
	TEMP_CONFIG=$(cd "$(dirname "$TEMP_CONFIG")" && pwd)/$(basename "$TEMP_CONFIG")
	export TEMP_CONFIG
fi

tr_ensure_packages
tr_setup

cd "$TR_SRC" || exit 1
passed=0
failed=0
skipped=0
# pg_regress and pg_isolation_regress run against a cluster of ours, not
# their --temp-instance: its clients connect as the OS user, and the expected
# outputs name the bootstrap superuser postgres, as ours is named
REGRESS_OPTS="--bindir=$TR_BINDIR --user=postgres"
regress_cluster() {	# regress_cluster NAME: a cluster with test/regress.conf
	local line lines=() f
	# and then, as pg_regress's --temp-config and the TAP modules do, the
	# file TEMP_CONFIG names (debug_discard_caches = 1 for an assert build)
	for f in "$TR_SRC/test/regress.conf" ${TEMP_CONFIG:+"$TEMP_CONFIG"}; do
		while IFS= read -r line || [ -n "$line" ]; do
			case $line in '' | '#'*) ;; *) lines+=("$line") ;; esac
		done <"$f"
	done
	tr_start_cluster "$1" "${lines[@]}"
}

pick() {	# pick "<requested>" <files...>: names (without extension) to run
	local want=$1; shift
	[ "$want" = none ] && return 0
	local f n
	for f in "$@"; do
		[ -e "$f" ] || continue
		n=$(basename "$f"); n=${n%.*}
		if [ -z "$want" ] || [[ " $want " == *" $n "* ]]; then echo "$n"; fi
	done
}

count_pg_regress() {	# count "ok"/"FAILED" lines of pg_regress output; $2: its exit status
	local out=$1 rc=$2 ok bad
	ok=$(grep -cE '\.\.\. ok ' "$out" 2>/dev/null || true)
	bad=$(grep -cE '\.\.\. FAILED|\.\.\. failed' "$out" 2>/dev/null || true)
	ok=${ok:-0}; bad=${bad:-0}
	# nothing ran at all (no server, bad option), or pg_regress stopped
	# half-way (exit 2: "diff command failed"): one failure more
	if { [ "$ok" = 0 ] && [ "$bad" = 0 ]; } || { [ "$rc" != 0 ] && [ "$bad" = 0 ]; }; then bad=$((bad + 1)); fi
	passed=$((passed + ok)); failed=$((failed + bad))
	[ "$bad" = 0 ]
}

# ---- pg_regress
tests=$(pick "${REGRESS:-}" sql/*.sql)
if [ -n "$tests" ]; then
	tr_log "pg_regress:" $tests
	regress_cluster regress
	tr_as_pg "$TR_PGXS_DIR/src/test/regress/pg_regress" $REGRESS_OPTS \
		--host="$PGHOST" --port="$PGPORT" --inputdir=. --outputdir=. \
		--dbname=contrib_regression $tests 2>&1 | tee "$TR_TMP/regress.out"
	if ! count_pg_regress "$TR_TMP/regress.out" "${PIPESTATUS[0]}"; then
		[ -f regression.diffs ] && cat regression.diffs
	fi
	tr_stop_cluster
fi

# ---- isolation
tests=$(pick "${ISOLATION:-}" test/specs/*.spec)
if [ -n "$tests" ]; then
	tr_log "isolation:" $tests
	regress_cluster isolation
	tr_as_pg "$TR_PGXS_DIR/src/test/isolation/pg_isolation_regress" $REGRESS_OPTS \
		--host="$PGHOST" --port="$PGPORT" --inputdir=test --outputdir=output_iso \
		--dbname=isolation_regression $tests 2>&1 | tee "$TR_TMP/isolation.out"
	if ! count_pg_regress "$TR_TMP/isolation.out" "${PIPESTATUS[0]}"; then
		[ -f output_iso/regression.diffs ] && cat output_iso/regression.diffs
	fi
	tr_stop_cluster
fi

# ---- TAP
tests=$(pick "${TAP:-}" test/t/*.pl)
if [ -n "$tests" ]; then
	export PG_REGRESS="$TR_PGXS_DIR/src/test/regress/pg_regress"
	export TESTDIR="$TR_SRC" PG_CONFIG="$TR_PG_CONFIG" TR_BINDIR
	for t in $tests; do
		tr_log "TAP: $t"
		tr_as_pg env PG_REGRESS="$PG_REGRESS" TESTDIR="$TESTDIR" PG_CONFIG="$PG_CONFIG" \
			TR_BINDIR="$TR_BINDIR" TR_SRC="$TR_SRC" \
			prove -v -I "$TR_PGXS_DIR/src/test/perl" -I test/t "test/t/$t.pl" \
			>"$TR_TMP/tap_$t.out" 2>&1
		rc=$?
		out=$TR_TMP/tap_$t.out
		ok=$(grep -cE '^ok [0-9]+' "$out" 2>/dev/null || true)
		bad=$(grep -cE '^not ok [0-9]+' "$out" 2>/dev/null || true)
		# a skipped check is not a passed one; a file skipped whole (1..0 # SKIP) counts one
		skip=$(grep -ciE '^ok [0-9]+ # skip|^1\.\.0 # skip' "$out" 2>/dev/null || true)
		skipok=$(grep -ciE '^ok [0-9]+ # skip' "$out" 2>/dev/null || true)
		ok=${ok:-0}; bad=${bad:-0}; skip=${skip:-0}; skipok=${skipok:-0}
		# its output gone (the directory removed under the run): a failure
		if { [ $rc != 0 ] || [ ! -s "$out" ]; } && [ "$bad" = 0 ]; then bad=1; fi
		passed=$((passed + ok - skipok))
		failed=$((failed + bad)); skipped=$((skipped + skip))
		if [ $rc != 0 ]; then
			cat "$TR_TMP/tap_$t.out"
			for f in tmp_check/log/regress_log_"$t" tmp_check/log/"$t"_*.log; do
				[ -f "$f" ] && { echo "---- $f (last 60 lines)"; tail -n 60 "$f"; }
			done
		else
			grep -E '^(ok|not ok) ' "$TR_TMP/tap_$t.out" | sed 's/^/    /'
		fi
	done
fi

[ "$skipped" = 0 ] || tr_log "$skipped TAP checks or files skipped (see their output above)"
# a run that counted nothing at all (its output gone, every suite "none") is no success
if [ "$passed" = 0 ] && [ "$failed" = 0 ]; then
	tr_log "no test ran"
	failed=1
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
