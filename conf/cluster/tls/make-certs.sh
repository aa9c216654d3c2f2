#!/usr/bin/env bash
# Makes a cluster CA, the trust store every member uses (the CA's certificate), and one PKCS12 key store per
# member with its own key and a certificate the CA signed. Run it on a trusted machine; copy ca.p12 nowhere.
#
#   conf/cluster/tls/make-certs.sh DIR NAME...     e.g. conf/cluster/tls/make-certs.sh conf/cluster/tls/keys node-a
#
# Passwords come from the environment (never the command line): COHORT_TLS_KEY_STORE_PASSWORD for the members'
# key stores, COHORT_TLS_TRUST_STORE_PASSWORD for the trust store, COHORT_TLS_CA_PASSWORD for the CA (default:
# the key store password). A DIR that already holds ca.p12 keeps its CA: new members join the same cluster.
# COHORT_TLS_CA_NAME names the CA (default "cohort cluster CA").
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 DIR NAME..." >&2; exit 2; }
: "${COHORT_TLS_KEY_STORE_PASSWORD:?set COHORT_TLS_KEY_STORE_PASSWORD}"
: "${COHORT_TLS_TRUST_STORE_PASSWORD:?set COHORT_TLS_TRUST_STORE_PASSWORD}"
export COHORT_TLS_CA_PASSWORD=${COHORT_TLS_CA_PASSWORD:-$COHORT_TLS_KEY_STORE_PASSWORD}
keytool="${JAVA_HOME:+$JAVA_HOME/bin/}keytool -J-XX:TieredStopAtLevel=1 -J-XX:+UseSerialGC"  # short-lived JVMs: start fast
quiet() { local out; out=$("$@" 2>&1) || { echo "$out" >&2; return 1; }; }  # keytool's chatter only on failure
ca_name=${COHORT_TLS_CA_NAME:-cohort cluster CA}
dir=$1; shift
mkdir -p "$dir"
cd "$dir"
if [ ! -f ca.p12 ]; then
  # the cluster CA: a self-signed certificate that may sign others (bc:c)
  quiet $keytool -genkeypair -alias ca -dname "CN=$ca_name" -keyalg EC -groupname secp256r1 -validity 825 \
    -ext bc:c -keystore ca.p12 -storetype PKCS12 -storepass:env COHORT_TLS_CA_PASSWORD
  quiet $keytool -exportcert -rfc -alias ca -keystore ca.p12 -storepass:env COHORT_TLS_CA_PASSWORD -file ca.pem
  # the trust store: only the CA's certificate
  quiet $keytool -importcert -noprompt -alias ca -file ca.pem -keystore truststore.p12 -storetype PKCS12 \
    -storepass:env COHORT_TLS_TRUST_STORE_PASSWORD
fi
for name in "$@"; do
  # the member's key, a request for a certificate, the CA's signature, and the chain (member, CA) back in place
  rm -f "$name.p12"  # a member made again gets a new key
  quiet $keytool -genkeypair -alias member -dname "CN=$name" -keyalg EC -groupname secp256r1 -validity 825 \
    -keystore "$name.p12" -storetype PKCS12 -storepass:env COHORT_TLS_KEY_STORE_PASSWORD
  $keytool -certreq -alias member -keystore "$name.p12" -storepass:env COHORT_TLS_KEY_STORE_PASSWORD \
    | $keytool -gencert -rfc -alias ca -keystore ca.p12 -storepass:env COHORT_TLS_CA_PASSWORD -validity 825 \
        -ext ku:c=digitalSignature -ext eku=serverAuth,clientAuth > "$name.pem"
  cat "$name.pem" ca.pem | quiet $keytool -importcert -noprompt -alias member -keystore "$name.p12" \
    -storepass:env COHORT_TLS_KEY_STORE_PASSWORD
  rm "$name.pem"
  echo "$dir/$name.p12: CN=$name, signed by CN=$ca_name"
done
