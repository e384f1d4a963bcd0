#!/usr/bin/env bash
# e2e_valgrind.sh - the server under valgrind memcheck: downloads on both
# curves, a rejected request and a cancelled session, then a clean stop.
# Passes when memcheck reports no error and every heap block was freed.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
tmp=$(mktemp -d)
PORT=${E2E_VALGRIND_PORT:-18470}
FQDN=testsmdpplus1.example.com
pass=0
fail=0
check() {
	local d=$1; shift
	if "$@"; then pass=$((pass + 1)); echo "ok - $d"
	else fail=$((fail + 1)); echo "not ok - $d"; fi
}
if ! command -v valgrind >/dev/null; then
	echo "not ok - valgrind is not installed"; echo "0 passed, 1 failed"; exit 1
fi
if nm "$BUILD/smdp" 2>/dev/null | grep -q __asan_init; then
	echo "ok - skipped: sanitizer build (memcheck runs on the plain build)"; echo "1 passed, 0 failed"
	exit 0
fi
valgrind --leak-check=full --show-leak-kinds=all --error-exitcode=99 --log-file="$tmp/vg.log" \
	"$BUILD/smdp" --db "$tmp/v.db" --listen.nist 127.0.0.1:$PORT \
	--listen.brainpool 127.0.0.1:$((PORT + 1)) --threads 4 >"$tmp/log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do grep -q "listening on https://127.0.0.1:$((PORT + 1))" "$tmp/log" && break; sleep 0.1; done
run() { "$BUILD/smdp-client" download "$@" >"$tmp/out" 2>/dev/null; cat "$tmp/out"; }
P=TS48v2_SAIP2.3_BERTLV
check "NIST download under memcheck" bash -c "$(declare -f run); BUILD=$BUILD tmp=$tmp run \
	--pki certs/sgp26-nist --connect 127.0.0.1:$PORT --ac 'LPA:1\$$FQDN\$$P' \
	--expect profiles/$P.der | grep -q 'match=yes'"
check "brainpool download under memcheck" bash -c "$(declare -f run); BUILD=$BUILD tmp=$tmp run \
	--pki certs/sgp26-brp --connect 127.0.0.1:$((PORT + 1)) --ac 'LPA:1\$$FQDN:$((PORT + 1))\$$P' \
	--expect profiles/$P.der | grep -q 'match=yes'"
check "refused request under memcheck" bash -c "$(declare -f run); BUILD=$BUILD tmp=$tmp run \
	--pki certs/sgp26-nist --connect 127.0.0.1:$PORT --ac 'LPA:1\$$FQDN\$$P' --bad-signature1 \
	| grep -q 'failed authenticateClient 8.1/6.1'"
check "cancelled session under memcheck" bash -c "$(declare -f run); BUILD=$BUILD tmp=$tmp run \
	--pki certs/sgp26-nist --connect 127.0.0.1:$PORT --ac 'LPA:1\$$FQDN\$$P' --cancel 1@bpp \
	| grep -q 'cancelled=1'"
kill -TERM $pid
wait $pid
rc=$?
check "server exits 0 under memcheck (exit $rc)" test $rc -eq 0
check "memcheck: no errors" grep -q "ERROR SUMMARY: 0 errors" "$tmp/vg.log"
check "memcheck: every heap block freed" grep -q "All heap blocks were freed" "$tmp/vg.log"
[ "$fail" -eq 0 ] || { grep -E "definitely|indirectly|ERROR SUMMARY|Invalid" "$tmp/vg.log" | head; }
rm -rf "$tmp"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
