#!/usr/bin/env bash
# e2e_asn1.sh - the ES9+ ASN.1 binding (POST /gsma/rsp2/asn1) end to end:
# build/smdp on loopback and build/smdp-client --binding asn1 downloading
# every TS.48 profile on both curves (profile compared byte for byte), every
# negative case of the JSON tests with the error INTEGER RSPDefinitions v2.5
# gives it, malformed requests sent with curl, downloads as SGP.22 v2.1,
# v2.2.2, v2.5, SGP.32 v1.2 and a newer (extension fields) device send their
# EUICCInfo1/2 and DeviceInfo (test-vectors/devices/) on both bindings, the
# SGP.22 version range, and an SGP.32 eIM's indirect download.
# Prints "ok"/"not ok" per check and a summary line.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SMDP=$BUILD/smdp
CLIENT=$BUILD/smdp-client
tmp=$(mktemp -d)
pass=0
fail=0
PORT_NIST=${E2E_ASN1_PORT:-18540}
PORT_BRP=$((PORT_NIST + 1))
FQDN=testsmdpplus1.example.com
DEV=test-vectors/devices
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

client() {   # client OUTFILE ARGS... ; keeps stdout's result line
	local outf=$1; shift
	"$CLIENT" "$@" >"$outf" 2>"$outf.err"
	echo "exit=$?" >>"$outf"
	# under ASan the client must stay as clean as the server
	grep -qE 'Sanitizer|runtime error' "$outf.err" && echo "$*" >>"$tmp/client-san"
	return 0
}

result_is() {   # result_is FILE PATTERN
	if grep -qE "$2" "$1"; then return 0; fi
	echo "    expected /$2/, got: $(grep '^result' "$1") ($(tail -n1 "$1"))"
	tail -n 5 "$1.err" | sed 's/^/    /'
	return 1
}

run() {   # run DESCRIPTION PATTERN CLIENT-ARGS...
	local d=$1 pat=$2; shift 2
	client "$tmp/run.out" download "$@"
	check "$d" result_is "$tmp/run.out" "$pat"
}

start_server main --listen.nist 127.0.0.1:$PORT_NIST --listen.brainpool 127.0.0.1:$PORT_BRP \
	|| exit 1
NIST=(--pki certs/sgp26-nist --connect 127.0.0.1:$PORT_NIST)
BRP=(--pki certs/sgp26-brp --connect 127.0.0.1:$PORT_BRP)
A=(--binding asn1)

