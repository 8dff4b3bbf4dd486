#!/usr/bin/env bash
# Regenerate the certificate fixtures for test/pki with openssl (>= 3.0).
#
#   test/pki/__fixtures__/make.sh
#
# Keys and signatures are random, so every run changes the PEMs, the openssl dumps (*.openssl.txt)
# and therefore every golden file. After running it, refresh the goldens with
#   UPDATE_GOLDENS=1 node --import tsx --test test/pki/inspect.test.ts
# and review the diff against the *.openssl.txt dumps before committing: crosscheck.test.ts does part
# of that review automatically, the rest (layout, wording) is for a human.
#
# `openssl ca` is used instead of `openssl x509 -req` because it takes explicit validity dates
# (-startdate/-enddate) and serials, so the goldens do not depend on the day the script ran. The
# dates are chosen so that single-digit days appear ("Jan 2"), which the text layout must not pad.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

cat >ca.cnf <<'CNF'
[ca]
default_ca = fixture_ca

[fixture_ca]
dir = .
database = ./index.txt
new_certs_dir = ./issued
serial = ./serial
default_md = sha256
policy = policy_anything
unique_subject = no
copy_extensions = none
email_in_dn = yes

[policy_anything]
commonName = optional
organizationName = optional
organizationalUnitName = optional
countryName = optional
emailAddress = optional

[req]
distinguished_name = req_dn
prompt = no
[req_dn]
CN = unused

[root_ext]
basicConstraints = critical, CA:TRUE, pathlen:1
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[intermediate_ext]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

# What step-ca puts in an OIDC user certificate: CN = sub, email SAN, URI SAN iss#sub, and the
# provisioner extension (type 2 = OIDC, name, credentialID = client ID). The extension is built
# with openssl's own ASN.1 generator so it checks our decoder independently of our encoder.
[oidc_leaf_ext]
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = email:mike@smallstep.com, URI:https://accounts.google.com\#115449349109627210866
1.3.6.1.4.1.37476.9000.64.1 = ASN1:SEQUENCE:oidc_provisioner

[oidc_provisioner]
type = INTEGER:2
name = FORMAT:ASCII,OCTETSTRING:Google
credential = FORMAT:ASCII,OCTETSTRING:1087160488420-8qt7bavg3qesdhs6it824mhnfgcfe8il.apps.googleusercontent.com

