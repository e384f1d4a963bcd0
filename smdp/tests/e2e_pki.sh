#!/usr/bin/env bash
# e2e_pki.sh - the test PKI playground: build/smdp-pki makes private
# hierarchies on both curves (profiles checked with the OpenSSL CLI), full
# downloads run against them with several CIs loaded at once, every negative
# variant is refused with the code SGP.22 gives (SM-DP+ codes from
# SMDP-REFERENCE.md 1.3, eUICC error codes of SGP.22 5.7.13 / 5.7.5), a
# renewed SGP.26 DPtls verifies with `openssl verify`, CRLs (one made by
# smdp-pki, one by `openssl ca`) revoke an EUM and an eUICC, and the
# --check-config report of a deliberately broken certs folder matches its
# golden file. Ports: E2E_PKI_PORT (18520) .. +19.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
PKI=$BUILD/smdp-pki
SMDP=$BUILD/smdp
CLIENT=$BUILD/smdp-client
BASE=${E2E_PKI_PORT:-18520}
FQDN=testsmdpplus1.example.com
P=TS48v2_SAIP2.3_NoBERTLV
AC="LPA:1\$$FQDN\$$P"
GOLDEN=test-vectors/check-config
tmp=$(mktemp -d)
pass=0
fail=0
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

check() {   # check DESCRIPTION COMMAND...
	local d=$1; shift
	if "$@"; then pass=$((pass + 1)); echo "ok - $d"
	else fail=$((fail + 1)); echo "not ok - $d"; fi
}

