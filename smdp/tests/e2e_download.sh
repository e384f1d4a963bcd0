#!/usr/bin/env bash
# e2e_download.sh - end-to-end ES9+ over HTTPS: build/smdp on loopback and
# build/smdp-client (software LPA + eUICC) downloading every TS.48 profile on
# the NIST and the brainpool listener, the decrypted profile compared byte for
# byte with the source file; then every negative case with its exact
# subjectCode/reasonCode. Prints "ok"/"not ok" per check and a summary line.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SMDP=$BUILD/smdp
CLIENT=$BUILD/smdp-client
tmp=$(mktemp -d)
pass=0
fail=0
PORT_NIST=${E2E_PORT:-18443}
PORT_BRP=$((PORT_NIST + 1))
PORT_PPK=$((PORT_NIST + 2))
FQDN=testsmdpplus1.example.com
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

check() {   # check DESCRIPTION COMMAND... : passes when the command succeeds
	local d=$1; shift
	if "$@"; then pass=$((pass + 1)); echo "ok - $d"
	else fail=$((fail + 1)); echo "not ok - $d"; fi
}

start_server() {   # start_server NAME ARGS... ; waits until it listens
	local name=$1; shift
	"$SMDP" --db "$tmp/$name.db" "$@" >"$tmp/$name.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 1 100); do
		grep -q "listening on" "$tmp/$name.log" && return 0
		kill -0 "${pids[-1]}" 2>/dev/null || break
		sleep 0.1
	done
	echo "server $name did not start:"; cat "$tmp/$name.log"
	return 1
}

# client OUTFILE ARGS... ; runs smdp-client, keeps stdout's result line
client() {
	local outf=$1; shift
	"$CLIENT" "$@" >"$outf" 2>"$outf.err"
	echo "exit=$?" >>"$outf"
}

result_is() {   # result_is FILE PATTERN
	if grep -qE "$2" "$1"; then return 0; fi
	echo "    expected /$2/, got: $(grep '^result' "$1") ($(tail -n1 "$1"))"
	tail -n 5 "$1.err" | sed 's/^/    /'
	return 1
}

start_server main --listen.nist 127.0.0.1:$PORT_NIST --listen.brainpool 127.0.0.1:$PORT_BRP \
	|| exit 1
NIST=(--pki certs/sgp26-nist --connect 127.0.0.1:$PORT_NIST)
BRP=(--pki certs/sgp26-brp --connect 127.0.0.1:$PORT_BRP)

