#!/usr/bin/env bash
# e2e_saip.sh - personalized profiles end to end: `smdp-admin personalize`
# makes 3 instances of a TS.48 template with a description file; each
# instance file is checked with xxd for the exported ICCID (header and
# EF.ICCID codings), IMSI (EF.IMSI coding), Ki and OPc; build/smdp serves the
# directory (lab mode: matchingId = file stem) and build/smdp-client downloads
# each instance, compares the decrypted profile byte for byte with the
# instance file and reports the metadata ICCID and name. Then: secrets
# never in a log, an overlapping batch refused with nothing written, and a
# broken package in the profiles directory stopping the server with its
# precise message. Prints "ok"/"not ok" per check and a summary line.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SMDP=$BUILD/smdp
CLIENT=$BUILD/smdp-client
ADMIN=${SMDP_ADMIN:-$BUILD/smdp-admin}
PORT=${E2E_SAIP_PORT:-18580}
FQDN=testsmdpplus1.example.com
TEMPLATE=profiles/TS48v5_SAIP2.3_NoBERTLV.der
tmp=$(mktemp -d)
pass=0
fail=0
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

hexof() { xxd -p "$1" | tr -d '\n' | tr 'a-f' 'A-F'; }
has() { case "$1" in *"$2"*) return 0 ;; esac; echo "    $2 not found"; return 1; }
count_is() {   # count_is HAYSTACK NEEDLE N
	local n
	n=$(printf '%s' "$1" | grep -o "$2" | wc -l)
	[ "$n" -eq "$3" ] || { echo "    $2: $n times, expected $3"; return 1; }
}