start_server() {   # start_server NAME PORT CERTS TLS-DIR [ARGS...]: nist listener only
	local name=$1 port=$2 certs=$3 tls=$4; shift 4
	"$SMDP" --db "$tmp/$name.db" --certs "$certs" --listen.nist 127.0.0.1:$port \
		--listen.brainpool off --listen.nist.cert "$tls/dptls.der" \
		--listen.nist.key "$tls/dptls.key.pem" "$@" >"$tmp/$name.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 1 100); do
		grep -q "listening on" "$tmp/$name.log" && return 0
		kill -0 "${pids[-1]}" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
# smdp-pki, its stderr kept for the sanitizer check at the end
pki() { "$PKI" "$@" 2>>"$tmp/pki-tool.log"; }
stop_last() { kill "${pids[-1]}" 2>/dev/null; wait "${pids[-1]}" 2>/dev/null; }

client() {   # client OUTFILE ARGS... : stdout (result line) to OUTFILE, stderr to OUTFILE.err
	local outf=$1; shift
	"$CLIENT" "$@" >"$outf" 2>"$outf.err"
}
result_is() {   # result_is FILE PATTERN
	grep -qE "$2" "$1" && return 0
	echo "    expected /$2/, got: $(cat "$1")"
	grep -E 'REFUSED|error' "$1.err" | tail -n 3 | sed 's/^/    /'
	return 1
}
log_since() { tail -n +$(($2 + 1)) "$1" | grep -qF -- "$3" || { echo "    no '$3' in $1"; return 1; }; }
log_has() { grep -qF -- "$2" "$1" || { echo "    no '$2' in $1"; return 1; }; }
x509() { openssl x509 -in "$1" -noout "${@:2}" 2>/dev/null; }
text() { openssl x509 -in "$1" -noout -text 2>/dev/null; }
# has TEXTFILE LINE: the line (without leading blanks) is in the text output
has() { grep -qxF -- "$2" <(sed 's/^ *//; s/ *$//' "$1") || { echo "    '$2' missing in $1"; return 1; }; }
ski() { text "$1" | grep -A1 'Subject Key Identifier' | tail -n 1 | tr -d ' '; }
aki() { text "$1" | grep -A1 'Authority Key Identifier' | tail -n 1 | tr -d ' '; }

# sig_ok CERT ISSUER: the signature of CERT verifies with ISSUER's public key,
# checked with openssl dgst over the TBSCertificate (no path validation: the
# EUM's nameConstraints are a GSMA rule that `openssl verify` rejects).
sig_ok() {
	local c=$1 i=$2 off
	openssl asn1parse -in "$c" -strparse 4 -noout -out "$tmp/tbs.der" 2>/dev/null || return 1
	off=$(openssl asn1parse -in "$c" 2>/dev/null | grep 'BIT STRING' | tail -n 1 | cut -d: -f1 | tr -d ' ')
	openssl asn1parse -in "$c" -strparse "$off" -noout -out "$tmp/sig.der" 2>/dev/null || return 1
	x509 "$i" -pubkey >"$tmp/pub.pem"
	openssl dgst -sha256 -verify "$tmp/pub.pem" -signature "$tmp/sig.der" "$tmp/tbs.der" \
		>/dev/null 2>&1
}

# eid_check_ok EID: ISO 7064 MOD 97-10 over all 32 digits leaves 1 (SGP.29)
eid_check_ok() {
	local e=$1 r=0 i
	[[ $e =~ ^[0-9]{32}$ ]] || return 1
	for ((i = 0; i < 32; i++)); do r=$(((r * 10 + ${e:i:1}) % 97)); done
	[ "$r" -eq 1 ]
}

# ------------------------------------------------------------------
# 1. A private hierarchy on each curve, in the layout of certs/
pki init "$tmp/pki" --curve both >"$tmp/init.out"
check "smdp-pki init --curve both succeeds" test $? -eq 0
for ci in lab-nist lab-brp; do
	d=$tmp/pki/$ci
	missing=
	for f in ci dpauth dppb dptls euicc/eum euicc/euicc; do
		for ext in der pem; do [ -f "$d/$f.$ext" ] || missing="$missing $f.$ext"; done
		[ "$f" = ci ] || [ -f "$d/$f.key.pem" ] || missing="$missing $f.key.pem"
		if [ -f "$d/$f.der" ] && ! cmp -s <(openssl x509 -inform der -in "$d/$f.der") \
			<(openssl x509 -in "$d/$f.pem"); then missing="$missing $f(der!=pem)"; fi
	done
	check "$ci: every file of the certs/ layout, DER and PEM the same certificate" \
		test -z "$missing" -a -f "$d/ci.key.pem"
	check "$ci: private keys are mode 0600" \
		test "$(stat -c %a "$d/dpauth.key.pem" "$d/euicc/euicc.key.pem" | sort -u)" = 600
done
curve_of() { text "$1" | grep -q "ASN1 OID: $2"; }
check "lab-nist CI is on prime256v1" curve_of "$tmp/pki/lab-nist/ci.pem" prime256v1
check "lab-brp CI is on brainpoolP256r1" curve_of "$tmp/pki/lab-brp/ci.pem" brainpoolP256r1

# 2. The profiles of SMDP-REFERENCE.md 5 (SGP.26), read back with openssl
for ci in lab-nist lab-brp; do
	d=$tmp/pki/$ci
	for f in ci dpauth dppb dptls euicc/eum euicc/euicc; do text "$d/$f.pem" >"$tmp/$ci-${f#euicc/}.txt"; done
	t=$tmp/$ci
	check "$ci CI: self-signed, CA:TRUE critical, keyCertSign+cRLSign critical, policy .1.0 critical" \
		bash -c "openssl verify -CAfile '$d/ci.pem' '$d/ci.pem' >/dev/null 2>&1 &&
			grep -A1 'Basic Constraints: critical' '$t-ci.txt' | grep -q 'CA:TRUE' &&
			grep -A1 'Key Usage: critical' '$t-ci.txt' | grep -q 'Certificate Sign, CRL Sign' &&
			grep -A1 'Certificate Policies: critical' '$t-ci.txt' | grep -q 'Policy: 2.23.146.1.2.1.0'"
	check "$ci DPauth: KU digitalSignature critical, policy .1.4 critical, SAN RID 2.999.10" \
		bash -c "grep -A1 'Key Usage: critical' '$t-dpauth.txt' | grep -qx ' *Digital Signature' &&
			grep -A1 'Certificate Policies: critical' '$t-dpauth.txt' | grep -q 'Policy: 2.23.146.1.2.1.4' &&
			grep -qx ' *Registered ID:2.999.10' '$t-dpauth.txt'"
	check "$ci DPpb: KU digitalSignature critical, policy .1.5 critical, same SAN RID" \
		bash -c "grep -A1 'Key Usage: critical' '$t-dppb.txt' | grep -qx ' *Digital Signature' &&
			grep -A1 'Certificate Policies: critical' '$t-dppb.txt' | grep -q 'Policy: 2.23.146.1.2.1.5' &&
			grep -qx ' *Registered ID:2.999.10' '$t-dppb.txt'"
	check "$ci DPtls: EKU serverAuth+clientAuth critical, policy .1.3 not critical, SAN DNS+RID" \
		bash -c "grep -A1 'Extended Key Usage: critical' '$t-dptls.txt' | grep -q 'TLS Web Server Authentication, TLS Web Client Authentication' &&
			grep -A1 -E 'Certificate Policies: *\$' '$t-dptls.txt' | grep -q 'Policy: 2.23.146.1.2.1.3' &&
			grep -qx ' *DNS:$FQDN, Registered ID:2.999.10' '$t-dptls.txt'"
	check "$ci EUM: CA:TRUE pathlen:0, keyCertSign only, policy .1.2, nameConstraints serialNumber 89049032" \
		bash -c "grep -A1 'Basic Constraints: critical' '$t-eum.txt' | grep -q 'CA:TRUE, pathlen:0' &&
			grep -A1 'Key Usage: critical' '$t-eum.txt' | grep -qx ' *Certificate Sign' &&
			grep -A1 'Certificate Policies: critical' '$t-eum.txt' | grep -q 'Policy: 2.23.146.1.2.1.2' &&
			grep -A2 'Name Constraints: critical' '$t-eum.txt' | grep -q 'serialNumber = 89049032'"
	check "$ci EUM: SGP.22 v3 permittedEins 2.23.146.1.2.2.0 = SEQUENCE { PrintableString 89049032 }" \
		bash -c "openssl asn1parse -in '$d/euicc/eum.pem' | grep -A3 ':2.23.146.1.2.2.0' |
			grep -q 'OCTET STRING *\[HEX DUMP\]:300A1308$(printf 89049032 | xxd -p | tr a-f A-F)'"
	eid=$(x509 "$d/euicc/euicc.pem" -subject -nameopt multiline | sed -n 's/^ *serialNumber *= *//p')
	check "$ci eUICC: EID $eid in subject serialNumber, SGP.29 check digits valid" eid_check_ok "$eid"
	check "$ci eUICC: KU digitalSignature critical, policy .1.1 critical, no basicConstraints CA" \
		bash -c "grep -A1 'Key Usage: critical' '$t-euicc.txt' | grep -qx ' *Digital Signature' &&
			grep -A1 'Certificate Policies: critical' '$t-euicc.txt' | grep -q 'Policy: 2.23.146.1.2.1.1' &&
			! grep -q 'CA:TRUE' '$t-euicc.txt'"
	check "$ci: DPauth, DPpb, DPtls and EUM verify against the CI (openssl verify)" \
		bash -c "openssl verify -CAfile '$d/ci.pem' '$d/dpauth.pem' '$d/dppb.pem' '$d/dptls.pem' \
			'$d/euicc/eum.pem' >/dev/null 2>&1"
	check "$ci: eUICC signature verifies with the EUM key (openssl dgst)" sig_ok "$d/euicc/euicc.pem" "$d/euicc/eum.pem"
	ok=1
	for f in dpauth dppb dptls euicc/eum; do [ "$(aki "$d/$f.pem")" = "$(ski "$d/ci.pem")" ] || ok=0; done
	[ "$(aki "$d/euicc/euicc.pem")" = "$(ski "$d/euicc/eum.pem")" ] || ok=0
	check "$ci: every AKI is its issuer's SKI" test $ok -eq 1
	check "$ci: DPtls lives about 13 months, DPauth 10 years, eUICC notAfter 99991231235959Z" \
		bash -c "x509 () { openssl x509 -in \"\$1\" -noout \"\${@:2}\"; };
			x509 '$d/dptls.pem' -checkend $((390 * 86400)) >/dev/null &&
			! x509 '$d/dptls.pem' -checkend $((400 * 86400)) >/dev/null &&
			x509 '$d/dpauth.pem' -checkend $((3640 * 86400)) >/dev/null &&
			openssl asn1parse -in '$d/euicc/euicc.pem' | grep -q 'GENERALIZEDTIME *:99991231235959Z'"
done

# 3. Full downloads against the private hierarchies, one per curve
"$SMDP" --db "$tmp/lab.db" --certs "$tmp/pki" --listen.nist 127.0.0.1:$BASE \
	--listen.brainpool 127.0.0.1:$((BASE + 1)) \
	--listen.nist.cert "$tmp/pki/lab-nist/dptls.der" --listen.nist.key "$tmp/pki/lab-nist/dptls.key.pem" \
	--listen.brainpool.cert "$tmp/pki/lab-brp/dptls.der" \
	--listen.brainpool.key "$tmp/pki/lab-brp/dptls.key.pem" >"$tmp/lab.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ "$(grep -c 'listening on https' "$tmp/lab.log")" -ge 2 ] && break; sleep 0.1; done
LAB=("${pids[-1]}")
client "$tmp/d1" download --pki "$tmp/pki/lab-nist" --connect 127.0.0.1:$BASE --ac "$AC" \
	--expect "profiles/$P.der"
check "download on NIST P-256 against the private CI matches the profile" \
	result_is "$tmp/d1" '^result: ok .*match=yes'
client "$tmp/d2" download --pki "$tmp/pki/lab-brp" --connect 127.0.0.1:$((BASE + 1)) \
	--ac "LPA:1\$$FQDN:$((BASE + 1))\$$P" --expect "profiles/$P.der"
check "download on brainpoolP256r1 against the private CI matches the profile" \
	result_is "$tmp/d2" '^result: ok .*match=yes'

# 4. Several CIs at once: the SGP.26 ones and the private ones
mkdir -p "$tmp/multi"
cp -r certs/sgp26-nist certs/sgp26-brp "$tmp/pki/lab-nist" "$tmp/pki/lab-brp" "$tmp/multi/"
"$SMDP" --db "$tmp/multi.db" --certs "$tmp/multi" --listen.nist 127.0.0.1:$((BASE + 2)) \
	--listen.brainpool 127.0.0.1:$((BASE + 3)) \
	--listen.nist.cert "$tmp/pki/lab-nist/dptls.der" --listen.nist.key "$tmp/pki/lab-nist/dptls.key.pem" \
	--listen.brainpool.cert "$tmp/pki/lab-brp/dptls.der" \
	--listen.brainpool.key "$tmp/pki/lab-brp/dptls.key.pem" >"$tmp/multi.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ "$(grep -c 'listening on https' "$tmp/multi.log")" -ge 2 ] && break; sleep 0.1; done
check "four CIs loaded (2 per curve)" test "$(grep -c 'info  CI ' "$tmp/multi.log")" -eq 4
n=0
for ci in sgp26-nist lab-nist sgp26-brp lab-brp; do
	port=$((BASE + 2)); tls=lab-nist; host=$FQDN
	case $ci in *brp) port=$((BASE + 3)); tls=lab-brp; host=$FQDN:$port ;; esac
	src=$tmp/multi/$ci
	client "$tmp/m$ci" download --pki "$src" --tls-ca "$tmp/pki/$tls/ci.pem" \
		--connect 127.0.0.1:$port --ac "LPA:1\$$host\$$P" --expect "profiles/$P.der"
	check "multi-CI server: $ci eUICC downloads" result_is "$tmp/m$ci" '^result: ok .*match=yes'