# --- every profile on both curves ---
for f in profiles/*.der; do
	id=$(basename "$f" .der)
	client "$tmp/n.out" download "${NIST[@]}" --ac "LPA:1\$$FQDN\$$id" --expect "$f"
	check "NIST download of $id matches the source" result_is "$tmp/n.out" '^result: ok .*match=yes'
	client "$tmp/b.out" download "${BRP[@]}" --ac "LPA:1\$$FQDN:$PORT_BRP\$$id" --expect "$f"
	check "brainpool download of $id matches the source" result_is "$tmp/b.out" '^result: ok .*match=yes'
done

P=TS48v2_SAIP2.3_NoBERTLV
AC="LPA:1\$$FQDN\$$P"

# --- negative cases: exact subjectCode/reasonCode ---
neg() {   # neg DESCRIPTION PATTERN CLIENT-ARGS...
	local d=$1 pat=$2; shift 2
	client "$tmp/neg.out" download "$@"
	check "$d" result_is "$tmp/neg.out" "$pat"
}
neg "wrong smdpAddress -> 8.8.1/3.8" '^result: failed initiateAuthentication 8\.8\.1/3\.8' \
	"${NIST[@]}" --ac "$AC" --smdp-address other.example.com
neg "no supported CI -> 8.8.2/3.1" '^result: failed initiateAuthentication 8\.8\.2/3\.1' \
	"${NIST[@]}" --ac "$AC" --ci-list-sign 0102030405060708090A0B0C0D0E0F1011121314
neg "unsupported eUICC SVN -> 8.8.3/3.1" '^result: failed initiateAuthentication 8\.8\.3/3\.1' \
	"${NIST[@]}" --ac "$AC" --svn 3.1.0
neg "unknown transactionId -> 8.10.1/3.9" '^result: failed authenticateClient 8\.10\.1/3\.9' \
	"${NIST[@]}" --ac "$AC" --wrong-txid
neg "bad euiccSignature1 -> 8.1/6.1" '^result: failed authenticateClient 8\.1/6\.1' \
	"${NIST[@]}" --ac "$AC" --bad-signature1
neg "serverChallenge mismatch -> 8.1/6.1" '^result: failed authenticateClient 8\.1/6\.1' \
	"${NIST[@]}" --ac "$AC" --wrong-challenge
neg "bad euiccSignature2 -> 8.1/6.1" '^result: failed getBoundProfilePackage 8\.1/6\.1' \
	"${NIST[@]}" --ac "$AC" --bad-signature2
neg "unknown matchingId -> 8.2.6/3.8" '^result: failed authenticateClient 8\.2\.6/3\.8' \
	"${NIST[@]}" --ac "LPA:1\$$FQDN\$NO-SUCH-PROFILE"
neg "no default profile for empty matchingId -> 8.1.1/3.8" \
	'^result: failed authenticateClient 8\.1\.1/3\.8' "${NIST[@]}" --ac "LPA:1\$$FQDN"

bash smdp/tests/mkcerts.sh "$tmp/certs" certs/sgp26-nist >/dev/null 2>&1
E=(--euicc-key certs/sgp26-nist/euicc/euicc.key.pem)
neg "expired eUICC certificate -> 8.1.3/6.3" '^result: failed authenticateClient 8\.1\.3/6\.3' \
	"${NIST[@]}" --ac "$AC" "${E[@]}" --euicc-cert "$tmp/certs/euicc-expired.der"
neg "EID outside the EUM range -> 8.1.3/6.1" '^result: failed authenticateClient 8\.1\.3/6\.1' \
	"${NIST[@]}" --ac "$AC" "${E[@]}" --euicc-cert "$tmp/certs/euicc-outofrange.der"
neg "eUICC certificate without role policy -> 8.1.3/6.1" \
	'^result: failed authenticateClient 8\.1\.3/6\.1' \
	"${NIST[@]}" --ac "$AC" "${E[@]}" --euicc-cert "$tmp/certs/euicc-badpolicy.der"
neg "EUM from another CI -> 8.11.1/3.9" '^result: failed authenticateClient 8\.11\.1/3\.9' \
	"${NIST[@]}" --ac "$AC" "${E[@]}" --euicc-cert "$tmp/certs/euicc2.der" \
	--eum-cert "$tmp/certs/eum2.der"
neg "eUICC cert from the wrong EUM -> 8.1.3/6.1" '^result: failed authenticateClient 8\.1\.3/6\.1' \
	"${NIST[@]}" --ac "$AC" "${E[@]}" --euicc-cert "$tmp/certs/euicc2.der"

# --- cancelSession ---
for r in 0 1 2 3 4 5 127; do
	neg "cancelSession reason $r after authenticateClient" '^result: ok .*cancel' \
		"${NIST[@]}" --ac "$AC" --cancel "$r@auth"
done
neg "cancelSession after getBoundProfilePackage" '^result: ok .*cancel' \
	"${NIST[@]}" --ac "$AC" --cancel "1@bpp"
neg "cancelSession with a bad signature -> 8.1/6.1" '^result: failed cancelSession 8\.1/6\.1' \
	"${NIST[@]}" --ac "$AC" --cancel "0@auth" --cancel-bad-signature
neg "cancelSession with a foreign smdpOid -> 8.8/3.10" '^result: failed cancelSession 8\.8/3\.10' \
	"${NIST[@]}" --ac "$AC" --cancel "0@auth" --cancel-oid 2.999.99

# --- error PIR, then a normal download of the same profile ---
neg "error PIR is accepted (204)" '^result: ok' "${NIST[@]}" --ac "$AC" --pir-error 5:8
neg "download after an error PIR" '^result: ok .*match=yes' "${NIST[@]}" --ac "$AC" \
	--expect "profiles/$P.der"

# --- retry with the same otPK.EUICC reuses the binding (SGP.22 3.1.3.3) ---
neg "retry after cancel(postponed) after getBPP reuses the binding" '^result: ok .*match=yes' \
	"${NIST[@]}" --ac "$AC" --cancel "1@bpp" --retry --expect "profiles/$P.der"
n=$(sqlite3 "$tmp/main.db" "select count(*) from history where event='bpp-sent' and detail='reused binding'")
check "the server logged the reused binding ($n)" test "${n:-0}" -ge 1

# --- a late PIR, after the session expired, is still verified and applied ---
start_server short --session-timeout 1 --listen.nist 127.0.0.1:$PORT_PPK --listen.brainpool off \
	|| exit 1
client "$tmp/late.out" download --pki certs/sgp26-nist --connect 127.0.0.1:$PORT_PPK \
	--ac "$AC" --pir-delay 2500 --expect "profiles/$P.der"
check "download with a PIR 2.5 s after a 1 s session timeout" result_is "$tmp/late.out" \
	'^result: ok .*match=yes'
n=$(sqlite3 "$tmp/short.db" "select count(*) from notifications where verified=1")
i=$(sqlite3 "$tmp/short.db" "select count(*) from history where event='installed'")
check "late PIR verified ($n) and recorded as installed ($i)" test "${n:-0}" -eq 1 -a "${i:-0}" -eq 1
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null; sleep 2.2

# --- the server refuses requests it cannot parse, and survives them ---
check "server still running after all of the above" kill -0 "${pids[0]}"

# --- PPK mode (ReplaceSessionKeys) on another instance ---
start_server ppk --ppk yes --listen.nist 127.0.0.1:$PORT_PPK --listen.brainpool off || exit 1
for id in TS48v1_A TS48v5_SAIP2.3_BERTLV_SUCI; do
	client "$tmp/p.out" download --pki certs/sgp26-nist --connect 127.0.0.1:$PORT_PPK \
		--ac "LPA:1\$$FQDN\$$id" --expect "profiles/$id.der"
	check "PPK-mode download of $id matches the source" result_is "$tmp/p.out" \
		'^result: ok .*match=yes'
done

# --- persistence: the history survived in SQLite ---
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null
n=$(sqlite3 "$tmp/main.db" "select count(*) from history where event='installed'" 2>/dev/null)
check "installations recorded in the database ($n)" test "${n:-0}" -ge 36

for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
check "no sanitizer report in the server logs" \
	bash -c "! grep -l -E 'Sanitizer|runtime error' $tmp/*.log"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
