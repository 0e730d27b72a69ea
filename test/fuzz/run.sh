#!/usr/bin/env bash
# Build and run the libFuzzer target for the token parser (src/token_core.c)
# with AddressSanitizer and UndefinedBehaviorSanitizer.
#
#   bash test/fuzz/run.sh [SECONDS]       (default 300; needs clang + libclang-rt)
#
# Works in a temporary directory; the corpus starts from a few real tokens
# (made by the fuzzer binary itself with -seed_tokens) and is left in
# $FUZZ_DIR (default: a new temp dir, printed) for the next run.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
secs=${1:-300}
FUZZ_DIR=${FUZZ_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/token_fuzz.XXXXXX")}
mkdir -p "$FUZZ_DIR/corpus"
command -v clang >/dev/null || { echo "clang is missing: apt-get install -y clang libclang-rt-14-dev" >&2; exit 1; }

clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-I"$root/src" "$here/token_fuzz.c" "$root/src/token_core.c" -lcrypto \
	-o "$FUZZ_DIR/token_fuzz"
clang -g -O1 -I"$root/src" "$here/token_seed.c" "$root/src/token_core.c" -lcrypto \
	-o "$FUZZ_DIR/token_seed"
"$FUZZ_DIR/token_seed" "$FUZZ_DIR/corpus"

echo "fuzzing for $secs s in $FUZZ_DIR"
cd "$FUZZ_DIR"
./token_fuzz -max_total_time="$secs" -max_len=512 -print_final_stats=1 corpus 2>&1 | tail -n 25