done
got=$(sqlite3 "$tmp/multi.db" "select group_concat(ci_name, ' ') from (select ci_name from sessions order by created, rowid)")
check "each session used the eUICC's own CI ($got)" test "$got" = "sgp26-nist lab-nist sgp26-brp lab-brp"
SKI_LAB=$(ski "$tmp/pki/lab-nist/ci.pem" | tr -d :)
SKI_26=$(ski certs/sgp26-nist/ci.pem | tr -d :)
client "$tmp/m5" download --pki "$tmp/pki/lab-nist" --connect 127.0.0.1:$((BASE + 2)) --ac "$AC" \
	--ci-list-sign "$SKI_LAB,$SKI_26" --ci-list-verify "$SKI_26,$SKI_LAB"
check "eUICC listing [lab, sgp26] for signing gets lab-nist" result_is "$tmp/m5" '^result: ok'
client "$tmp/m6" download --pki "$tmp/pki/lab-nist" --connect 127.0.0.1:$((BASE + 2)) --ac "$AC" \
	--ci-list-sign "$SKI_26,$SKI_LAB" --ci-list-verify "$SKI_26,$SKI_LAB"
check "eUICC listing [sgp26, lab] gets the SGP.26 CI first: its lab-only eUICC answers ciPKUnknown(7)" \
	grep -q 'AuthenticateServer REFUSED (error 7)' "$tmp/m6.err"