# --- every profile on both curves over the ASN.1 binding ---
n_ok=0
for f in profiles/*.der; do
	id=$(basename "$f" .der)
	client "$tmp/n.out" download "${NIST[@]}" "${A[@]}" --ac "LPA:1\$$FQDN\$$id" --expect "$f"
	check "ASN.1 NIST download of $id matches the source" result_is "$tmp/n.out" \
		'^result: ok 4 .*match=yes' && n_ok=$((n_ok + 1))
	client "$tmp/b.out" download "${BRP[@]}" "${A[@]}" --ac "LPA:1\$$FQDN:$PORT_BRP\$$id" \
		--expect "$f"
	check "ASN.1 brainpool download of $id matches the source" result_is "$tmp/b.out" \
		'^result: ok 4 .*match=yes' && n_ok=$((n_ok + 1))
done

P=TS48v2_SAIP2.3_NoBERTLV
AC="LPA:1\$$FQDN\$$P"

# --- the negative cases of e2e_download.sh, each with its error INTEGER
# (RSPDefinitions v2.5 InitiateAuthenticationResponse,
# AuthenticateClientResponseEs9, GetBoundProfilePackageResponse,
# CancelSessionResponseEs9) ---
neg() {   # neg DESCRIPTION FUNCTION ERROR NAME CLIENT-ARGS...
	local d=$1 fn=$2 err=$3 name=$4; shift 4
	run "$d -> $fn error $err $name" "^result: failed $fn asn1/$err $name\$" \
		"${NIST[@]}" "${A[@]}" "$@"
}
neg "wrong smdpAddress" initiateAuthentication 1 invalidDpAddress \
	--ac "$AC" --smdp-address other.example.com
neg "no supported CI" initiateAuthentication 3 ciPKNotSupported \
	--ac "$AC" --ci-list-sign 0102030405060708090A0B0C0D0E0F1011121314
neg "no DPauth for a CI the eUICC verifies with" initiateAuthentication 3 ciPKNotSupported \
	--ac "$AC" --ci-list-verify 0102030405060708090A0B0C0D0E0F1011121314
neg "unsupported eUICC SVN 3.1.0" initiateAuthentication 2 euiccVersionNotSupportedByDp \
	--ac "$AC" --svn 3.1.0
neg "unknown transactionId" authenticateClient 10 invalidTransactionId --ac "$AC" --wrong-txid
neg "bad euiccSignature1" authenticateClient 5 euiccSignatureInvalid --ac "$AC" --bad-signature1
neg "serverChallenge mismatch" authenticateClient 5 euiccSignatureInvalid \
	--ac "$AC" --wrong-challenge
neg "bad euiccSignature2" getBoundProfilePackage 1 euiccSignatureInvalid \
	--ac "$AC" --bad-signature2
neg "unknown matchingId" authenticateClient 6 matchingIdRefused \
	--ac "LPA:1\$$FQDN\$NO-SUCH-PROFILE"
neg "no default profile for an absent matchingId" authenticateClient 7 eidMismatch \
	--ac "LPA:1\$$FQDN"

bash smdp/tests/mkcerts.sh "$tmp/certs" certs/sgp26-nist >/dev/null 2>&1
E=(--euicc-key certs/sgp26-nist/euicc/euicc.key.pem)
neg "expired eUICC certificate" authenticateClient 4 euiccCertificateExpired \
	--ac "$AC" "${E[@]}" --euicc-cert "$tmp/certs/euicc-expired.der"
neg "EID outside the EUM range" authenticateClient 3 euiccCertificateInvalid \
	--ac "$AC" "${E[@]}" --euicc-cert "$tmp/certs/euicc-outofrange.der"
neg "eUICC certificate without role policy" authenticateClient 3 euiccCertificateInvalid \
	--ac "$AC" "${E[@]}" --euicc-cert "$tmp/certs/euicc-badpolicy.der"
neg "EUM from another CI" authenticateClient 9 ciPKUnknown \
	--ac "$AC" "${E[@]}" --euicc-cert "$tmp/certs/euicc2.der" --eum-cert "$tmp/certs/eum2.der"
neg "eUICC certificate from the wrong EUM" authenticateClient 3 euiccCertificateInvalid \
	--ac "$AC" "${E[@]}" --euicc-cert "$tmp/certs/euicc2.der"

# --- cancelSession ---
for r in 0 1 2 3 4 5 127; do
	run "ASN.1 cancelSession reason $r after authenticateClient" "^result: ok 3 .*cancelled=$r\$" \
		"${NIST[@]}" "${A[@]}" --ac "$AC" --cancel "$r@auth"
done
run "ASN.1 cancelSession after getBoundProfilePackage" '^result: ok 4 .*cancelled=1$' \
	"${NIST[@]}" "${A[@]}" --ac "$AC" --cancel "1@bpp"
neg "cancelSession with a bad signature" cancelSession 2 euiccSignatureInvalid \
	--ac "$AC" --cancel "0@auth" --cancel-bad-signature
# 8.8/3.10 has no value of its own in cancelSessionError: undefinedError
neg "cancelSession with a foreign smdpOid" cancelSession 127 undefinedError \
	--ac "$AC" --cancel "0@auth" --cancel-oid 2.999.99

# --- error PIR, then a normal download; a retry reusing the binding ---
run "ASN.1 error PIR is accepted (204)" '^result: ok 4 ' "${NIST[@]}" "${A[@]}" --ac "$AC" \
	--pir-error 5:8
run "ASN.1 download after an error PIR" '^result: ok 4 .*match=yes' "${NIST[@]}" "${A[@]}" \
	--ac "$AC" --expect "profiles/$P.der"
run "ASN.1 retry after cancel(postponed) after getBPP reuses the binding" \
	'^result: ok 8 .*match=yes' "${NIST[@]}" "${A[@]}" --ac "$AC" --cancel "1@bpp" --retry \
	--expect "profiles/$P.der"

# --- device generations: golden EUICCInfo1/2 + DeviceInfo, both bindings ---
gen_svn() { case $1 in sgp22-v2.1) echo 2.1.0;; sgp22-v2.2.2) echo 2.2.2;; *) echo 2.5.0;; esac; }
for g in sgp22-v2.1 sgp22-v2.2.2 sgp22-v2.5 sgp32-v1.2 newer-extensions; do
	files=(--euicc-info1 "$DEV/$g/euicc-info1.der" --euicc-info2 "$DEV/$g/euicc-info2.der"
	       --device-info "$DEV/$g/device-info.hex" --svn "$(gen_svn $g)")
	for b in json asn1; do
		run "$g device over the $b binding downloads" '^result: ok 4 .*match=yes' \
			"${NIST[@]}" --binding $b "${files[@]}" --ac "$AC" --expect "profiles/$P.der"
	done
done
# the signature the server verified covered the golden bytes: they are in
# the euiccSigned1 the client sent (-v prints the DER of the ASN.1 request)
client "$tmp/v.out" download -v "${NIST[@]}" "${A[@]}" --euicc-info2 "$DEV/newer-extensions/euicc-info2.der" \
	--device-info "$DEV/newer-extensions/device-info.der" --ac "$AC"
i2=$(xxd -p "$DEV/newer-extensions/euicc-info2.der" | tr -d '\n' | tr a-f A-F)
sent=$(sed -n '/^>> \/gsma\/rsp2\/asn1/,/^<</p' "$tmp/v.out.err" | grep -E '^[0-9A-F]+$' | tr -d '\n')
check "the newer device's EUICCInfo2 (unknown fields included) went out verbatim and was accepted" \
	bash -c "[[ '$sent' == *'$i2'* ]] && grep -q '^result: ok 4 ' '$tmp/v.out'"
run "SGP.32 v1.2 EUICCInfo2/DeviceInfo on brainpool over ASN.1" '^result: ok 4 .*match=yes' \
	"${BRP[@]}" "${A[@]}" --euicc-info2 "$DEV/sgp32-v1.2/euicc-info2.der" \
	--device-info "$DEV/sgp32-v1.2/device-info.der" --ac "LPA:1\$$FQDN:$PORT_BRP\$$P" \
	--expect "profiles/$P.der"
# extension fields inside the binding's own SEQUENCEs (a [2] such as ESipa's
# eimTransactionId after the defined fields) are skipped
run "ASN.1 requests with an extension field in every function SEQUENCE" \
	'^result: ok 4 .*match=yes' "${NIST[@]}" "${A[@]}" --asn1-extension 8203010203 \
	--ac "$AC" --expect "profiles/$P.der"

# --- IoT profile metadata: a profile description asking for ecallIndication
# and fallbackAllowed (SGP32-StoreMetadataRequest 9F7B, 9F67) ---
mkdir -p "$tmp/iotprof"
cp "profiles/$P.der" "$tmp/iotprof/IOT.der"
echo '{ "ecallIndication": true, "fallbackAllowed": false }' >"$tmp/iotprof/IOT.json"
start_server iot --profiles "$tmp/iotprof" --listen.nist 127.0.0.1:$((PORT_NIST + 2)) \
	--listen.brainpool off || exit 1
IOT=(--pki certs/sgp26-nist --connect 127.0.0.1:$((PORT_NIST + 2)) --ac "LPA:1\$$FQDN\$IOT"
     --euicc-info2 "$DEV/sgp32-v1.2/euicc-info2.der" --device-info "$DEV/sgp32-v1.2/device-info.der"
     --expect "profiles/$P.der")
client "$tmp/iot.out" download -v "${IOT[@]}" "${A[@]}"
check "SGP.32 device downloads a profile with IoT metadata over ASN.1" \
	result_is "$tmp/iot.out" '^result: ok 4 .*match=yes'
got=$(grep -E '^[0-9A-F]+$' "$tmp/iot.out.err" | tr -d '\n')
check "profileMetaData ends in 9F7B 01 FF (eCall TRUE), 9F67 01 00 (fallback FALSE)" \
	bash -c "[[ '$got' == *'9F7B01FF9F670100'* ]]"
check "the eUICC found the same bytes in the BPP's 88 segments; the LPA read them" \
	grep -q 'IoT metadata: ecallIndication TRUE, fallbackAllowed FALSE' "$tmp/iot.out.err"
client "$tmp/iot.out" download "${IOT[@]}" --binding json
check "the same over the JSON binding" result_is "$tmp/iot.out" '^result: ok 4 .*match=yes'
check "with the IoT metadata fields" \
	grep -q 'IoT metadata: ecallIndication TRUE, fallbackAllowed FALSE' "$tmp/iot.out.err"
client "$tmp/plain.out" download -v "${NIST[@]}" "${A[@]}" --ac "$AC"
got=$(grep -E '^[0-9A-F]+$' "$tmp/plain.out.err" | tr -d '\n')
check "a profile without such a description carries neither field" \
	bash -c "grep -q '^result: ok 4 ' '$tmp/plain.out' && [[ '$got' != *'9F7B01'* && '$got' != *'9F6701'* ]]"

# --- SGP.22 version range: eUICC SVN 2.1 .. 2.5 accepted, others refused ---
for v in 2.1.0 2.2.1 2.2.2 2.3.0 2.4.0 2.5.0; do
	run "eUICC SVN $v accepted (ASN.1)" '^result: ok 4 ' "${NIST[@]}" "${A[@]}" --svn $v --ac "$AC"
done
for v in 2.0.0 2.6.0 1.0.0; do
	neg "eUICC SVN $v" initiateAuthentication 2 euiccVersionNotSupportedByDp --svn $v --ac "$AC"
	run "eUICC SVN $v over JSON -> 8.8.3/3.1" '^result: failed initiateAuthentication 8\.8\.3/3\.1' \
		"${NIST[@]}" --svn $v --ac "$AC"
done

# --- SGP.32 indirect download: an eIM calls ES9+ for the IPA ---
for b in json asn1; do
	run "eIM-style download over $b (EUICCInfo1 read ahead, new connection per call)" \
		'^result: ok 4 .*match=yes' "${NIST[@]}" --binding $b --eim --ac "$AC" \
		--euicc-info2 "$DEV/sgp32-v1.2/euicc-info2.der" \
		--device-info "$DEV/sgp32-v1.2/device-info.der" --expect "profiles/$P.der"
done
for fld in smdpAddress euiccInfo1; do
	run "eIM leaving $fld unfilled, JSON -> 1.2.1/2.2" \
		'^result: failed initiateAuthentication 1\.2\.1/2\.2' "${NIST[@]}" --eim-unfilled $fld \
		--ac "$AC"
	neg "eIM leaving $fld unfilled" initiateAuthentication 127 undefinedError \
		--eim-unfilled $fld --ac "$AC"
done

# --- requests by hand (curl): HTTP faults, headers, malformed DER ---
URL=https://$FQDN:$PORT_NIST/gsma/rsp2/asn1
post() {   # post HEX [CONTENT-TYPE] [ADMIN-PROTOCOL] -> $tmp/status, $tmp/body.hex
	local ct=${2:-application/x-gsma-rsp-asn1} ap=${3:-gsma/rsp/v2.5.0}
	printf '%s' "$1" | xxd -r -p >"$tmp/req"
	curl -s -o "$tmp/body" -w '%{http_code}' --resolve "$FQDN:$PORT_NIST:127.0.0.1" \
		--cacert certs/sgp26-nist/ci.pem -H "Content-Type: $ct" -H "X-Admin-Protocol: $ap" \
		--data-binary @"$tmp/req" "$URL" >"$tmp/status"
	xxd -p "$tmp/body" | tr -d '\n' | tr a-f A-F >"$tmp/body.hex"
}
status_is() { [ "$(cat "$tmp/status")" = "$1" ] || { echo "    HTTP $(cat "$tmp/status")"; return 1; }; }
body_is() {   # body_is REGEX (on the hex of the body, HTTP 200)
	status_is 200 && grep -qE "$1" "$tmp/body.hex" || { echo "    got: $(head -c 80 "$tmp/body.hex")"; return 1; }
}
INFO1=$(sed 's/#.*//' "$DEV/sgp22-v2.5/euicc-info1.hex" | tr -d ' \n')
ADDR_HEX=$(printf '%s' "$FQDN" | xxd -p | tr -d '\n')
# A2 81 95 { BF39 81 91 { 81 10 challenge, 83 19 address, BF20 61 ... } }
IA="A28195BF398191 8110 00112233445566778899AABBCCDDEEFF 8319${ADDR_HEX} $INFO1"
IA=$(echo "$IA" | tr -d ' ')

