#!/usr/bin/env bash
# e2e_hostile.sh - malformed, oversized and out-of-order ES9+ requests sent
# with curl to a running build/smdp: each gets its specific HTTP status or
# SGP.22 subjectCode/reasonCode, and the server stays up with a sound database.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
tmp=$(mktemp -d)
PORT=${E2E_HOSTILE_PORT:-18453}
FQDN=testsmdpplus1.example.com
URL=https://$FQDN:$PORT/gsma/rsp2/es9plus
pass=0
fail=0

"$BUILD/smdp" --db "$tmp/h.db" --listen.nist 127.0.0.1:$PORT --listen.brainpool off \
	>"$tmp/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do grep -q "listening on" "$tmp/log" && break; sleep 0.1; done

check() {
	local d=$1; shift
	if "$@"; then pass=$((pass + 1)); echo "ok - $d"
	else fail=$((fail + 1)); echo "not ok - $d"; fi
}

# post FUNCTION BODY [CONTENT-TYPE] [ADMIN-PROTOCOL] -> writes status and body
post() {
	local ct=${3:-application/json} ap=${4:-gsma/rsp/v2.5.0}
	curl -s -o "$tmp/body" -w '%{http_code}' --resolve "$FQDN:$PORT:127.0.0.1" \
		--cacert certs/sgp26-nist/ci.pem -H "Content-Type: $ct" \
		-H "X-Admin-Protocol: $ap" --data-binary @- "$URL/$1" <<<"$2" >"$tmp/status"
}
status_is() { [ "$(cat "$tmp/status")" = "$1" ] || { echo "    HTTP $(cat "$tmp/status")"; return 1; }; }
code_is() {   # code_is SUBJECT REASON
	grep -q "\"subjectCode\":\"$1\",\"reasonCode\":\"$2\"" "$tmp/body" && status_is 200 ||
		{ echo "    got: $(head -c 300 "$tmp/body")"; return 1; }
}

b64() { printf '%s' "$1" | xxd -r -p | base64 -w0; }
CHAL=$(b64 00112233445566778899AABBCCDDEEFF)
# EUICCInfo1 BF20 { 82 svn 2.2.0, A9 {04 14 SGP.26 NIST CI}, AA {04 14 same} }
SKI=F54172BDF98A95D65CBEB88A38A1C11D800A85C3
INFO1=$(b64 "BF20358203020200A9160414${SKI}AA160414${SKI}")

curl -s -o /dev/null -w '%{http_code}' --resolve "$FQDN:$PORT:127.0.0.1" \
	--cacert certs/sgp26-nist/ci.pem "$URL/initiateAuthentication" >"$tmp/status"
check "GET is refused with 405" status_is 405
post noSuchFunction '{}'
check "unknown function gets 404" status_is 404
post initiateAuthentication '{}' text/plain
check "wrong Content-Type gets 415" status_is 415
post initiateAuthentication 'this is not json'
check "a body that is not JSON gets 400" status_is 400
post initiateAuthentication '[1,2,3]'
check "a JSON array gets 400" status_is 400
post initiateAuthentication "$(printf '%0.s[' $(seq 1 5000))"
check "5000 nested arrays get 400" status_is 400
post initiateAuthentication '{}'
check "missing fields -> 1.2.1/2.2" code_is 1.2.1 2.2
post initiateAuthentication "{\"euiccChallenge\":\"@@@\",\"euiccInfo1\":\"$INFO1\",\"smdpAddress\":\"$FQDN\"}"
check "bad base64 -> 1.2.1/2.1" code_is 1.2.1 2.1
post initiateAuthentication "{\"euiccChallenge\":\"$(b64 0011)\",\"euiccInfo1\":\"$INFO1\",\"smdpAddress\":\"$FQDN\"}"
check "2-byte euiccChallenge -> 1.2.1/2.1" code_is 1.2.1 2.1
post initiateAuthentication "{\"euiccChallenge\":\"$CHAL\",\"euiccInfo1\":\"$(b64 BF200582030202)\",\"smdpAddress\":\"$FQDN\"}"
check "truncated EUICCInfo1 -> 1.2.1/2.1" code_is 1.2.1 2.1
post initiateAuthentication "{\"euiccChallenge\":\"$CHAL\",\"euiccInfo1\":\"$INFO1\",\"smdpAddress\":42}"
check "smdpAddress not a string -> 1.2.1/2.1" code_is 1.2.1 2.1
post initiateAuthentication "{\"euiccChallenge\":\"$CHAL\",\"euiccInfo1\":\"$INFO1\",\"smdpAddress\":\"$(printf 'a%.0s' $(seq 1 300))\"}"
check "300-character smdpAddress -> 1.2.1/2.1" code_is 1.2.1 2.1
post initiateAuthentication "{\"euiccChallenge\":\"$CHAL\",\"euiccInfo1\":\"$INFO1\",\"smdpAddress\":\"$FQDN\"}" \
	application/json gsma/rsp/v9.0.0
