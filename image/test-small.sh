#!/usr/bin/env bash
# The image on a small box (issue 17, "Small boxes"): boots it under QEMU (TCG) with 256 MiB of RAM and
#   - measures boot to the first SIP answer and the service's RSS and heap idle (factory config);
#   - pushes a config with 10,000 accounts, the per-source limits off (every phone comes from the host
#     through QEMU's user network: one source address) and an hour's NAT expiry, registers the 10,000 with SIPp from the host
#     through the forwarded port, waits for a NAT keepalive round (the contacts say 127.0.0.1, the source
#     is QEMU's gateway, so every binding is NATed and pinged), and measures RSS and heap again;
#   - measures the authenticated registrations/s the guest completes: SIPp registers SMALL_CAPACITY_N of
#     the phones again in a closed loop (SMALL_CAPACITY_INFLIGHT at a time);
#   - checks that nothing was killed for memory (kernel log on the serial console, the service's starts in
#     its own events) and that all 10,000 bindings are stored;
#   - checks that systemd dropped no watchdog ping and killed nothing before, then stops the service's event
#     loop (SIGSTOP, through sipreg-watchdog-check.path, which the kernel command line of this boot pulls
#     in), sees systemd's watchdog kill it within WatchdogSec (the serial log) and the service answer SIP
#     again, every binding kept.
# Prints a table row of the figures for image/README.md. About 10-15 minutes on 2 busy cores (x64).
#
#   bash image/test-small.sh [--arch x64|arm64|arm]   (make image-test-small [ARCH=...])
#
# Env: SIPREG_TEST_PORT (host UDP port, default 15070), SIPREG_TEST_SSH_PORT (default 15072),
# SMALL_MEM_MB (default 256), SMALL_PHONES (default 10000), SMALL_RATE (SIPp calls/s, default 100),
# BOOT_DEADLINE_S (default 600), START_DEADLINE_S (default 300), SMALL_CAPACITY_N (default 2000),
# SMALL_CAPACITY_INFLIGHT (default 100).
set -euo pipefail

ARCH="${ARCH:-x64}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --arch) ARCH="$2"; shift 2 ;;
    --arch=*) ARCH="${1#--arch=}"; shift ;;
    *) echo "usage: $0 [--arch x64|arm64|arm]" >&2; exit 2 ;;
  esac
done
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMG="${SIPREG_TEST_IMAGE:-$REPO/image/out/sipreg-$ARCH.img}"
PORT="${SIPREG_TEST_PORT:-15070}"
SSH_PORT="${SIPREG_TEST_SSH_PORT:-15072}"
MEM_MB="${SMALL_MEM_MB:-256}"
PHONES="${SMALL_PHONES:-10000}"
RATE="${SMALL_RATE:-100}"
BOOT_DEADLINE_S="${BOOT_DEADLINE_S:-600}"
START_DEADLINE_S="${START_DEADLINE_S:-300}"   # a start after the watchdog's kill, to the first SIP answer
CAPACITY_N="${SMALL_CAPACITY_N:-2000}"            # registrations of the closed-loop capacity run
CAPACITY_INFLIGHT="${SMALL_CAPACITY_INFLIGHT:-100}"   # ... and how many of them at a time
WATCHDOG_S=30       # WatchdogSec= in systemd/sipreg.service
ABORT_S=10          # TimeoutAbortSec=
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
cd "$REPO"

case "$ARCH" in
  x64) QEMU=qemu-system-x86_64; QEMU_PKG=qemu-system-x86; FIRMWARE=/usr/share/ovmf/OVMF.fd; FIRMWARE_PKG=ovmf ;;
  arm64) QEMU=qemu-system-aarch64; QEMU_PKG=qemu-system-arm; FIRMWARE=/usr/share/AAVMF/AAVMF_CODE.fd
    FIRMWARE_VARS=/usr/share/AAVMF/AAVMF_VARS.fd; FIRMWARE_PKG=qemu-efi-aarch64 ;;
  arm) QEMU=qemu-system-arm; QEMU_PKG=qemu-system-arm; FIRMWARE=/usr/share/AAVMF/AAVMF32_CODE.fd
    FIRMWARE_VARS=/usr/share/AAVMF/AAVMF32_VARS.fd; FIRMWARE_PKG=qemu-efi-arm ;;
  *) echo "test-small: unknown --arch '$ARCH' (x64, arm64 or arm)" >&2; exit 2 ;;
