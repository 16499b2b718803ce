#!/usr/bin/env bash
# Boots the x86_64 appliance image under QEMU (TCG, never KVM: nested guests hang on these machines),
# registers a phone through a forwarded loopback UDP port, reboots the guest cleanly (Ctrl-Alt-Del: the
# same QEMU process, so snapshot=on keeps the data partition's writes), and checks that the binding is
# still there. Fails on any `[FAILED]` unit in the serial log. About 2-3 minutes on 2 cores.
#
#   bash image/test-image.sh          (make image-test; builds the image first when it is missing)
#
# Env: SIPREG_TEST_PORT (host loopback UDP port, default 15060), SIPREG_TEST_USER / SIPREG_TEST_PASSWORD
# (an account of the image's config; default: the first password account of etc/sipreg.yaml, or of
# SIPREG_IMAGE_CONFIG), BOOT_DEADLINE_S (default 180).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMG="${SIPREG_TEST_IMAGE:-$REPO/image/out/sipreg-x64.img}"
PORT="${SIPREG_TEST_PORT:-15060}"
CONFIG_SRC="${SIPREG_IMAGE_CONFIG:-$REPO/etc/sipreg.yaml}"   # what build-image.sh put in the image
BOOT_DEADLINE_S="${BOOT_DEADLINE_S:-180}"
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

log() { printf '[test-image %s] %s\n' "$(date +%T)" "$*" >&2; }

need=()
for t in qemu-system-x86_64:qemu-system-x86 sipp:sip-tester; do
  command -v "${t%%:*}" >/dev/null || need+=("${t##*:}")
done
[[ -f /usr/share/ovmf/OVMF.fd ]] || need+=(ovmf)
if [[ ${#need[@]} -gt 0 ]]; then
  log "installing host packages: ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The phone: SIPREG_TEST_USER/PASSWORD, else the first password account of the image's config.
if [[ -z ${SIPREG_TEST_USER:-} ]]; then
  read -r SIPREG_TEST_USER SIPREG_TEST_PASSWORD < <(cd "$REPO" && node -e '
    const yaml = require("yaml"); const fs = require("fs");
    const a = (yaml.parse(fs.readFileSync(process.argv[1], "utf8")).accounts ?? [])
      .find((x) => x.password && (x.auth_mode ?? "password") === "password" && (x.allow ?? []).length === 0);
    console.log(a ? `${a.number} ${a.password}` : "");' "$CONFIG_SRC")
fi
SIP_USER="${SIPREG_TEST_USER:?no password account in $CONFIG_SRC: set SIPREG_TEST_USER and SIPREG_TEST_PASSWORD}"
SIP_PASSWORD="${SIPREG_TEST_PASSWORD:?}"

if [[ ! -f $IMG ]]; then
  log "no image at $IMG: building it (make image ARCH=x64)"
  make -C "$REPO" image ARCH=x64
fi

WORK="$(mktemp -d /tmp/sipreg-image-test.XXXXXX)"
SERIAL="$WORK/serial.log"
MON="$WORK/monitor.sock"
QEMU_PID=""
cleanup() {
  local rc=$?
  mkdir -p "$REPO/image/out" && cp "$SERIAL" "$REPO/image/out/test-image-serial.log" 2>/dev/null || true
  [[ -n $QEMU_PID ]] && kill "$QEMU_PID" 2>/dev/null && wait "$QEMU_PID" 2>/dev/null || true
  if [[ $rc -ne 0 ]]; then
    log "FAILED (exit $rc); serial log tail ($SERIAL):"
    tail -n 60 "$SERIAL" 2>/dev/null | sed 's/\x1b\[[0-9;]*[a-zA-Z]//g' >&2 || true
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

sip() { node "$REPO/image/test-sip.mjs" "$@"; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# UEFI firmware + systemd-boot from the disk: the same path a gateway boots.
log "booting $IMG (TCG, OVMF, snapshot=on), udp 127.0.0.1:$PORT -> guest:5060"
T0=$(date +%s.%N)
qemu-system-x86_64 -accel tcg -machine q35 -m 1024 -smp 2 -display none -no-user-config -nodefaults \
  -bios /usr/share/ovmf/OVMF.fd \
  -drive "file=$IMG,format=raw,if=virtio,snapshot=on" \
  -netdev "user,id=n0,hostfwd=udp:127.0.0.1:$PORT-:5060" -device virtio-net-pci,netdev=n0 \
  -serial "file:$SERIAL" -monitor "unix:$MON,server,nowait" &
QEMU_PID=$!

wait_for_sip() { # $1: what for; answers within BOOT_DEADLINE_S or fails
  local status
  status="$(sip probe "127.0.0.1:$PORT" "$BOOT_DEADLINE_S")" || { log "no SIP answer ($1)"; exit 1; }
  kill -0 "$QEMU_PID" 2>/dev/null || { log "qemu exited"; exit 1; }
  log "$1: '$status' after $(elapsed "$2") s"
}

wait_for_sip "first boot to SIP answer" "$T0"

log "registering $SIP_USER with SIPp (digest)"
sipp -sf "$REPO/image/sipp/register.xml" -s "$SIP_USER" -au "$SIP_USER" -ap "$SIP_PASSWORD" \
  -i 127.0.0.1 -p $((PORT + 1)) -m 1 -timeout 20s -nostdin -trace_err -error_file "$WORK/sipp-errors.log" \
  "127.0.0.1:$PORT" >"$WORK/sipp.log" 2>&1 || { cat "$WORK/sipp-errors.log" "$WORK/sipp.log" >&2 2>/dev/null; log "SIPp registration failed"; exit 1; }
BEFORE="$(sip query "127.0.0.1:$PORT" "$SIP_USER" "$SIP_PASSWORD")"
log "bindings of $SIP_USER before reboot: $BEFORE"
grep -q "sip:$SIP_USER@" <<<"$BEFORE" || { log "the SIPp contact is not among the bindings"; exit 1; }

# A clean reboot: Ctrl-Alt-Del on the emulated keyboard makes systemd start reboot.target (stops sipreg,
# syncs, unmounts /var). Wait for the kernel's last words, then for SIP again.
log "rebooting the guest (Ctrl-Alt-Del)"
T1=$(date +%s.%N)
sip monitor "$MON" sendkey ctrl-alt-delete
for _ in $(seq 1 120); do
  grep -q 'reboot: Restarting system' "$SERIAL" && break
  kill -0 "$QEMU_PID" 2>/dev/null || { log "qemu exited during reboot"; exit 1; }
  sleep 1
done
grep -q 'reboot: Restarting system' "$SERIAL" || { log "the guest did not reboot within 120 s"; exit 1; }
log "guest went down after $(elapsed "$T1") s"
wait_for_sip "reboot to SIP answer" "$T1"

AFTER="$(sip query "127.0.0.1:$PORT" "$SIP_USER" "$SIP_PASSWORD")" || { log "query after reboot failed"; exit 1; }
log "bindings of $SIP_USER after reboot: $AFTER"
contacts() { grep -o '<[^>]*>' | sort; }   # the URIs, without the expires that counts down
[[ "$(contacts <<<"$AFTER")" == "$(contacts <<<"$BEFORE")" ]] || { log "the binding did not survive the reboot"; exit 1; }

if grep -a -n 'FAILED' "$SERIAL" | sed 's/\x1b\[[0-9;]*[a-zA-Z]//g' | grep -F '[FAILED]' >&2; then
  log "failed units in the serial log"
  exit 1
fi
log "PASS: registered, rebooted, binding kept, no failed units (total $(elapsed "$T0") s)"
