#!/usr/bin/env bash
# mkcerts.sh OUTDIR CERTSDIR - make the negative-test eUICC/EUM certificates
# for the end-to-end tests with the OpenSSL CLI, from the SGP.26 test keys in
# CERTSDIR (certs/sgp26-nist). Output (DER):
#   euicc-expired.der     eUICC cert (SGP.26 eUICC key) valid 2020..2021 only
#   euicc-outofrange.der  eUICC cert with EID 89049099..., outside the EUM range
#   euicc-badpolicy.der   eUICC cert without the eUICC role policy
#   ci2.der, eum2.der, euicc2.der  a foreign CI, an EUM (own key) under it and an
#                         eUICC (SGP.26 eUICC key) under that EUM
set -eu
out=$1
src=$(cd "$2" && pwd)
mkdir -p "$out"
cd "$out"
openssl x509 -inform der -in "$src/euicc/eum.der" -out eum.pem
cp "$src/euicc/eum.key.pem" eum.key
cp "$src/euicc/euicc.key.pem" euicc.key

cat > ca.cnf <<'CNF'
[ca]
default_ca = ca_any
[ca_any]
database = index.txt
serial = serial
new_certs_dir = .
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
[policy_any]
countryName = optional
organizationName = optional
serialNumber = optional
commonName = optional
[euicc_ext]
authorityKeyIdentifier = keyid
subjectKeyIdentifier = hash
keyUsage = critical, digitalSignature
certificatePolicies = critical, 2.23.146.1.2.1.1
[euicc_badpolicy_ext]
authorityKeyIdentifier = keyid
subjectKeyIdentifier = hash
keyUsage = critical, digitalSignature
certificatePolicies = critical, 2.23.146.1.2.1.5
[ci_ext]
subjectKeyIdentifier = hash
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
certificatePolicies = critical, 2.23.146.1.2.1.0
subjectAltName = RID:2.999.1
[eum_ext]
authorityKeyIdentifier = keyid
subjectKeyIdentifier = hash
keyUsage = critical, keyCertSign
certificatePolicies = critical, 2.23.146.1.2.1.2
basicConstraints = critical, CA:TRUE, pathlen:0
CNF

reset_db() { : > index.txt; echo 1000 > serial; }

# sign SUBJ EID CAKEY CACERT EXT OUT [START END]
sign() {
	local subj=$1 key=$2 cakey=$3 cacert=$4 ext=$5 outf=$6 start=${7:-} end=${8:-}
	reset_db
	openssl req -new -key "$key" -subj "$subj" -out req.csr 2>/dev/null
	local dates=(-days 3650)
	if [ -n "$start" ]; then dates=(-startdate "$start" -enddate "$end"); fi
	openssl ca -batch -config ca.cnf -keyfile "$cakey" -cert "$cacert" -in req.csr \
		-out cert.pem -extensions "$ext" -notext -preserveDN "${dates[@]}" 2>/dev/null
	openssl x509 -in cert.pem -outform der -out "$outf"
}

EID_OK=89049032123451234512345678901235
EID_BAD=89049099123451234512345678901235
sign "/C=ES/O=RSP Test EUM/serialNumber=$EID_OK/CN=Test eUICC" euicc.key eum.key eum.pem \
	euicc_ext euicc-expired.der 20200101000000Z 20210101000000Z
sign "/C=ES/O=RSP Test EUM/serialNumber=$EID_BAD/CN=Test eUICC" euicc.key eum.key eum.pem \
	euicc_ext euicc-outofrange.der
sign "/C=ES/O=RSP Test EUM/serialNumber=$EID_OK/CN=Test eUICC" euicc.key eum.key eum.pem \
	euicc_badpolicy_ext euicc-badpolicy.der

# a foreign CI with an EUM (same EUM key) and an eUICC (same eUICC key) under it
openssl ecparam -name prime256v1 -genkey -noout -out ci2.key 2>/dev/null
openssl req -new -x509 -key ci2.key -subj "/CN=Foreign CI/O=Elsewhere/C=XX" -days 3650 \
	-config ca.cnf -extensions ci_ext -out ci2.pem 2>/dev/null
openssl x509 -in ci2.pem -outform der -out ci2.der
openssl ecparam -name prime256v1 -genkey -noout -out eum2.key 2>/dev/null
sign "/C=ES/O=RSP Test EUM/CN=EUM Test" eum2.key ci2.key ci2.pem eum_ext eum2.der
openssl x509 -inform der -in eum2.der -out eum2.pem
sign "/C=ES/O=RSP Test EUM/serialNumber=$EID_OK/CN=Test eUICC" euicc.key eum2.key eum2.pem \
	euicc_ext euicc2.der
rm -f req.csr cert.pem index.txt* serial* ./*.key 1000.pem 1001.pem