last=$(sqlite3 "$tmp/multi.db" "select ci_name from sessions order by created desc, rowid desc limit 1")
check "... and the server chose sgp26-nist, the eUICC's first choice ($last)" test "$last" = sgp26-nist
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null

# 5. Negative eUICC/EUM variants against the lab server: SM-DP+ codes of
#    SMDP-REFERENCE.md 1.3, and the server says why in its log
pki negative "$tmp/neg" --ci "$tmp/pki/lab-nist" >"$tmp/neg.out"
check "smdp-pki negative makes 27 variants" test "$(ls -d "$tmp"/neg/*/lab-nist | wc -l)" -eq 27
pki negative "$tmp/negb" --ci "$tmp/pki/lab-brp" >"$tmp/negb.out"
check "smdp-pki negative on the brainpool hierarchy" test "$(ls -d "$tmp"/negb/*/lab-brp | wc -l)" -eq 27
while read -r v fn code why; do
	for curve in nist brp; do
		if [ $curve = nist ]; then dir=$tmp/neg/$v/lab-nist; port=$BASE; host=$FQDN; tls=lab-nist
		else dir=$tmp/negb/$v/lab-brp; port=$((BASE + 1)); host=$FQDN:$port; tls=lab-brp; fi
		before=$(wc -l <"$tmp/lab.log")
		client "$tmp/n$v$curve" download --pki "$dir" --tls-ca "$tmp/pki/$tls/ci.pem" \
			--connect 127.0.0.1:$port --ac "LPA:1\$$host\$$P"
		check "$curve $v -> $fn $code" result_is "$tmp/n$v$curve" \
			"^result: failed $fn ${code//./\\.} "
		other=brainpoolP256r1; [ $curve = nist ] || other="NIST P-256"
		check "$curve $v: the server log says '${why//%C/$other}'" \
			log_since "$tmp/lab.log" "$before" "${why//%C/$other}"
	done
done <<'EOF'
eum-expired authenticateClient 8.1.2/6.3 EUM certificate: expired
eum-not-yet-valid authenticateClient 8.1.2/6.1 EUM certificate: not yet valid
eum-wrong-policy authenticateClient 8.1.2/6.1 EUM certificate: wrong role policy
eum-wrong-key-usage authenticateClient 8.1.2/6.1 EUM certificate: wrong role policy, key usage
eum-wrong-curve authenticateClient 8.1.2/6.1 EUM certificate: key on %C
eum-unknown-ci authenticateClient 8.11.1/3.9 EUM certificate is not issued by CI
euicc-expired authenticateClient 8.1.3/6.3 eUICC certificate: expired
euicc-not-yet-valid authenticateClient 8.1.3/6.1 eUICC certificate: not yet valid
euicc-wrong-policy authenticateClient 8.1.3/6.1 eUICC certificate: wrong role policy
euicc-wrong-key-usage authenticateClient 8.1.3/6.1 eUICC certificate: wrong role policy, key usage
euicc-wrong-curve authenticateClient 8.1.3/6.1 eUICC certificate: wrong role policy, key usage or curve
euicc-eid-out-of-range authenticateClient 8.1.3/6.1 is outside the EUM's permitted range
unknown-ci initiateAuthentication 8.8.2/3.1 initiateAuthentication -> 8.8.2/3.1
EOF
kill "${LAB[0]}"; wait "${LAB[0]}" 2>/dev/null