# EF.ICCID (TS 102 221 13.2): digits nibble-swapped per byte.
ef_iccid() {
	local s=$1 out="" i
	for ((i = 0; i < ${#s}; i += 2)); do out+="${s:i+1:1}${s:i:1}"; done
	echo "$out"
}
# EF.IMSI (TS 31.102 4.2.2): length, then parity/type nibble 9 (odd count)
# or 1 (even) before the digits, nibble-swapped, F filler.
ef_imsi() {
	local s=$1 nib out i
	if (( ${#s} % 2 )); then nib="9$s"; else nib="1${s}F"; fi
	out=$(printf '%02X' $(( ${#nib} / 2 )))
	for ((i = 0; i < ${#nib}; i += 2)); do out+="${nib:i+1:1}${nib:i:1}"; done
	echo "$out"
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

# --- personalize 3 instances of a TS.48 template ---
mkdir -p "$tmp/tmpl" "$tmp/profiles"
cp "$TEMPLATE" "$tmp/tmpl/Lab.der"
printf '{"serviceProviderName": "E2E Operator", "profileName": "E2E Lab profile",\n "profileClass": "operational"}\n' \
	>"$tmp/tmpl/Lab.json"
"$ADMIN" --db "$tmp/inv.db" --profiles "$tmp/profiles" personalize \
	--template "$tmp/tmpl/Lab.der" --count 3 --iccid 8949449999000000001 \
	--imsi 001019990000001 --out "$tmp/profiles" --export "$tmp/keys.csv" --pin1 random \
	--adm1 random >"$tmp/admin.log" 2>&1
rc=$?
check "smdp-admin personalize --count 3 exits 0" test $rc -eq 0
[ $rc -eq 0 ] || sed 's/^/    /' "$tmp/admin.log"
check "export has a header and 3 lines" test "$(wc -l <"$tmp/keys.csv" 2>/dev/null)" = 4
check "export is readable by its owner only" test "$(stat -c %a "$tmp/keys.csv" 2>/dev/null)" = 600
n=$(sqlite3 "$tmp/inv.db" "select count(*) from profiles where type='Lab'" 2>&1)
check "the 3 instances are in the inventory, pool Lab ($n)" test "$n" = 3
check "smdp-admin list shows them" test "$("$ADMIN" --db "$tmp/inv.db" --profiles "$tmp/profiles" \
	list 2>/dev/null | grep -c 'Available *Lab ')" = 3

ids=()
while IFS=, read -r iccid imsi ki opc algo pin1 adm1; do
	[ "$iccid" = iccid ] && continue
	id=Lab-$iccid
	ids+=("$id:$iccid:$ki:$opc:$pin1:$adm1")
	f=$tmp/profiles/$id.der
	h=$(hexof "$f" 2>/dev/null)
	check "$id.der written" test -s "$f"
	# ProfileHeader iccid [3] and EF.ICCID fillFileContent [3], 10 bytes each
	check "$id: header ICCID $iccid" has "$h" "830A$iccid"
	check "$id: EF.ICCID $(ef_iccid "$iccid")" has "$h" "830A$(ef_iccid "$iccid")"
	check "$id: EF.IMSI $(ef_imsi "$imsi") for $imsi" has "$h" "8309$(ef_imsi "$imsi")"
	# AlgoParameter key [2] and opc [3] in the USIM and the ISIM AKA elements
	check "$id: Ki in both AKA elements" count_is "$h" "8210$ki" 2
	check "$id: OPc in both AKA elements" count_is "$h" "8310$opc" 2
	pinhex=$(printf '%s' "$pin1" | xxd -p | tr 'a-f' 'A-F')
	check "$id: PIN1 $pin1 in the MF pinCodes" has "$h" "8001018108${pinhex}FFFFFFFF"
	check "$id: the template's TS.48 Ki is gone" count_is "$h" "8210000102030405060708090A0B0C0D0E0F" 0
done <"$tmp/keys.csv"
check "3 instances exported" test ${#ids[@]} -eq 3

# --- secrets never reach a log ---
leak=0
for r in "${ids[@]}"; do
	IFS=: read -r _ _ ki opc pin1 adm1 <<<"$r"
	for s in "$ki" "$opc" "$adm1"; do
		grep -qi "$s" "$tmp/admin.log" && leak=1
	done
done
check "no Ki, OPc or ADM1 in the personalize log" test $leak -eq 0
check "the personalize log names the batch" grep -q "3 instances of Lab" "$tmp/admin.log"

# --- serve the instances and download each ---
start_server main --profiles "$tmp/profiles" --listen.nist 127.0.0.1:$PORT \
	--listen.brainpool off || exit 1
check "server loaded the 3 instances" grep -q "3 profiles loaded" "$tmp/main.log"
for r in "${ids[@]}"; do
	IFS=: read -r id iccid ki _ <<<"$r"
	"$CLIENT" download --pki certs/sgp26-nist --connect 127.0.0.1:$PORT \
		--ac "LPA:1\$$FQDN\$$id" --expect "$tmp/profiles/$id.der" >"$tmp/c.out" 2>"$tmp/c.err"
	check "download of $id: BPP content equals the instance file" \
		grep -qE '^result: ok .*match=yes' "$tmp/c.out"
	check "download of $id: metadata ICCID $iccid" grep -q " iccid=$iccid " "$tmp/c.out"
	check "download of $id: metadata from the description file" \
		grep -q "profile 'E2E Lab profile' by 'E2E Operator'" "$tmp/c.err"
	grep -q '^result: ok' "$tmp/c.out" || { cat "$tmp/c.out"; tail -n 5 "$tmp/c.err"; }
done
leak=0
for r in "${ids[@]}"; do
	IFS=: read -r _ _ ki opc _ <<<"$r"
	grep -qi -e "$ki" -e "$opc" "$tmp/main.log" && leak=1
done
check "no Ki or OPc in the server log" test $leak -eq 0

# --- an overlapping batch is refused, nothing written ---
before=$(ls -A "$tmp/profiles" | wc -l)
"$ADMIN" personalize --template "$tmp/tmpl/Lab.der" --count 3 --iccid 8949449999000000003 \
	--imsi 001019990000010 --out "$tmp/profiles" --export "$tmp/keys2.csv" >"$tmp/admin2.log" 2>&1
rc=$?
check "a batch overlapping existing ICCIDs fails" test $rc -eq 1
check "... naming the existing instance" grep -q "Lab-89494499990000000033.der exists" "$tmp/admin2.log"
check "... and writes nothing" test "$(ls -A "$tmp/profiles" | wc -l)" -eq "$before" -a ! -e "$tmp/keys2.csv"

# --- a broken package in the profiles directory stops the server ---
mkdir -p "$tmp/broken"
cp "$TEMPLATE" "$tmp/broken/"
cp test-vectors/saip-broken/iccid-mismatch.der "$tmp/broken/"
want=$(grep '^iccid-mismatch.der' test-vectors/saip-broken/expected.txt | cut -f2)
"$SMDP" --db "$tmp/b.db" --profiles "$tmp/broken" --listen.nist 127.0.0.1:$((PORT + 1)) \
	--listen.brainpool off >"$tmp/broken.log" 2>&1 &
bpid=$!
for _ in $(seq 1 50); do kill -0 $bpid 2>/dev/null || break; sleep 0.1; done
if kill -0 $bpid 2>/dev/null; then kill $bpid; brc=0; else wait $bpid; brc=$?; fi
check "server refuses to start with a broken package (exit $brc)" test $brc -ne 0
check "... with the element, type and offset of the fault" \
	grep -qF "$tmp/broken/iccid-mismatch.der: $want" "$tmp/broken.log"
check "... and never listened" bash -c "! grep -q 'listening on' '$tmp/broken.log'"

for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
pids=()
check "no sanitizer report in the logs" \
	bash -c "! grep -l -E 'Sanitizer|runtime error' $tmp/*.log"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
