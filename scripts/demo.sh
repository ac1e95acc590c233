#!/usr/bin/env bash
# The README's first command: set everything up, start a local Orthanc whose configuration,
# storage and log live in ./demo-data (they survive restarts), upload the sample DICOM files that
# ship with pydicom, and print the patient tree. The server keeps running afterwards.
#
#   bash scripts/demo.sh
#
# Environment: KKORTHANC_DEMO_DATA (default demo-data), KKORTHANC_DEMO_PORT (default: a free
# port).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

KK=.venv/bin/kkorthanc
DATA="${KKORTHANC_DEMO_DATA:-demo-data}"
free_port() { .venv/bin/python -c 'from kkorthanc.server._launcher import free_port; print(free_port())'; }

if $KK server status --data "$DATA" >/dev/null 2>&1; then
    echo "demo: the demo server is already running"
else
    PORT="${KKORTHANC_DEMO_PORT:-$(free_port)}"
    $KK server start --data "$DATA" --http-port "$PORT" --dicom-port "$(free_port)" --plugin kk
fi
# The server has a generated password (kept 0600 in $DATA/kkorthanc-password): connect with it.
STATUS=$($KK --output json server status --data "$DATA")
field() { .venv/bin/python -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]] or "")' "$1" <<<"$STATUS"; }
ORTHANC_URL=$(field url)
ORTHANC_USERNAME=$(field username)
ORTHANC_PASSWORD_FILE=$(field password_file)
export ORTHANC_URL ORTHANC_USERNAME ORTHANC_PASSWORD_FILE

echo
echo "demo: uploading pydicom's sample files to $ORTHANC_URL"
mapfile -t FILES < <(.venv/bin/python -c \
    'from kkorthanc.testing import sample_files; print("\n".join(map(str, sample_files())))')
$KK upload "${FILES[@]}"

echo
$KK tree

echo
echo "demo: Orthanc runs at $ORTHANC_URL, its data in $DATA/ (browse: $ORTHANC_URL/app/explorer.html)"
echo "demo: try   export ORTHANC_URL=$ORTHANC_URL ORTHANC_USERNAME=$ORTHANC_USERNAME ORTHANC_PASSWORD_FILE=$ORTHANC_PASSWORD_FILE"
echo "demo:       .venv/bin/kkorthanc ls studies"
echo "demo: stop  .venv/bin/kkorthanc server stop --data $DATA"