# 6. Negative SM-DP+ certificates: smdp serves them (with a warning) and the
#    eUICC refuses them with its SGP.22 error code (AuthenticateServer 5.7.13,
#    PrepareDownload 5.7.5); the LPA refuses a bad DPtls in the handshake
port=$((BASE + 4))
while read -r v step code warn; do
	dir=$tmp/neg/$v/lab-nist
	if ! start_server "dp-$v" $port "$tmp/neg/$v" "$dir"; then
		check "server starts with $v" false
		port=$((port + 1)); continue
	fi
	client "$tmp/dp$v" download --pki "$dir" --connect 127.0.0.1:$port --ac "$AC"
	if [ "$step" = TLS ]; then
		check "$v: the LPA refuses the TLS handshake ($code)" \
			result_is "$tmp/dp$v" "^result: error initiateAuthentication: transport: TLS handshake.*$code"
	else
		check "$v: eUICC $step answers error $code, forwarded to the SM-DP+" \
			bash -c "grep -q '$step REFUSED (error $code)' '$tmp/dp$v.err' && grep -q '^result: error' '$tmp/dp$v'"
		check "$v: smdp warned at start-up ('$warn')" log_has "$tmp/dp-$v.log" "$warn"
	fi
	stop_last
	port=$((port + 1))
done <<'EOF2'
dpauth-expired AuthenticateServer 1 expired
dpauth-not-yet-valid AuthenticateServer 1 not yet valid
dpauth-wrong-policy AuthenticateServer 1 lacks the role policy 2.23.146.1.2.1.4
dpauth-wrong-key-usage AuthenticateServer 1 key usage lacks digitalSignature
dpauth-wrong-curve AuthenticateServer 3 key on brainpoolP256r1, the CI on NIST P-256
dppb-expired PrepareDownload 1 expired
dppb-not-yet-valid PrepareDownload 1 not yet valid
dppb-wrong-policy PrepareDownload 1 lacks the role policy 2.23.146.1.2.1.5
dppb-wrong-key-usage PrepareDownload 1 key usage lacks digitalSignature
dppb-wrong-curve PrepareDownload 3 key on brainpoolP256r1, the CI on NIST P-256
dptls-expired TLS expired -
dptls-wrong-fqdn TLS hostname -
EOF2

# 7. DPauth/DPpb of different SM-DP+ OIDs, DPauth from another CI: smdp
#    refuses to start, and the report says why
for v in dpauth-dppb-oid-mismatch dpauth-unknown-ci; do
	"$SMDP" --db "$tmp/refuse.db" --certs "$tmp/neg/$v" --listen.nist 127.0.0.1:$port \
		--listen.brainpool off --listen.nist.cert "$tmp/pki/lab-nist/dptls.der" \
		--listen.nist.key "$tmp/pki/lab-nist/dptls.key.pem" >"$tmp/refuse-$v.log" 2>&1 &
	rpid=$!
	for _ in $(seq 1 50); do kill -0 $rpid 2>/dev/null || break; sleep 0.1; done
	if kill -0 $rpid 2>/dev/null; then kill $rpid; wait $rpid; rc=0; else wait $rpid; rc=$?; fi
	case $v in
	*oid*) why="DPauth OID 2.999.10 differs from DPpb OID 2.999.10.1" ;;
	*) why="CERT.DPauth is not issued by the CI in this directory" ;;
	esac
	check "$v: smdp refuses to start (exit $rc)" test $rc -ne 0
	check "$v: smdp says '$why'" log_has "$tmp/refuse-$v.log" "$why"
	pki check --certs "$tmp/neg/$v" >"$tmp/check-$v.txt"
	rc=$?
	check "$v: check-config exit 2 and 'ERROR: $why'" \
		bash -c "[ $rc -eq 2 ] && grep -qF 'ERROR: $why' '$tmp/check-$v.txt' &&
			grep -q 'smdp refuses to start' '$tmp/check-$v.txt'"
done
pki check --certs "$tmp/pki" --listen "nist=$tmp/pki/lab-nist/dptls.der,$tmp/pki/lab-nist/dptls.key.pem" \
	--listen "brainpool=$tmp/pki/lab-brp/dptls.der,$tmp/pki/lab-brp/dptls.key.pem" >"$tmp/check-good.txt"
rc=$?
check "check-config on a fresh hierarchy: exit 0, no problems, both curves listed" \
	bash -c "[ $rc -eq 0 ] && grep -qx 'result: no problems found' '$tmp/check-good.txt' &&
		grep -qx '  NIST P-256: lab-nist (SM-DP+ OID 2.999.10)' '$tmp/check-good.txt' &&
		grep -qx '  brainpoolP256r1: lab-brp (SM-DP+ OID 2.999.10)' '$tmp/check-good.txt'"