curl -s -o /dev/null -w '%{http_code}' --resolve "$FQDN:$PORT_NIST:127.0.0.1" \
	--cacert certs/sgp26-nist/ci.pem "$URL" >"$tmp/status"
check "GET is refused with 405" status_is 405
post "$IA" application/json
check "Content-Type application/json gets 415" status_is 415
post "00112233"
check "a body that is not DER gets 400" status_is 400
post "A203BF4000"
check "an A2 without an ES9+ alternative (BF40, ES11) gets 400" status_is 400
post "${IA:0:40}"
check "a truncated request gets 400" status_is 400
for ap in gsma/rsp/v2.1.0 gsma/rsp/v2.2.2 gsma/rsp/v2.3 gsma/rsp/v2.5.0; do
	post "$IA" application/x-gsma-rsp-asn1 $ap
	check "X-Admin-Protocol $ap: InitiateAuthenticationOk" body_is '^A2820[0-9A-F]{3}BF3982[0-9A-F]{4}A082'
done
post "$IA" "application/x-gsma-rsp-asn1;charset=binary"
check "Content-Type with a parameter is accepted" body_is '^A2820[0-9A-F]{3}BF3982[0-9A-F]{4}A082'
for ap in gsma/rsp/v3.0.0 gsma/rsp/v2.0.0 gsma/rsp/v2.6.0 gsma/rsp/v2.10.0 gsma/rsp/v1.0 gsma/rsp/v2.5x; do
	post "$IA" application/x-gsma-rsp-asn1 $ap
	check "X-Admin-Protocol $ap -> undefinedError (1.2.1/3.1 in the JSON binding)" \
		body_is '^A206BF390381017F$'