# RSA, self-signed but not a CA: several DNS and IP SANs and an extension nobody knows.
[rsa_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
subjectAltName = DNS:rsa.example.com, DNS:www.example.com, IP:10.0.0.1, IP:2001:db8::1
1.2.3.4 = ASN1:UTF8String:hello world

[p384_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
subjectAltName = DNS:p384.example.com, DNS:localhost, IP:127.0.0.1, IP:::1

# A JWK-provisioned leaf with key/value pairs in the provisioner extension.
[p521_ext]
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:p521.example.com
1.3.6.1.4.1.37476.9000.64.1 = ASN1:SEQUENCE:jwk_provisioner

[jwk_provisioner]
type = INTEGER:1
name = FORMAT:ASCII,OCTETSTRING:admin@example.com
credential = FORMAT:ASCII,OCTETSTRING:nqnW0d_g6ojQpF0xYZKLYWGaowGx3QHyIhCMYWQ6ZqA
pairs = SEQUENCE:jwk_pairs

[jwk_pairs]
key1 = PRINTABLESTRING:team
value1 = UTF8String:platform & security
key2 = PRINTABLESTRING:orphan

[ed25519_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
subjectAltName = DNS:ed25519.example.com, email:ops@example.com

# A self-signed CA with the rarer extensions inspect decodes, one it does not (policyConstraints),
# unusual SAN kinds and an RSA-PSS signature.
[kitchen_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature, keyCertSign, cRLSign
extendedKeyUsage = serverAuth, codeSigning, 1.3.6.1.4.1.311.10.3.3, 1.2.3.99
subjectKeyIdentifier = hash
authorityInfoAccess = OCSP;URI:http://ocsp.example.com, caIssuers;URI:http://ca.example.com/ca.crt
crlDistributionPoints = URI:http://crl.example.com/ca.crl
certificatePolicies = 2.23.140.1.2.1, @cps_policy
nameConstraints = critical, permitted;DNS:.example.com, permitted;IP:10.0.0.0/255.0.0.0, permitted;IP:2001:db8::/ffff:ffff::, excluded;email:.bad.example.com
nsComment = "kitchen sink"
policyConstraints = requireExplicitPolicy:0
subjectAltName = DNS:kitchen.example.com, otherName:1.3.6.1.4.1.311.20.2.3;UTF8:upn@example.com, RID:1.2.3.4.5, dirName:kitchen_dir, IP:fe80::1:0:0:1, IP:::ffff:192.0.2.1

[cps_policy]
policyIdentifier = 1.3.6.1.4.1.99999.1
CPS.1 = "https://example.com/cps"

[kitchen_dir]
O = Kitchen
CN = Sink

[csr_ext]
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:csr.example.com, IP:192.168.1.10, email:csr@example.com, URI:spiffe://example.com/workload
1.2.3.4 = ASN1:UTF8String:hello world
CNF

mkdir issued
: >index.txt

key() { # key <file> <openssl genpkey args...>
  local out=$1
  shift
  openssl genpkey -quiet "$@" -out "$out"
}

# sign <name> <subject> <ext-section> <serial-hex> <start> <end> <digest> [issuer-name] [openssl ca options…]
# The key is <name>.key; without an issuer ("") the certificate is self-signed.
sign() {
  local name=$1 subject=$2 ext=$3 serial=$4 start=$5 end=$6 md=$7 issuer=${8:-}
  shift 8 || shift $#
  local keyfile="$name.key"
  openssl req -config ca.cnf -new -key "$keyfile" -subj "$subject" -out "$name.csr"
  echo "$serial" >serial
  local signer=(-selfsign -keyfile "$keyfile")
  [ -n "$issuer" ] && signer=(-cert "$issuer.crt" -keyfile "$issuer.key")
  openssl ca -config ca.cnf -batch -notext -preserveDN -md "$md" "${signer[@]}" "$@" \
    -in "$name.csr" -out "$name.crt" -extensions "$ext" -startdate "$start" -enddate "$end" 2>/dev/null
}

key root.key -algorithm EC -pkeyopt ec_paramgen_curve:P-256
key intermediate.key -algorithm EC -pkeyopt ec_paramgen_curve:P-256
key leaf.key -algorithm EC -pkeyopt ec_paramgen_curve:P-256
key rsa2048.key -algorithm RSA -pkeyopt rsa_keygen_bits:2048
key p384.key -algorithm EC -pkeyopt ec_paramgen_curve:P-384
key p521.key -algorithm EC -pkeyopt ec_paramgen_curve:P-521
key ed25519.key -algorithm ED25519
key csr.key -algorithm EC -pkeyopt ec_paramgen_curve:P-256
key kitchen.key -algorithm RSA -pkeyopt rsa_keygen_bits:2048

sign root "/O=Smallstep/CN=Smallstep Root CA" root_ext \
  3A6F1C0D8E5B2A9F47C1E6D0B3A8F25C91E47D02 20250102030405Z 20350102030405Z sha256
sign intermediate "/O=Smallstep/CN=Smallstep Intermediate CA" intermediate_ext \
  00C2D1E0F4A3B6978869A5B4C3D2E1F0A9B8C7D6 20250102030505Z 20350102030505Z sha256 root
sign leaf "/CN=115449349109627210866" oidc_leaf_ext \
  1C1AD0CD9B4E86F3B1E0A2C4D6E8F0123456789A 20250620182152Z 20250621182152Z sha256 intermediate
sign rsa2048 "/C=US/O=Example Corp/OU=Platform/CN=rsa.example.com" rsa_ext \
  0F 20250305060708Z 20260305060708Z sha256
sign p384 "/O=Example Corp/CN=p384.example.com" p384_ext \
  7B2E 20251111111111Z 20261111111111Z sha384
sign p521 "/CN=p521.example.com" p521_ext \
  01D4A9C3E5F7B2 20250909090909Z 20250910090909Z sha512 intermediate
sign ed25519 "/CN=ed25519.example.com/emailAddress=ops@example.com" ed25519_ext \
  2A 20250401000000Z 20350401000000Z sha256
sign kitchen "/DC=com/DC=example/O=Kitchen <&> Corp/CN=Kitchen Sink CA" kitchen_ext \
  00 20250707070707Z 20300707070707Z sha256 "" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32

# Self-signed keys have no use for their CSRs; the stand-alone CSR carries requested extensions.
openssl req -config ca.cnf -new -key csr.key -subj "/O=Example Corp/CN=csr.example.com" \
  -reqexts csr_ext -out csr.csr

out="$here"
cp root.crt "$out/root-ca.crt"
cp intermediate.crt "$out/intermediate-ca.crt"
cp leaf.crt "$out/leaf-oidc.crt"
cp rsa2048.crt "$out/rsa2048.crt"
cp p384.crt "$out/p384.crt"
cp p521.crt "$out/p521-jwk.crt"
cp ed25519.crt "$out/ed25519.crt"
cp kitchen.crt "$out/kitchen-sink.crt"
cp csr.csr "$out/p256.csr"
# A bundle as servers send it: leaf first, then the CA certificates.
cat leaf.crt intermediate.crt root.crt >"$out/chain.crt"
# The same leaf as raw DER, for the DER input path.
openssl x509 -in leaf.crt -outform DER -out "$out/leaf-oidc.der"

# openssl's own view of each file: the reference the goldens are checked against.
for f in root-ca intermediate-ca leaf-oidc rsa2048 p384 p521-jwk ed25519 kitchen-sink; do
  openssl x509 -in "$out/$f.crt" -noout -text -fingerprint -sha256 >"$out/$f.openssl.txt"
done
openssl req -in "$out/p256.csr" -noout -text >"$out/p256.openssl.txt"