# 8. Renew the SGP.26 DPtls certificates from the SGP.26 CI keys
port=$((BASE + 18))
mkdir -p "$tmp/renew"
for c in nist brp; do
	pki renew certs/sgp26-$c/dptls.der --ci certs/sgp26-$c --key certs/sgp26-$c/dptls.key.pem \
		--days 30 --out "$tmp/renew/dptls-$c" >/dev/null
	check "renew sgp26-$c DPtls succeeds" test $? -eq 0
	check "renewed sgp26-$c DPtls verifies with openssl verify against the SGP.26 CI" \
		bash -c "openssl verify -CAfile certs/sgp26-$c/ci.pem '$tmp/renew/dptls-$c.pem' | grep -q ': OK\$'"
	check "renewed sgp26-$c DPtls: same subject, key and extensions as the shipped one" \
		bash -c "cmp -s <(openssl x509 -inform der -in certs/sgp26-$c/dptls.der -noout -subject -issuer -pubkey -ext subjectAltName,keyUsage,extendedKeyUsage,certificatePolicies,subjectKeyIdentifier,authorityKeyIdentifier,crlDistributionPoints) \
			<(openssl x509 -in '$tmp/renew/dptls-$c.pem' -noout -subject -issuer -pubkey -ext subjectAltName,keyUsage,extendedKeyUsage,certificatePolicies,subjectKeyIdentifier,authorityKeyIdentifier,crlDistributionPoints)"
	check "renewed sgp26-$c DPtls is valid now for 30 days, not 31" \
		bash -c "openssl x509 -in '$tmp/renew/dptls-$c.pem' -noout -checkend $((29 * 86400)) >/dev/null &&
			! openssl x509 -in '$tmp/renew/dptls-$c.pem' -noout -checkend $((31 * 86400)) >/dev/null"
done
pki renew certs/expired/dptls-nist-2024.der --ci certs/sgp26-nist --out "$tmp/renew/old" >/dev/null
check "the expired 2024 SGP.26 DPtls, renewed, verifies again" \
	bash -c "openssl verify -CAfile certs/sgp26-nist/ci.pem '$tmp/renew/old.pem' | grep -q ': OK\$'"
pki renew certs/sgp26-nist/dptls.der --ci certs/sgp26-nist --key certs/sgp26-nist/dpauth.key.pem \
	--out "$tmp/renew/bad" >/dev/null
check "renew refuses a key that is not the certificate's" test $? -ne 0
cp "$tmp/renew/dptls-nist.der" "$tmp/renew/dptls.der"
cp certs/sgp26-nist/dptls.key.pem "$tmp/renew/dptls.key.pem"
if start_server renew $port certs "$tmp/renew"; then
	client "$tmp/rn" download --pki certs/sgp26-nist --connect 127.0.0.1:$port --ac "$AC" \
		--expect "profiles/$P.der"
	check "download over TLS with the renewed SGP.26 DPtls" result_is "$tmp/rn" '^result: ok .*match=yes'
	stop_last
else
	check "server starts with the renewed DPtls" false
fi

# 9. CRLs: crl-a's CI revokes its EUM (CRL by smdp-pki), crl-b's EUM revokes
#    its eUICC (CRL by openssl ca, no AKI), crl-c's EUM revokes another eUICC
port=$((BASE + 19))
mkdir -p "$tmp/crl"
for h in crl-a crl-b crl-c; do pki init "$tmp/crl" --name $h --curve nist >/dev/null; done
pki revoke --ci "$tmp/crl/crl-a" --out "$tmp/crl/crl-a/ci.crl" "$tmp/crl/crl-a/euicc/eum.der" >/dev/null
check "the CRL of smdp-pki verifies with openssl crl against the CI and lists the EUM's serial" \
	bash -c "openssl crl -in '$tmp/crl/crl-a/ci.crl.pem' -CAfile '$tmp/crl/crl-a/ci.pem' -noout -verify 2>&1 | grep -q 'verify OK' &&
		openssl crl -in '$tmp/crl/crl-a/ci.crl.pem' -noout -text | grep -q \"Serial Number: \$(openssl x509 -in '$tmp/crl/crl-a/euicc/eum.pem' -noout -serial | cut -d= -f2)\""
eumca() {   # eumca DIR CERT-TO-REVOKE: CRL of DIR's EUM made by openssl ca
	local d=$1/euicc w=$tmp/ca-$(basename "$1")
	mkdir -p "$w"; : >"$w/index.txt"; echo 01 >"$w/crlnumber"
	printf '[ca]\ndefault_ca = eum\n[eum]\ndatabase = %s/index.txt\ncrlnumber = %s/crlnumber\ndefault_md = sha256\ndefault_crl_days = 7\n' \
		"$w" "$w" >"$w/ca.cnf"
	openssl ca -config "$w/ca.cnf" -keyfile "$d/eum.key.pem" -cert "$d/eum.pem" -revoke "$2" >/dev/null 2>&1 &&
	openssl ca -config "$w/ca.cnf" -keyfile "$d/eum.key.pem" -cert "$d/eum.pem" -gencrl \
		-out "$1/eum.crl" >/dev/null 2>&1
}
eumca "$tmp/crl/crl-b" "$tmp/crl/crl-b/euicc/euicc.pem"
check "openssl ca made crl-b's EUM CRL" test -s "$tmp/crl/crl-b/eum.crl"
pki issue euicc --ci "$tmp/crl/crl-c" --out "$tmp/crl/other" \
	--eid 89049032000000000000000000000011 >/dev/null