esac

log() { printf '[test-small %s] %s\n' "$(date +%T)" "$*" >&2; }
FAILS=()
failed() { log "FAIL: $*"; FAILS+=("$*"); }

need=()
for t in "$QEMU:$QEMU_PKG" sipp:sip-tester ssh:openssh-client sfdisk:fdisk mcopy:mtools; do
  command -v "${t%%:*}" >/dev/null || need+=("${t##*:}")
done
[[ -f $FIRMWARE ]] || need+=("$FIRMWARE_PKG")
if [[ ${#need[@]} -gt 0 ]]; then
  log "installing host packages: ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
[[ -f $IMG ]] || { log "no image at $IMG: make image ARCH=$ARCH first"; exit 1; }

WORK="$(mktemp -d /tmp/sipreg-small-test.XXXXXX)"
SERIAL="$WORK/serial.log"
QEMU_PID=""
cleanup() {
  local rc=$?
  mkdir -p "$REPO/image/out" && cp "$SERIAL" "$REPO/image/out/test-small-$ARCH-serial.log" 2>/dev/null || true
  [[ -n ${SSH_OPTS+set} ]] && ssh "${SSH_OPTS[@]}" -p "$SSH_PORT" -O exit admin@127.0.0.1 2>/dev/null || true
  [[ -n $QEMU_PID ]] && kill "$QEMU_PID" 2>/dev/null && wait "$QEMU_PID" 2>/dev/null || true
  if [[ $rc -ne 0 ]]; then
    log "FAILED (exit $rc); serial log tail ($SERIAL):"
    tail -n 40 "$SERIAL" 2>/dev/null | sed 's/\x1b\[[0-9;]*[a-zA-Z]//g' >&2 || true
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
sip() { node "$REPO/image/test-sip.mjs" "$@"; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

# ---- a copy of the image whose boot entry pulls in the watchdog check ------------------------------------
# Sparse copy; the ESP (partition "esp") is edited with mtools, as README says for a physical box.
cp --sparse=always "$IMG" "$WORK/disk.img"
ESP_START=$(sfdisk -J "$WORK/disk.img" | node -e '
  const p = JSON.parse(require("fs").readFileSync(0, "utf8")).partitiontable.partitions.find((x) => x.name === "esp");
  console.log(p.start);')
export MTOOLS_SKIP_CHECK=1
E="$WORK/disk.img@@$((ESP_START * 512))"
ENTRY="$(mdir -b -i "$E" ::/loader/entries 2>/dev/null | grep '\.conf$' | head -1)"
[[ -n $ENTRY ]] || { log "no loader entry on the ESP"; exit 1; }
mcopy -n -i "$E" "$ENTRY" "$WORK/entry.conf" 2> >(grep -v 'block count mismatch' >&2)
# The journal's notices and worse on the serial console too: why the service stopped or restarted (a
# watchdog timeout, a start that timed out, a crash) is in the serial log the test keeps.
sed -i 's/^options .*/& systemd.wants=sipreg-watchdog-check.path systemd.journald.forward_to_console=1 systemd.journald.max_level_console=notice/' "$WORK/entry.conf"
mcopy -o -i "$E" "$WORK/entry.conf" "$ENTRY" 2> >(grep -v 'block count mismatch' >&2)
log "boot entry $ENTRY: $(grep '^options' "$WORK/entry.conf")"

ssh-keygen -q -t ed25519 -N '' -C sipreg-small-test -f "$WORK/admin_key"
SSH_OPTS=(-i "$WORK/admin_key" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile="$WORK/known_hosts"
  -o ConnectTimeout=60 -o LogLevel=ERROR -o ControlMaster=auto -o ControlPath="$WORK/ssh-%C" -o ControlPersist=1800)
as_admin() { ssh "${SSH_OPTS[@]}" -p "$SSH_PORT" admin@127.0.0.1 "$*"; }
admin_sftp() { sftp "${SSH_OPTS[@]}" -P "$SSH_PORT" -q -b - admin@127.0.0.1; }

case "$ARCH" in
  x64) MACHINE=(-machine q35 -bios "$FIRMWARE") ;;
  arm64|arm)
    cp "$FIRMWARE_VARS" "$WORK/efivars.fd"
    MACHINE=(-machine virt -cpu "$([[ $ARCH == arm64 ]] && echo cortex-a57 || echo cortex-a15)"
      -drive "if=pflash,format=raw,unit=0,readonly=on,file=$FIRMWARE" -drive "if=pflash,format=raw,unit=1,file=$WORK/efivars.fd") ;;
esac
log "booting $ARCH with -m $MEM_MB (TCG, UEFI), udp 127.0.0.1:$PORT -> guest:5060, tcp 127.0.0.1:$SSH_PORT -> guest:22"
T0=$(date +%s.%N)
"$QEMU" -accel tcg "${MACHINE[@]}" -m "$MEM_MB" -smp 2 -display none -no-user-config -nodefaults \
  -drive "file=$WORK/disk.img,format=raw,if=virtio" \
  -netdev "user,id=n0,hostfwd=udp:127.0.0.1:$PORT-:5060,hostfwd=tcp:127.0.0.1:$SSH_PORT-:22" \
  -device virtio-net-pci,netdev=n0 \
  -smbios "type=11,value=io.systemd.credential:ssh.authorized_keys.admin=$(cat "$WORK/admin_key.pub")" \
  -serial "file:$SERIAL" &
QEMU_PID=$!

sip probe "127.0.0.1:$PORT" "$BOOT_DEADLINE_S" >/dev/null || { log "no SIP answer within $BOOT_DEADLINE_S s"; exit 1; }
BOOT_S="$(elapsed "$T0")"
log "boot to SIP answer: $BOOT_S s"
for _ in $(seq 1 90); do as_admin sipreg --version >/dev/null 2>&1 && break; sleep 2; done
as_admin sipreg --version >/dev/null || { log "no SSH login as admin"; exit 1; }

FACTORY=/usr/share/sipreg/etc/sipreg.yaml   # same store as the live config; readable whatever is pushed
stats() { as_admin sipreg stats -c "$FACTORY" --json; }
# RSS and heap as the service last recorded them (with its periodic flush): "rss heap" in bytes.
memory() {
  stats | node -e '
    const s = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const find = (o, k) => { if (o && typeof o === "object") { if (o[k]) return o[k];
      for (const v of Object.values(o)) { const r = find(v, k); if (r) return r; } } return null; };
    const m = find(s, "service_memory"), box = find(s, "box_memory");
    if (!m) process.exit(1);
    console.log(m.rss_bytes, m.heap_used_bytes, box?.available_bytes ?? -1, box?.total_bytes ?? -1, box?.pressure_some_avg60 ?? -1);'
}
# "available MiB of total, memory pressure N % of the last minute", as the service last recorded them.
box() { awk -v a="$1" -v t="$2" -v p="$3" 'BEGIN { if (a < 0) print "not recorded"; else printf "%.1f MiB available of %.1f, waited for memory %.1f %% of the last minute", a / 1048576, t / 1048576, p }'; }
events() { as_admin sipreg events -c "$FACTORY" --json --type "$1" | grep -c "\"type\": *\"$1\"" || true; }
# Bindings stored and NATed ones, as `sipreg stats` counts them.
stat_of() { stats | node -e 'const s = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log(s[process.argv[1]] ?? -1);' "$1"; }
bindings() { stat_of registered; }
service_pid() { stats | node -e 'console.log(JSON.parse(require("fs").readFileSync(0, "utf8")).service?.pid ?? -1)'; }

sleep 20   # let start-up settle and the next flush record the memory
read -r IDLE_RSS IDLE_HEAP IDLE_AVAIL IDLE_TOTAL IDLE_PSI < <(memory) || { log "no service memory in sipreg stats"; exit 1; }
log "idle: RSS $(mib "$IDLE_RSS") MiB, heap $(mib "$IDLE_HEAP") MiB; box: $(box "$IDLE_AVAIL" "$IDLE_TOTAL" "$IDLE_PSI")"
PID_BEFORE="$(service_pid)"

# ---- 10,000 accounts, limits for one source off -------------------------------------------------------
admin_sftp <<<"get /etc/sipreg/sipreg.yaml $WORK/factory.yaml" >/dev/null
node -e '
  const [, file, phones, users] = process.argv;
  const fs = require("fs");
  const doc = require("yaml").parseDocument(fs.readFileSync(file, "utf8"));
  const params = doc.get("params") ?? doc.createNode({});
  // Every phone is NATed (its Contact says 127.0.0.1, the QEMU gateway is its source) and so is granted
  // SS_ENDPOINT_NAT_EXPIRE, 300 s by default: at a rate the arm64 guest keeps up with under TCG (10/s)
  // registering 10,000 takes 1,000 s, and the first ones had expired before the last were in.
  const limits = { SS_REGISTER_RATE_PER_IP: 0, SS_REGISTER_SCANNER_NUMBERS: 0, SS_ENDPOINT_REGISTER_RETRY: 0, SS_ENDPOINT_NAT_EXPIRE: 3600 };
  for (const [k, v] of Object.entries(limits)) params.set(k, v);
  doc.set("params", params);
  const accounts = [], csv = ["SEQUENTIAL"];
  for (let i = 0; i < Number(phones); i++) {
    const number = String(200000 + i), password = `pw${i}x`;
    accounts.push({ number, password });
    csv.push(`${number};${password}`);
  }
  doc.set("accounts", accounts);
  process.stdout.write(doc.toString());
  fs.writeFileSync(users, csv.join("\n") + "\n");' "$WORK/factory.yaml" "$PHONES" "$WORK/users.csv" >"$WORK/phones.yaml"
before="$(events config_reloaded)"
admin_sftp <<EOF >/dev/null
put $WORK/phones.yaml /var/etc/sipreg/.push.yaml
rename /var/etc/sipreg/.push.yaml /var/etc/sipreg/sipreg.yaml
EOF
for _ in $(seq 1 120); do [[ $(events config_reloaded) -gt $before ]] && break; sleep 2; done
[[ $(events config_reloaded) -gt $before ]] || { log "the config with $PHONES accounts was not applied"; exit 1; }
log "config with $PHONES accounts applied"

# ---- register them ----------------------------------------------------------------------------------------
# SIPp's own deadline: the time the rate needs plus 5 minutes, at least the 900 s it always had (a fixed
# 900 s cut a 10/s arm64 run at 8,995 phones).
SIPP_TIMEOUT_S=$((PHONES / RATE + 300)); (( SIPP_TIMEOUT_S >= 900 )) || SIPP_TIMEOUT_S=900
# Runs SIPp's digest REGISTER scenario from DIR (its statistics file lands there): N calls, RATE/s offered,
# at most LIMIT in flight, TIMEOUT s in all. Sets OK and KO (successful and failed calls).
register_with_sipp() { # DIR N RATE LIMIT TIMEOUT
  mkdir -p "$1"
  (cd "$1" && sipp "127.0.0.1:$PORT" -sf "$REPO/test/fixtures/sipp/load-auth.xml" -inf "$WORK/users.csv" \
    -au '[field0]' -ap '[field1]' -i 127.0.0.1 -p 0 -r "$3" -m "$2" -l "$4" -nostdin -timeout "${5}s" \
    -recv_timeout 30000 -max_recv_loops 10000 -trace_stat -fd 5 -buff_size 4194304 >"$1/sipp.log" 2>&1) || true
  local stat; stat="$(ls "$1"/*_.csv 2>/dev/null | head -1)"
  OK=$(awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "SuccessfulCall(C)") c = i } END { print $c + 0 }' "$stat" 2>/dev/null || echo 0)
  KO=$(awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "FailedCall(C)") c = i } END { print $c + 0 }' "$stat" 2>/dev/null || echo 0)
}
log "registering $PHONES phones with SIPp at $RATE/s"
T1=$(date +%s.%N)
register_with_sipp "$WORK/storm" "$PHONES" "$RATE" 400 "$SIPP_TIMEOUT_S"
REG_S="$(elapsed "$T1")"
log "SIPp: $OK successful, $KO failed in $REG_S s"

BOUND="$(bindings)"
log "bindings stored: $BOUND ($(stat_of nat) NATed: pinged by the keepalive)"
[[ $BOUND -ge $PHONES ]] || failed "$BOUND bindings stored, not $PHONES (SIPp: $OK ok, $KO failed)"

# A keepalive round (SS_ENDPOINT_NAT_KEEPALIVE, 30 s) with all of them, and a flush of the memory figures.
sleep 75
if ! read -r FULL_RSS FULL_HEAP FULL_AVAIL FULL_TOTAL FULL_PSI < <(memory); then
  # Say why rather than stop here: a service that is starting again (its pid, its starts) or one whose
  # heartbeat is late shows no memory.
  failed "no service memory in sipreg stats with $BOUND bindings (service pid $(service_pid 2>/dev/null || echo '?'), was $PID_BEFORE; service_started events: $(events service_started))"
  as_admin sipreg stats -c "$FACTORY" 2>&1 | head -3 | sed 's/^/  /' >&2 || true
  FULL_RSS=0 FULL_HEAP=0 FULL_AVAIL=-1 FULL_TOTAL=-1 FULL_PSI=-1
fi
log "with $BOUND bindings: RSS $(mib "$FULL_RSS") MiB, heap $(mib "$FULL_HEAP") MiB; box: $(box "$FULL_AVAIL" "$FULL_TOTAL" "$FULL_PSI")"
as_admin sipreg stats -c "$FACTORY" >"$WORK/stats.txt" 2>&1 || true
grep -i -E 'keepalive|ping' "$WORK/stats.txt" | head -5 | sed 's/^/  /' >&2 || true

# ---- what the guest sustains ------------------------------------------------------------------------------
# Closed loop: SIPp offers far more than the guest can take but keeps only CAPACITY_INFLIGHT registrations
# in flight, so the rate it completes is the guest's (SIPp and QEMU's user network run natively on the
# host; the guest, emulated, is the bottleneck), each a REGISTER, its 401 and the authenticated REGISTER
# for one of the phones above (SIPp's new port makes it a new contact: a change, synced before its 200).
# With 10 in flight every arch completed ~39/s (a latency, most likely the synced commit each change waits
# for: the guest's fdatasync goes through QEMU to the host's disk); with 100 the changes share commits and
# the guest's CPU is what limits. TCG figures: for comparing arches and releases.
log "capacity: SIPp registers $CAPACITY_N of the phones again, $CAPACITY_INFLIGHT in flight"
T3=$(date +%s.%N)
register_with_sipp "$WORK/capacity" "$CAPACITY_N" 10000 "$CAPACITY_INFLIGHT" 900
CAP_S="$(elapsed "$T3")"
CAP_RATE="$(awk -v n="$OK" -v s="$CAP_S" 'BEGIN { printf "%.1f", n / s }')"
log "capacity: $OK authenticated registrations ($KO failed) in $CAP_S s: $CAP_RATE/s"
[[ $KO -eq 0 && $OK -eq $CAPACITY_N ]] || failed "capacity run: $OK of $CAPACITY_N registered, $KO failed"

PID_AFTER="$(service_pid)"
[[ $PID_AFTER == "$PID_BEFORE" ]] || failed "the service started again during the test (pid $PID_BEFORE -> $PID_AFTER)"
if grep -a -E 'Out of memory|oom-kill|invoked oom-killer' "$SERIAL" >&2; then failed "OOM kill in the kernel log"; fi

# ---- the watchdog -------------------------------------------------------------------------------------------
# systemd's own words on the serial console (the journal's notices): a ping it dropped, or a kill, before
# the SIGSTOP is a failure; after it, the kill is timed from the serial log, which the host reads at once,
# where an admin command (`sipreg stats` over SSH) on a busy TCG guest took minutes to tell.
journal() { sed 's/\x1b\[[0-9;]*[a-zA-Z]//g' "$SERIAL" | grep -a -c "$1" || true; }
DROPPED="$(journal 'Cannot find unit for notify message')"
[[ $DROPPED -eq 0 ]] || failed "systemd dropped $DROPPED notify messages before the SIGSTOP (Cannot find unit for notify message)"
TIMEOUTS="$(journal 'sipreg.service: Watchdog timeout')"
[[ $TIMEOUTS -eq 0 ]] || failed "the watchdog killed the service $TIMEOUTS times before the SIGSTOP"
log "watchdog: SIGSTOP to the service (admin creates ~/sipreg-watchdog-check)"
: >"$WORK/sipreg-watchdog-check"   # sftp uploads regular files only (not /dev/null)
admin_sftp <<<"put $WORK/sipreg-watchdog-check /var/home/admin/sipreg-watchdog-check" >/dev/null
T2=$(date +%s.%N)
killed=""
for _ in $(seq 1 $(((WATCHDOG_S + ABORT_S) * 3))); do
  if [[ $(journal 'sipreg.service: Watchdog timeout') -gt $TIMEOUTS ]]; then killed="$(elapsed "$T2")"; break; fi
  sleep 1
done
restarted=""
if [[ -z $killed ]]; then failed "systemd did not kill the stopped service within $(((WATCHDOG_S + ABORT_S) * 3)) s"
else
  # The last ping came at most half of WatchdogSec before the SIGSTOP: the kill within WatchdogSec of it
  # (plus the seconds sftp took to hand over the trigger).
  log "watchdog timeout $killed s after the SIGSTOP (WatchdogSec=$WATCHDOG_S s)"
  awk -v r="$killed" -v m="$((WATCHDOG_S + 10))" 'BEGIN { exit !(r > m) }' &&
    failed "the watchdog took $killed s, more than WatchdogSec + 10 s"
  # Started again: SIP answered, with every binding (a start reads 10,000 accounts and bindings: minutes
  # under TCG on a busy host).
  if sip probe "127.0.0.1:$PORT" "$START_DEADLINE_S" >/dev/null; then
    restarted="$(elapsed "$T2")"
    log "SIP answered again $restarted s after the SIGSTOP"
    pid="$(service_pid 2>/dev/null || echo "$PID_AFTER")"
    [[ $pid != "$PID_AFTER" ]] || failed "SIP answered by the stopped service's pid $pid: not restarted"
    AFTER_WD="$(bindings)"
    [[ $AFTER_WD -ge $PHONES ]] || failed "$AFTER_WD bindings after the watchdog restart, not $PHONES"
  else
    failed "no SIP answer within $START_DEADLINE_S s of the watchdog's kill"
  fi
fi

log "figures ($ARCH, -m $MEM_MB, TCG): boot to SIP $BOOT_S s; RSS idle $(mib "$IDLE_RSS") MiB (heap $(mib "$IDLE_HEAP"));" \
  "with $BOUND bindings + NAT keepalive $(mib "$FULL_RSS") MiB (heap $(mib "$FULL_HEAP")), box $(box "$FULL_AVAIL" "$FULL_TOTAL" "$FULL_PSI"); $PHONES registrations in $REG_S s;" \
  "$CAP_RATE authenticated registrations/s ($CAPACITY_INFLIGHT in flight);" \
  "watchdog timeout ${killed:-none} s after the SIGSTOP, SIP again after ${restarted:-none} s"
if [[ ${#FAILS[@]} -gt 0 ]]; then
  log "${#FAILS[@]} check(s) failed:"; printf '  - %s\n' "${FAILS[@]}" >&2; exit 1
fi
log "PASS"