done
post "A20ABF3907 8105 0011223344"
check "a 5-byte euiccChallenge -> initiateAuthentication undefinedError" body_is '^A206BF390381017F$'
post "A218BF3B15 8010 00112233445566778899AABBCCDDEEFF BF3800"
check "an empty AuthenticateServerResponse -> authenticateClient undefinedError" \
	body_is '^A206BF3B0381017F$'
post "A22FBF3A2C 8010 00112233445566778899AABBCCDDEEFF BF2117A115 8010 00112233445566778899AABBCCDDEEFF 020105"
check "getBoundProfilePackage for an unknown transaction -> invalidTransactionId(95)" \
	body_is '^A206BF3A0381015F$'
post "A21ABF4117 8010 00112233445566778899AABBCCDDEEFF A103810105"
check "cancelSession for an unknown transaction -> invalidTransactionId(1)" \
	body_is '^A206BF4103810101$'
post "A20ABF3D07A005BF3702AABB"
check "handleNotification with bad DER inside still gets 204 and no body" \
	test "$(cat "$tmp/status")" = 204 -a ! -s "$tmp/body"
post "A206BF3D03A00100"
check "handleNotification with garbage in [0] still gets 204" status_is 204
head -c 300000 /dev/zero >"$tmp/big"
curl -s -o /dev/null -w '%{http_code}' --resolve "$FQDN:$PORT_NIST:127.0.0.1" \
	--cacert certs/sgp26-nist/ci.pem -H "Content-Type: application/x-gsma-rsp-asn1" \
	--data-binary @"$tmp/big" "$URL" >"$tmp/status"
check "a 300 KB body gets 413" status_is 413

# --- one store for both bindings ---
check "server still running" kill -0 "${pids[0]}"
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null
n=$(sqlite3 "$tmp/main.db" "select count(*) from history where event='installed'" 2>/dev/null)
check "every successful ASN.1 download recorded as installed ($n >= $n_ok)" test "${n:-0}" -ge "$n_ok"
check "database integrity_check ok" test "$(sqlite3 "$tmp/main.db" 'pragma integrity_check')" = ok
n=$(grep -c "(ASN.1) ->" "$tmp/main.log")
check "the server logged the ASN.1 failures with their status ($n)" test "$n" -ge 20

for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
check "no sanitizer report in the server log" \
	bash -c "! grep -l -E 'Sanitizer|runtime error' $tmp/*.log"
check "no sanitizer report from any smdp-client run" test ! -s "$tmp/client-san"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
