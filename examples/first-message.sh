#!/usr/bin/env bash
# Sends a first message to a running `./halfhour serve` with nothing but curl and openssl, the way any
# participant's system does: mutual TLS with the sandbox data service's certificate, the DIP signature
# headers, and an IF-021 consumption message for one MPAN and yesterday's 48 settlement periods.
# Then it pulls the message as the supplier it was addressed to, and acknowledges it.
#
#   examples/first-message.sh [DATA_DIR] [BASE_URL]      (defaults: ./data  https://127.0.0.1:8443)
set -euo pipefail
data="${1:-data}"
base="${2:-https://127.0.0.1:8443}"
sandbox="$data/sandbox"
sender="$(ls -d "$sandbox"/SDS-* | head -1)"         # the sandbox smart data service: 9900000004
supplier="$(ls -d "$sandbox"/SUP-* | head -1)"        # the sandbox supplier: 9900000001
ldso="$(basename "$(ls -d "$sandbox"/LDSO-* | head -1)")"
sender_id="${sender##*-}"; supplier_id="${supplier##*-}"; ldso_id="${ldso##*-}"
tls=(--silent --show-error --cacert "$sandbox/ca.pem")

# curl + openssl signing: X-DIP-Signature = base64(RSA-SHA256(METHOD;lowercase(URL);DATE;CONTENT-HASH)).
signed() { # METHOD URL BODY_FILE PARTICIPANT_DIR [curl args...]
  local method="$1" url="$2" body="$3" who="$4"; shift 4
  local date hash signature
  date="$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)"
  hash="$(openssl dgst -sha256 -binary "$body" | base64 -w0)"
  signature="$(printf '%s;%s;%s;%s' "$method" "${url,,}" "$date" "$hash" | openssl dgst -sha256 -sign "$who/key.pem" | base64 -w0)"
  curl "${tls[@]}" --cert "$who/cert.pem" --key "$who/key.pem" -X "$method" "$url" \
    -H "Content-Type: application/json" -H "X-API-Key: $(cat "$who/api-key.txt")" \
    -H "X-DIP-Signature-Date: $date" -H "X-DIP-Content-Hash: $hash" -H "X-DIP-Signature: $signature" \
    -H "X-DIP-Signature-Certificate: $(base64 -w0 "$who/cert.pem")" --data-binary "@$body" "$@"
}

# One IF-021 message: yesterday's 48 half-hour periods (UTC) for MPAN 1012345678903 (check digit 3).
day="$(date -u -d yesterday +%Y-%m-%d)"
periods=""
for p in $(seq 0 47); do
  periods+="$([[ $p -gt 0 ]] && echo ,){\"sp\":\"$(date -u -d "$day 00:00 UTC + $((p * 30)) minutes" +%Y-%m-%dT%H:%M:%S)+00:00\",\"v\":\"0.250\",\"q\":\"A\",\"e\":null,\"arc\":null}"
done
body="$(mktemp)"; pulled="$(mktemp)"; trap 'rm -f "$body" "$pulled"' EXIT
cat > "$body" <<JSON
[{"payload":{"CommonBlock":{
  "S0":{"interfaceID":"IF-021","schemaVersion":"011","eventCode":"[ActivePower]"},
  "S1":{"environmentTag":"DEV","subText":null,"senderUniqueReference":"S-IF-021-$sender_id-SDS-${day//-/}-first$(date +%s)",
        "senderTimestamp":"$(date -u +%Y-%m-%dT%H:%M:%S)+00:00","senderDIPID":"$sender_id","senderRoleID":"SDS",
        "senderCorrelationID":null,"DIPConnectionProviderID":null},
  "A0":{"primaryRecipients":["$supplier_id"],"secondaryRecipients":[],"always":[]},
  "M0":{"MPANCore":"1012345678903","distributorDIPID":"$ldso_id","GSPGroupID":"_A"}},
 "CustomBlock":{"B044":{"issuingDataServiceDIPID":"$sender_id"},
  "B067":{"connectionTypeIndicator":"W","connectionTypeEffectiveFromDate":"2019-04-01T00:00:00+00:00"},
  "B900":{"MQID":{"measurementQuantityID":"AI"},"settlementDayConsumptionPeriods":[
    {"settlementDay":{"settlementDayDate":"${day}T00:00:00+00:00","periodDuration":30},"consumptionPeriods":[$periods]}]}}}}]
JSON

echo "== send (as the data service $sender_id)"
signed POST "$base/dip-channel/IF-021" "$body" "$sender" -w '\nHTTP %{http_code}\n'

echo "== pull (as the supplier $supplier_id)"
empty="$(mktemp)"; : > "$empty"
signed GET "$base/native/v1/channels/IF-021/messages?max=10&waitSeconds=5" "$empty" "$supplier" -o "$pulled"
cat "$pulled"; echo
receipts="$(grep -o '"receipt":"[^"]*"' "$pulled" | sed 's/"receipt"://' | paste -sd, -)"
if [[ -n "$receipts" ]]; then
  echo "== acknowledge"
  printf '{"receipts":[%s]}' "$receipts" > "$empty"
  signed POST "$base/native/v1/channels/IF-021/acknowledgements" "$empty" "$supplier" -w '\nHTTP %{http_code}\n'
fi
rm -f "$empty"
