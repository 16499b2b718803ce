#!/usr/bin/env bash
# `make bench`: every benchmark, figures printed and written to bench/results/*.json.
#   bench/sip/*.bench.ts        wire layer (parse, respond, digest), in-process
#   bench/registrar/heap.ts     heap bytes and CPU per authenticated REGISTER, in-process, 100,000 messages
#   bench/registrar/memory.ts   heap/RSS with 100,000 stored bindings, start-up to first answer
#   bench/registrar/throughput.ts  SIPp over 10,000 numbers, rate stepped, against sipreg, then Kamailio and a
#                               bare node:dgram floor for reference: the steady state (phones registered once,
#                               refreshing with the next nonce-count) and the first-registration storm
#                               (REGISTER/401/REGISTER+digest)
#   bench/registrar/wear.ts     bytes written to storage and write calls per first registration and per refresh
#                               at 10, 100 and 1,000/s (the service's /proc/<pid>/io), projected to GB a day
# Each TypeScript bench is bundled once with esbuild (the TS loader takes seconds to start) and run with
# node. The service under test is dist/sipreg when built (make build does), else a bundle of src/main.ts.
# Options through the environment: BENCH_RATES="1000,2000,..." BENCH_SECONDS=10 BENCH_ACCOUNTS=10000
# BENCH_ONLY="heap memory throughput wear sip" (a subset), BENCH_RUNS=3 (repetitions; medians are reported),
# BENCH_TARGETS="sipreg kamailio floor" (what the throughput sweep runs against), BENCH_MODES="steady,storm"
# (which throughput figures), BENCH_WEAR_RATES="10,100,1000" BENCH_WEAR_PERIOD=60 (refresh period, s).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results .tap/bench-bundle
ONLY="${BENCH_ONLY:-sip heap memory throughput wear}"
ESBUILD=node_modules/.bin/esbuild

bundle() { # src out
  "$ESBUILD" "$1" --bundle --platform=node --format=esm --outfile="$2" --packages=external --log-level=warning
}
has() { [[ " $ONLY " == *" $1 "* ]]; }

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), node $(node --version), load $(cut -d' ' -f1-3 /proc/loadavg)"

if has sip; then
  for f in bench/sip/*.bench.ts; do
    [ -e "$f" ] || continue
    echo "## $f"
    node --import ./node_modules/@tapjs/typescript/dist/esm/import.mjs "$f"
  done
fi
if has heap; then
  echo "## bench/registrar/heap.ts"
  bundle bench/registrar/heap.ts .tap/bench-bundle/heap.mjs
  node --expose-gc .tap/bench-bundle/heap.mjs --count 100000 --numbers 1000 --runs "${BENCH_RUNS:-3}"
fi
if has memory; then
  echo "## bench/registrar/memory.ts"
  bundle bench/registrar/memory.ts .tap/bench-bundle/memory.mjs
  node .tap/bench-bundle/memory.mjs --bindings 100000 --runs "${BENCH_RUNS:-3}"
fi
if has throughput; then
  echo "## bench/registrar/throughput.ts"
  bundle bench/registrar/throughput.ts .tap/bench-bundle/throughput.mjs
  # sipreg, then the same sweeps against the references: Kamailio (issue 3's yardstick) and the floor
  # (bare node:dgram, no registrar work), so the figures read as ratios on the same machine and harness.
  # Each target: the steady state first (the main figure), then the first-registration storm.
  for target in ${BENCH_TARGETS:-sipreg kamailio floor}; do
    node .tap/bench-bundle/throughput.mjs --target "$target" --modes "${BENCH_MODES:-steady,storm}" --accounts "${BENCH_ACCOUNTS:-10000}" --seconds "${BENCH_SECONDS:-10}" \
      --rates "${BENCH_RATES:-1000,2000,3000,4000,5000,6000,8000,10000,12000,16000,20000,24000,30000}" --runs "${BENCH_RUNS:-3}"
  done
fi
if has wear; then
  echo "## bench/registrar/wear.ts"
  bundle bench/registrar/wear.ts .tap/bench-bundle/wear.mjs
  node .tap/bench-bundle/wear.mjs --rates "${BENCH_WEAR_RATES:-10,100,1000}" --period "${BENCH_WEAR_PERIOD:-60}"
fi
echo "# results in bench/results/"
