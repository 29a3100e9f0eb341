#!/usr/bin/env bash
# Instructions the SFU spends per forwarded packet in a fixed audio-room workload
# (crates/sfu/src/cost_tests.rs), counted by callgrind: repeatable where wall-clock
# benchmarks on shared machines are not. Runs the workload twice (2 s and 6 s of talk) and
# divides the difference of the SFU's instructions by the difference of packets forwarded,
# which leaves out the joins. Settings pass through: MOOT_COST_PEOPLE, MOOT_COST_TALKERS,
# MOOT_COST_SILENT_PUBLISH, MOOT_COST_SELECTIVE_AFTER, MOOT_COST_SLOTS (docs/performance.md,
# "Counting instructions").
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
binary=$(cargo test --release -p moot-sfu --no-run --message-format=json 2>/dev/null |
  sed -n 's/.*"executable":"\([^"]*moot_sfu-[^"]*\)".*/\1/p' | tail -1)
[ -x "$binary" ] || { echo "could not build the moot-sfu tests" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() { # talk seconds -> "instructions forwarded"
  local log="$out/log$1"
  MOOT_COST_TALK_SECS=$1 valgrind --tool=callgrind --callgrind-out-file="$out/cg$1" \
    --toggle-collect='*in_sfu*' "$binary" --exact \
    cost_tests::cost_of_forwarding_an_audio_room --test-threads=1 --nocapture >"$log" 2>&1
  local instructions forwarded
  instructions=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$log")
  forwarded=$(sed -n 's/.*forwarded \([0-9]*\) packets.*/\1/p' "$log")
  echo "$instructions $forwarded"
}
read -r i2 f2 <<<"$(count 2)"
read -r i6 f6 <<<"$(count 6)"
echo "SFU instructions per forwarded packet: $(( (i6 - i2) / (f6 - f2) ))" \
  "($(( i6 - i2 )) instructions for $(( f6 - f2 )) packets;" \
  "people ${MOOT_COST_PEOPLE:-20}, talkers ${MOOT_COST_TALKERS:-all}," \
  "silent ones publish: ${MOOT_COST_SILENT_PUBLISH:-1}," \
  "selective after ${MOOT_COST_SELECTIVE_AFTER:-0}, slots ${MOOT_COST_SLOTS:-0})"
