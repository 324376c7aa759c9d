#!/usr/bin/env bash
# The main job: set up if needed, then run the chunkwise demo — create a dataset in
# ./chunkwise-data, load seeded random data chunk by chunk, apply x*2+1 to every chunk in
# parallel, verify it, print the dataset's info. Extra arguments go to `chunkwise demo`.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
"$repo/scripts/setup.sh"
exec "$repo/target/release/chunkwise" --store ./chunkwise-data demo "$@"