check "X-Admin-Protocol v9 -> 1.2.1/3.1" code_is 1.2.1 3.1
# the same versions as the ASN.1 binding (e2e_asn1): v2.1 to v2.5, any revision
for ap in gsma/rsp/v2.0.0 gsma/rsp/v2.6.0 gsma/rsp/v2.10.0 gsma/rsp/v2.5x; do
	post initiateAuthentication "{\"euiccChallenge\":\"$CHAL\",\"euiccInfo1\":\"$INFO1\",\"smdpAddress\":\"$FQDN\"}" \
		application/json "$ap"
	check "X-Admin-Protocol $ap -> 1.2.1/3.1" code_is 1.2.1 3.1
done
for ap in gsma/rsp/v2.1.0 gsma/rsp/v2.2.2 gsma/rsp/v2.3; do
	post initiateAuthentication "{\"euiccChallenge\":\"$CHAL\",\"euiccInfo1\":\"$INFO1\",\"smdpAddress\":\"$FQDN\"}" \
		application/json "$ap"
	check "X-Admin-Protocol $ap accepted" grep -q '"status":"Executed-Success"' "$tmp/body"
done
post initiateAuthentication "{\"euiccChallenge\":\"$CHAL\",\"euiccInfo1\":\"$INFO1\",\"smdpAddress\":\"$FQDN\"}"
check "a hand-made initiateAuthentication succeeds" grep -q '"status":"Executed-Success"' "$tmp/body"
txid=$(sed -E 's/.*"transactionId":"([0-9A-F]+)".*/\1/' "$tmp/body")
post getBoundProfilePackage "{\"transactionId\":\"$txid\",\"prepareDownloadResponse\":\"$(b64 BF210BA109800400112233020105)\"}"
check "getBoundProfilePackage before authenticateClient -> 8.10.1/3.9" code_is 8.10.1 3.9
post authenticateClient "{\"transactionId\":\"$txid\",\"authenticateServerResponse\":\"$(b64 BF3803300100)\"}"
check "garbage AuthenticateServerResponse -> 1.2.1/2.1" code_is 1.2.1 2.1
post authenticateClient "{\"transactionId\":\"XYZ\",\"authenticateServerResponse\":\"$(b64 BF3800)\"}"
check "non-hex transactionId -> 1.2.1/2.1" code_is 1.2.1 2.1
post cancelSession "{\"transactionId\":\"00112233\",\"cancelSessionResponse\":\"$(b64 BF4103020105)\"}"
check "cancelSession for an unknown transaction" grep -q '"status":"Failed"' "$tmp/body"
post handleNotification 'garbage'
check "handleNotification with garbage still gets 204" status_is 204
post handleNotification "{\"pendingNotification\":\"$(b64 BF3703010203)\"}"
check "handleNotification with bad DER still gets 204 and no body" \
	test "$(cat "$tmp/status")" = 204 -a ! -s "$tmp/body"
head -c 300000 /dev/zero | tr '\0' 'a' >"$tmp/big"
curl -s -o /dev/null -w '%{http_code}' --resolve "$FQDN:$PORT:127.0.0.1" \
	--cacert certs/sgp26-nist/ci.pem -H "Content-Type: application/json" \
	--data-binary @"$tmp/big" "$URL/initiateAuthentication" >"$tmp/status"
check "a 300 KB body gets 413" status_is 413

# --- configuration files: the line limit (1022 characters and a newline,
# or 1023 when the file ends without one) ---
xs() { head -c "$1" /dev/zero | tr '\0' x; }
{ printf 'log-level = info\n#'; xs 1022; } >"$tmp/c1.conf"          # last line 1023, no newline
"$BUILD/smdp" --config "$tmp/c1.conf" --print-config >"$tmp/c1.out" 2>&1
check "config: a last line of 1023 characters without newline is read (exit $?)" \
	grep -q '^log-level = info' "$tmp/c1.out"
{ printf '#'; xs 1022; printf '\nlog-level = info\n'; } >"$tmp/c2.conf"   # 1023 + newline
"$BUILD/smdp" --config "$tmp/c2.conf" --print-config >"$tmp/c2.out" 2>&1
check "config: a 1023-character line with newline -> 'line too long', exit 64 ($?)" \
	grep -q "c2.conf:1: line too long (at most 1022 characters)" "$tmp/c2.out"
{ printf '#'; xs 1021; printf '\nlog-level = info\n'; } >"$tmp/c3.conf"   # 1022 + newline
"$BUILD/smdp" --config "$tmp/c3.conf" --print-config >"$tmp/c3.out" 2>&1
check "config: a 1022-character line with newline is read" grep -q '^log-level = info' "$tmp/c3.out"

check "server still running" kill -0 $pid
check "database integrity_check ok" test "$(sqlite3 "$tmp/h.db" 'pragma integrity_check')" = ok
kill $pid; wait $pid 2>/dev/null
check "no sanitizer report in the server log" bash -c "! grep -E 'Sanitizer|runtime error' $tmp/log"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
