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

tr_ensure_packages
tr_setup

cd "$TR_SRC" || exit 1
passed=0
failed=0
REGRESS_OPTS="--bindir=$TR_BINDIR --temp-config=$TR_SRC/test/regress.conf"

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

count_pg_regress() {	# count "ok"/"FAILED" lines of pg_regress output
	local out=$1 ok bad
	ok=$(grep -cE '\.\.\. ok ' "$out" || true)
	bad=$(grep -cE '\.\.\. FAILED|\.\.\. failed' "$out" || true)
	# nothing ran at all (no server, bad option): one failure
	if [ "$ok" = 0 ] && [ "$bad" = 0 ]; then bad=1; fi
	passed=$((passed + ok)); failed=$((failed + bad))
	[ "$bad" = 0 ]
}

# ---- pg_regress
tests=$(pick "${REGRESS:-}" sql/*.sql)
if [ -n "$tests" ]; then
	tr_log "pg_regress:" $tests
	tr_as_pg "$TR_PGXS_DIR/src/test/regress/pg_regress" $REGRESS_OPTS \
		--temp-instance="$TR_TMP/regress" --inputdir=. --outputdir=. \
		--dbname=contrib_regression $tests 2>&1 | tee "$TR_TMP/regress.out"
	if ! count_pg_regress "$TR_TMP/regress.out"; then
		[ -f regression.diffs ] && cat regression.diffs
	fi
fi

# ---- isolation
tests=$(pick "${ISOLATION:-}" test/specs/*.spec)
if [ -n "$tests" ]; then
	tr_log "isolation:" $tests
	tr_as_pg "$TR_PGXS_DIR/src/test/isolation/pg_isolation_regress" $REGRESS_OPTS \
		--temp-instance="$TR_TMP/isolation" --inputdir=test --outputdir=output_iso \
		--dbname=isolation_regression $tests 2>&1 | tee "$TR_TMP/isolation.out"
	if ! count_pg_regress "$TR_TMP/isolation.out"; then
		[ -f output_iso/regression.diffs ] && cat output_iso/regression.diffs
	fi
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
		ok=$(grep -cE '^ok [0-9]+' "$TR_TMP/tap_$t.out" || true)
		bad=$(grep -cE '^not ok [0-9]+' "$TR_TMP/tap_$t.out" || true)
		if [ $rc != 0 ] && [ "$bad" = 0 ]; then bad=1; fi
		passed=$((passed + ok)); failed=$((failed + bad))
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

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