eumca "$tmp/crl/crl-c" "$tmp/crl/other.pem"
if start_server crl $port "$tmp/crl" "$tmp/crl/crl-a"; then
	check "smdp loaded the CRLs" bash -c "grep -q 'CI crl-a: .* 1 CRL(s)' '$tmp/crl.log' &&
		grep -q 'CI crl-b: .* 1 CRL(s)' '$tmp/crl.log'"
	for h in crl-a crl-b crl-c; do
		client "$tmp/c$h" download --pki "$tmp/crl/$h" --tls-ca "$tmp/crl/crl-a/ci.pem" \
			--connect 127.0.0.1:$port --ac "$AC"
	done
	check "EUM revoked by its CI's CRL -> 8.1.2/6.1" result_is "$tmp/ccrl-a" '^result: failed authenticateClient 8\.1\.2/6\.1 '
	check "... because of the CRL" log_has "$tmp/crl.log" "EUM certificate is revoked by a CRL of CI crl-a"
	check "eUICC revoked by its EUM's CRL (openssl ca) -> 8.1.3/6.1" result_is "$tmp/ccrl-b" '^result: failed authenticateClient 8\.1\.3/6\.1 '
	check "... because of the CRL" log_has "$tmp/crl.log" "eUICC certificate is revoked by a CRL of its EUM"
	check "a CRL listing another eUICC does not stop this one" result_is "$tmp/ccrl-c" '^result: ok'
	stop_last
else
	check "server starts with CRLs" false
fi
# a CRL that names the CI but is signed by another key: refused at start-up
mkdir -p "$tmp/crlbad"
cp -r "$tmp/crl/crl-c" "$tmp/crlbad/"
rm -f "$tmp/crlbad/crl-c/eum.crl"
pki init "$tmp/forge" --name crl-c --curve nist >/dev/null   # same CI name, other key
pki revoke --ci "$tmp/forge/crl-c" --out "$tmp/crlbad/crl-c/forged.crl" "$tmp/crl/crl-c/euicc/eum.der" >/dev/null
"$SMDP" --db "$tmp/crlbad.db" --certs "$tmp/crlbad" --listen.nist off --listen.brainpool off \
	>"$tmp/crlbad.log" 2>&1
check "a CRL naming the CI but not signed by it stops smdp" \
	log_has "$tmp/crlbad.log" "names the CI as issuer but its authorityKeyIdentifier or signature does not match the CI"

