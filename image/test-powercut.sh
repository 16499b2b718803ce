#!/usr/bin/env bash
# Power cut (issue 14): boots the x86_64 appliance image under QEMU (TCG, UEFI, the same path as
# test-image.sh) on a disk that persists across QEMU processes (a qcow2 overlay over the built image, not
# snapshot=on), lets phones on the host register new contacts, refresh and unregister them through the
# forwarded loopback port, and kills QEMU with SIGKILL at a random moment of that traffic: the guest loses
# its page cache and everything in flight, as a gateway losing power. (Writes the guest had already handed
# to its virtual disk survive in the host's page cache, like a disk without a volatile write cache.)
# After each cut it boots again and checks, from the phones' own record of every 200 they got:
#   - the store opens: sipreg answers, `sipreg list --json` over SSH exits 0 with JSON, no failed unit and
#     no store error on the serial console;
#   - every acknowledged change is there: each number holds exactly the contacts of its last 200, or that
#     set with the one request the cut left unanswered applied;
#   - every acknowledged contact expires no earlier than its last 200 promised (the later of the stored
#     expiry and the one the running service reports to a query; guest clock measured against the host's).
# Odd phases mix new contacts, unregisters and refreshes; even phases only refresh (the write-back case).
# The phones (image/powercut.mjs) journal every request and answer synchronously; the check is there too.
#
#   bash image/test-powercut.sh        (make image-powercut; builds the image first when it is missing)
#
# Env: POWERCUT_CUTS (default 5), POWERCUT_PHASE_MIN_S / POWERCUT_PHASE_MAX_S (traffic before each cut,
# uniform; default 1 / 45, so some cuts fall after a 30 s write-back interval and some before),
# POWERCUT_SEED (the cut times), SIPREG_POWERCUT_PORT (host loopback UDP port, default 15080; SSH on the
# next TCP port), BOOT_DEADLINE_S (default 600: TCG on a loaded 2-core machine boots in 1-3 minutes),
# SIPREG_TEST_IMAGE. The config pushed to the box is image/powercut.yaml. Logs stay in the work directory
# on failure (and image/out/powercut-*.log always).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMG="${SIPREG_TEST_IMAGE:-$REPO/image/out/sipreg-x64.img}"
PORT="${SIPREG_POWERCUT_PORT:-15080}"
SSH_PORT=$((PORT + 1))
CUTS="${POWERCUT_CUTS:-5}"
PHASE_MIN_S="${POWERCUT_PHASE_MIN_S:-1}"
PHASE_MAX_S="${POWERCUT_PHASE_MAX_S:-45}"
SEED="${POWERCUT_SEED:-$((RANDOM * 32768 + RANDOM))}"
BOOT_DEADLINE_S="${BOOT_DEADLINE_S:-600}"
CONFIG="$REPO/image/powercut.yaml"
MAX_BINDINGS="$(sed -n 's/^ *SERVER_REGISTRAR_MAX_BINDINGS: *\([0-9]*\).*/\1/p' "$CONFIG")"
ACCOUNTS="$(sed -n 's/^ *- { number: "\(30[0-8][0-9]\)", password: "\([^"]*\)" }.*/\1:\2/p' "$CONFIG" | paste -sd, -)"
CLOCK_ACCOUNT="3999:pc-3999"
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
RANDOM=$SEED

log() { printf '[powercut %s] %s\n' "$(date +%T)" "$*" >&2; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }'; }

need=()
for t in qemu-system-x86_64:qemu-system-x86 qemu-img:qemu-utils ssh:openssh-client; do
  command -v "${t%%:*}" >/dev/null || need+=("${t##*:}")
done
[[ -f /usr/share/ovmf/OVMF.fd ]] || need+=(ovmf)
if [[ ${#need[@]} -gt 0 ]]; then
  log "installing host packages: ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [[ ! -f $IMG ]]; then
  log "no image at $IMG: building it (make image ARCH=x64)"
  make -C "$REPO" image ARCH=x64
fi

WORK="$(mktemp -d /tmp/sipreg-powercut.XXXXXX)"
QEMU_PID=""
PHONE_PID=""
cleanup() {
  local rc=$?
  [[ -n $PHONE_PID ]] && kill "$PHONE_PID" 2>/dev/null || true
  [[ -n $QEMU_PID ]] && kill -9 "$QEMU_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  mkdir -p "$REPO/image/out"
  cp "$WORK/summary.txt" "$REPO/image/out/powercut-summary.log" 2>/dev/null || true
  cat "$WORK"/serial-*.log >"$REPO/image/out/powercut-serial.log" 2>/dev/null || true
  if [[ $rc -ne 0 ]]; then log "FAILED (exit $rc); everything is in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# Admin access for `sipreg list --json`: a key made for this run, put in admin's authorized_keys by a
# systemd credential (SMBIOS type 11, tmpfiles.extra), so the image itself is not changed.
ssh-keygen -q -t ed25519 -N '' -C sipreg-powercut -f "$WORK/key"
TMPFILES="$(printf 'd /var/home/admin/.ssh 0700 admin admin -\nf+ /var/home/admin/.ssh/authorized_keys 0600 admin admin - %s\n' "$(cat "$WORK/key.pub")" | base64 -w0)"
admin() {
  ssh -i "$WORK/key" -p "$SSH_PORT" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o LogLevel=ERROR -o ConnectTimeout=30 -o ServerAliveInterval=10 -o ServerAliveCountMax=6 admin@127.0.0.1 "$@"
}
pc() { node "$REPO/image/powercut.mjs" "$@"; }

DISK="$WORK/disk.qcow2"
qemu-img create -q -f qcow2 -b "$IMG" -F raw "$DISK"

BOOT=0
boot() { # starts QEMU on the overlay, waits for SIP and for admin's SSH
  BOOT=$((BOOT + 1))
  local t0 serial="$WORK/serial-$BOOT.log"
  t0=$(date +%s.%N)
  BOOT_START_MS=$(date +%s%3N)
  qemu-system-x86_64 -accel tcg -machine q35 -m 1024 -smp 2 -display none -no-user-config -nodefaults \
    -bios /usr/share/ovmf/OVMF.fd \
    -drive "file=$DISK,format=qcow2,if=virtio,cache=writeback" \
    -smbios "type=11,value=io.systemd.credential.binary:tmpfiles.extra=$TMPFILES" \
    -netdev "user,id=n0,hostfwd=udp:127.0.0.1:$PORT-:5060,hostfwd=tcp:127.0.0.1:$SSH_PORT-:22" -device virtio-net-pci,netdev=n0 \
    -serial "file:$serial" &
  QEMU_PID=$!
  node "$REPO/image/test-sip.mjs" probe "127.0.0.1:$PORT" "$BOOT_DEADLINE_S" >/dev/null || { log "boot $BOOT: no SIP answer within $BOOT_DEADLINE_S s"; exit 1; }
  local deadline=$((SECONDS + 180))
  until admin sipreg list --json >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { log "boot $BOOT: no admin SSH within 180 s of SIP"; exit 1; }
    kill -0 "$QEMU_PID" 2>/dev/null || { log "boot $BOOT: qemu exited"; exit 1; }
    sleep 3
  done
  BOOT_S[$BOOT]=$(elapsed "$t0")
  log "boot $BOOT: SIP and SSH up after ${BOOT_S[$BOOT]} s"
}
cut() { # the power cut: SIGKILL, no chance for the guest to write anything more
  kill -9 "$QEMU_PID"
  wait "$QEMU_PID" 2>/dev/null || true
  QEMU_PID=""
}
serial_clean() { # $1: boot number; failed units or store errors on the console fail the run
  local s="$WORK/serial-$1.log" bad
  bad="$(sed 's/\x1b\[[0-9;]*[a-zA-Z]//g' "$s" | tr -d '\r' | grep -a -E '\[FAILED\]|ERR_STORE|MDB_[A-Z]+|cannot open the store' || true)"
  [[ -z $bad ]] || { log "boot $1: the serial console shows:"; printf '%s\n' "$bad" >&2; return 1; }
}
measure_clock() { # a change for the clock account, then its registered_at: the guest clock's offset
  pc clock --target "127.0.0.1:$PORT" --account "$CLOCK_ACCOUNT" --out "$WORK/clock-$BOOT.json"
  admin sipreg list --json >"$WORK/list-$BOOT.json"
  pc offset --clock "$WORK/clock-$BOOT.json" --list "$WORK/list-$BOOT.json" --boot "$BOOT" --boot-start-ms "$BOOT_START_MS" >>"$WORK/offsets.jsonl"
}

T_START=$(date +%s.%N)
log "seed $SEED, $CUTS cuts, traffic ${PHASE_MIN_S}-${PHASE_MAX_S} s before each, accounts $ACCOUNTS (at most $MAX_BINDINGS bindings each)"
boot
log "pushing image/powercut.yaml (scp to /etc/sipreg/sipreg.yaml; sipreg-config.path reloads)"
scp -q -i "$WORK/key" -P "$SSH_PORT" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
  "$CONFIG" admin@127.0.0.1:/etc/sipreg/sipreg.yaml
deadline=$((SECONDS + 120))
until pc clock --target "127.0.0.1:$PORT" --account "$CLOCK_ACCOUNT" --out "$WORK/clock-probe.json" 2>/dev/null; do
  ((SECONDS < deadline)) || { log "the pushed config did not take effect within 120 s"; exit 1; }
  sleep 2
done
sleep 10   # the pushed file reaches the disk (ext4 commits every 5 s) before the first cut
serial_clean 1
measure_clock

printf '%-4s %-13s %8s %7s %7s %5s %5s %5s %10s %8s %8s %s\n' cut traffic "cut at s" "boot s" "200 p50" new refr unreg unanswered applied "margin s" verdict >"$WORK/summary.txt"
FAILURES=0
for ((k = 1; k <= CUTS; k++)); do
  mix=$([[ $((k % 2)) == 1 ]] && echo mixed || echo refresh-only)
  d=$(awk -v r=$RANDOM -v a="$PHASE_MIN_S" -v b="$PHASE_MAX_S" 'BEGIN { printf "%.1f", a + (b - a) * r / 32767 }')
  log "phase $k: $mix traffic, power cut after $d s"
  node "$REPO/image/powercut.mjs" phone --target "127.0.0.1:$PORT" --accounts "$ACCOUNTS" --state "$WORK/state.json" --journal "$WORK/journal.jsonl" \
    --phase "$k" --max-bindings "$MAX_BINDINGS" --mix "$mix" &
  PHONE_PID=$!
  sleep "$d"
  cut
  kill -USR1 "$PHONE_PID"       # no new requests; answers QEMU handed to the host socket before dying are read
  sleep 1
  kill -TERM "$PHONE_PID"; wait "$PHONE_PID"; PHONE_PID=""
  rc=0; qemu-img check "$DISK" >"$WORK/qcow2-check-$k.txt" 2>&1 || rc=$?
  # 3: leaked clusters only (QEMU died between allocating and referencing them), harmless; 2: corruption.
  [[ $rc == 0 || $rc == 3 ]] || { log "cut $k: qemu-img check exit $rc"; cat "$WORK/qcow2-check-$k.txt" >&2; exit 1; }
  boot
  serial_clean "$BOOT"
  measure_clock
  pc query --target "127.0.0.1:$PORT" --accounts "$ACCOUNTS" --out "$WORK/query-$k.json"
  verdict=PASS
  pc check --phase "$k" --journal "$WORK/journal.jsonl" --state "$WORK/state.json" --list "$WORK/list-$BOOT.json" \
    --queries "$WORK/query-$k.json" --offsets "$WORK/offsets.jsonl" --max-bindings "$MAX_BINDINGS" >"$WORK/check-$k.txt" || verdict=FAIL
  sed '$d' "$WORK/check-$k.txt" >&2
  [[ $verdict == PASS ]] || FAILURES=$((FAILURES + 1))
  node -e '
    const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").at(-1));
    const a = s.acknowledged;
    const cells = [process.argv[2], process.argv[3], process.argv[4], process.argv[5], s.p50AnswerMs === null ? "-" : `${s.p50AnswerMs} ms`,
      a.new, a.refresh, a.unregister, s.unanswered, s.appliedPending, s.worstMarginS === null ? "-" : s.worstMarginS.toFixed(1), process.argv[6]];
    console.log(cells.map((v, i) => String(v)[i < 2 ? "padEnd" : "padStart"]([4, 13, 8, 7, 7, 5, 5, 5, 10, 8, 8, 0][i])).join(" "));' \
    "$WORK/check-$k.txt" "$k" "$mix" "$d" "${BOOT_S[$BOOT]}" "$verdict" >>"$WORK/summary.txt"
done
cut

{
  echo
  echo "power cut: $CUTS cuts, seed $SEED, $(elapsed "$T_START") s in all; guest clock offsets (ms): $(node -e '
    console.log(require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l).offsetMs).join(" "))' "$WORK/offsets.jsonl")"
  echo "columns: median time to a 200 in the phase; acknowledged new/refresh/unregister; requests the cut left unanswered; of those,"
  echo "how many had been committed; margin: the tightest acknowledged expiry after the cut minus its promise (the promise counts from"
  echo "when the request was sent, less the second the 200's rounding up may add; a deficit within the clock-offset uncertainty is allowed)"
} >>"$WORK/summary.txt"
cat "$WORK/summary.txt" >&2
if [[ $FAILURES -gt 0 ]]; then log "FAIL: $FAILURES of $CUTS cuts lost an acknowledged change or expiry"; exit 1; fi
log "PASS: $CUTS power cuts, every acknowledged change and expiry kept"