# 10. --check-config on a deliberately broken certs folder, against its golden file
B=$GOLDEN/broken
# git keeps no mode 0600 (a fresh clone has 0644 keys, as `make key-perms`
# fixes for certs/): the golden report is about the certificates, so its keys
# are made private first; loose modes are tested in 11
chmod go-rwx $B/*/*.key.pem $B/*/euicc/*.key.pem
pki check --certs $B --now 2027-03-01 --listen "nist=$B/good/dptls.der,$B/alpha/dptls.key.pem" \
	--listen "brainpool=$B/alpha/dptls.der,$B/alpha/dptls.key.pem" >"$tmp/broken.txt"
rc=$?
check "check-config of the broken folder exits 2 (errors)" test $rc -eq 2
check "check-config of the broken folder matches $GOLDEN/broken.txt" \
	diff -u "$GOLDEN/broken.txt" "$tmp/broken.txt"
# what the golden file claims, checked with openssl
check "golden: alpha's CI SKI is the one openssl prints" \
	grep -q "SKI $(ski $B/alpha/ci.pem | tr -d :), " "$GOLDEN/broken.txt"
check "golden: beta's DPauth key really is another key (openssl pkey)" \
	bash -c "! cmp -s <(openssl pkey -in $B/beta/dpauth.key.pem -pubout) <(openssl x509 -in $B/beta/dpauth.pem -noout -pubkey)"
check "golden: alpha's DPauth expires 2027-03-15, 14 days after --now" \
	bash -c "openssl x509 -in $B/alpha/dpauth.pem -noout -enddate | grep -q 'Mar 15 00:00:00 2027 GMT' &&
		grep -q 'expires in 14 days (less than 30)' '$GOLDEN/broken.txt'"
check "golden: alpha's DPpb carries OID 2.999.11" \
	bash -c "openssl x509 -in $B/alpha/dppb.pem -noout -ext subjectAltName | grep -q 'Registered ID:2.999.11'"
check "golden: beta's CRL lists beta's EUM (openssl crl)" \
	bash -c "openssl crl -in $B/beta/ci.crl.pem -noout -text | grep -q \"Serial Number: \$(openssl x509 -in $B/beta/euicc/eum.pem -noout -serial | cut -d= -f2)\""

# 11. Private keys that group or others may read or write: smdp refuses to
#     start with them, so --check-config (smdp and smdp-pki check) reports
#     each as an error with the chmod fix; keys of mode 0600 are not listed
K=$tmp/perm
mkdir -p "$K/certs" "$K/tls"
cp -rp "$tmp/pki/lab-nist" "$K/certs/"
cp -p "$tmp/pki/lab-nist/dptls.der" "$tmp/pki/lab-nist/dptls.key.pem" "$K/tls/"
chmod 600 "$K"/certs/lab-nist/*.key.pem "$K/tls/dptls.key.pem"
keycheck() {   # keycheck OUT [OPTION...]: smdp --check-config on $K, exit status appended to OUT
	local out=$1; shift
	"$SMDP" --check-config --certs "$K/certs" --listen.brainpool off \
		--listen.nist.cert "$K/tls/dptls.der" --listen.nist.key "$K/tls/dptls.key.pem" "$@" \
		>"$out" 2>&1
	echo "exit $?" >>"$out"
}
keycheck "$tmp/perm0.txt"
check "keys of mode 0600: check-config exits 0, no key listed" \
	bash -c "grep -qx 'exit 0' '$tmp/perm0.txt' && ! grep -q 'private key' '$tmp/perm0.txt'"
chmod 644 "$K/certs/lab-nist/dppb.key.pem"
chmod 640 "$K/tls/dptls.key.pem"
chmod 620 "$K/certs/lab-nist/dpauth.key.pem"
keycheck "$tmp/perm1.txt"
# the modes as stat(1) reads them, to compare with what the report says
m_dppb=$(stat -c %04a "$K/certs/lab-nist/dppb.key.pem")
m_tls=$(stat -c %04a "$K/tls/dptls.key.pem")
m_auth=$(stat -c %04a "$K/certs/lab-nist/dpauth.key.pem")
loose() {   # loose FILE KEY MODE: the report has exactly one error line for KEY
	local want="ERROR: private key $2 is readable by group or others (mode $3): run 'chmod 600 $2', or start with --allow-loose-key-permissions yes"
	[ "$(grep -cF -- "$want" "$1")" = 1 ] || { echo "    no single '$want' in $1"; return 1; }
}
check "dppb.key.pem of mode 0644 is reported with the chmod fix ($m_dppb)" \
	loose "$tmp/perm1.txt" "$K/certs/lab-nist/dppb.key.pem" "$m_dppb"
check "a group-writable dpauth.key.pem (0620) is reported ($m_auth)" \
	loose "$tmp/perm1.txt" "$K/certs/lab-nist/dpauth.key.pem" "$m_auth"
sed -n '/^listener nist/,$p' "$tmp/perm1.txt" >"$tmp/perm1-listener.txt"
check "the listener's own key of mode 0640 is reported under the listener ($m_tls)" \
	loose "$tmp/perm1-listener.txt" "$K/tls/dptls.key.pem" "$m_tls"
check "the keys still 0600 are not listed" \
	bash -c "! grep -q 'private key .*lab-nist/dptls.key.pem' '$tmp/perm1.txt'"
check "check-config counts them as errors: exit 2, 'smdp refuses to start'" \
	bash -c "grep -qx 'exit 2' '$tmp/perm1.txt' &&
		grep -qx 'result: 3 error(s), 0 warning(s): smdp refuses to start' '$tmp/perm1.txt'"
pki check --certs "$K/certs" --listen "nist=$K/tls/dptls.der,$K/tls/dptls.key.pem" >"$tmp/perm2.txt"
rc=$?
check "smdp-pki check gives the same report (exit $rc)" \
	bash -c "[ $rc -eq 2 ] && diff <(grep -F 'private key' '$tmp/perm1.txt') <(grep -F 'private key' '$tmp/perm2.txt')"
"$SMDP" --db "$tmp/perm.db" --certs "$K/certs" --listen.nist 127.0.0.1:$((BASE + 19)) \
	--listen.brainpool off --listen.nist.cert "$K/tls/dptls.der" \
	--listen.nist.key "$K/tls/dptls.key.pem" >"$tmp/perm-start.log" 2>&1 &
rpid=$!
for _ in $(seq 1 50); do kill -0 $rpid 2>/dev/null || break; sleep 0.1; done
if kill -0 $rpid 2>/dev/null; then kill $rpid; wait $rpid; rc=0; else wait $rpid; rc=$?; fi
check "... and smdp itself refuses to start with those keys (exit $rc)" \
	bash -c "[ $rc -ne 0 ] && grep -q 'is readable by group or others' '$tmp/perm-start.log'"
keycheck "$tmp/perm-allow.txt" --allow-loose-key-permissions yes
check "with allow-loose-key-permissions the same 3 keys are warnings: exit 1" \
	bash -c "grep -qx 'exit 1' '$tmp/perm-allow.txt' &&
		[ \$(grep -c 'WARNING: private key .*(allowed by allow-loose-key-permissions)' '$tmp/perm-allow.txt') = 3 ] &&
		! grep -q 'ERROR: private key' '$tmp/perm-allow.txt'"
chmod 600 "$K"/certs/lab-nist/*.key.pem "$K/tls/dptls.key.pem"
cp "$K/tls/dptls.key.pem" "$tmp/admin.key.pem"; chmod 604 "$tmp/admin.key.pem"
keycheck "$tmp/perm-admin.txt" --admin.key "$tmp/admin.key.pem"
check "a loose admin listener key (0604) is reported too, exit 2" \
	bash -c "grep -qx 'exit 2' '$tmp/perm-admin.txt' &&
		grep -qF 'ERROR: private key $tmp/admin.key.pem is readable' '$tmp/perm-admin.txt'"
keycheck "$tmp/perm3.txt"
check "after chmod 600 check-config exits 0 again" grep -qx 'exit 0' "$tmp/perm3.txt"

for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
check "no sanitizer report in the logs of smdp, smdp-pki and smdp-client" \
	bash -c "! grep -l -E 'Sanitizer|runtime error' $tmp/*.log $tmp/*.err"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
