#!/usr/bin/env bash
# Firmware update with automatic rollback under QEMU (TCG, OVMF, systemd-boot), issue 18:
#   1. builds version N (image and bundle) and N+1 (bundle), and N+2: N+1's root with sipreg.service made to
#      exit at start (ExecStart=sipreg run with an unknown option), signed with the same key
#   2. boots N, pushes a config with phones, registers them
#   3. a bundle signed with another key and one for another arch are refused by `sipreg firmware install`
#      (exit 1, nothing handed over); the bad-signature one put straight into the install service's queue
#      is refused by the root service too; the slots and entries are unchanged
#   4. installs N+1 (over SSH as admin, the root service writes slot b), reboots: N+1 runs from slot b, is
#      blessed (systemd-bless-boot after sipreg-boot-check.service), the phones' bindings are there
#   5. installs the broken N+2 into slot a, reboots: sipreg never answers, sipreg-boot-check.service fails
#      and reboots the box, systemd-boot finds N+2's entry out of tries and boots N+1 again, by itself;
#      the bindings are there and `sipreg firmware status` says what happened.
# Each install gets one try (--tries 1) to keep the test to four boots; the product's default is 3.
#
#   bash image/test-firmware.sh        (make image-firmware-test; 30-45 minutes on a loaded 2-core machine)
#
# Env: SIPREG_TEST_PORT (host loopback UDP port, default 15160), SIPREG_TEST_SSH_PORT (default 15122),
# BOOT_DEADLINE_S (per boot, default 420), FW_TEST_SKIP_BUILD=1 (reuse image/out/fwtest/ from a former run).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${SIPREG_TEST_PORT:-15160}"
SSH_PORT="${SIPREG_TEST_SSH_PORT:-15122}"
BOOT_DEADLINE_S="${BOOT_DEADLINE_S:-420}"
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
cd "$REPO"

log() { printf '[test-firmware %s] %s\n' "$(date +%T)" "$*" >&2; }
FAILS=()
failed() { log "FAIL: $*"; FAILS+=("$*"); }
die() { log "FAIL: $*"; exit 1; }

need=()
for t in qemu-system-x86_64:qemu-system-x86 ssh:openssh-client unsquashfs:squashfs-tools sfdisk:fdisk; do
  command -v "${t%%:*}" >/dev/null || need+=("${t##*:}")
done
[[ -f /usr/share/ovmf/OVMF.fd ]] || need+=(ovmf)
if [[ ${#need[@]} -gt 0 ]]; then
  log "installing host packages: ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

BASE="$(node -p "require('./package.json').version")"
N="$BASE+fw1"; N1="$BASE+fw2"; N2="$BASE+fw3"
FWT="$REPO/image/out/fwtest"
KEY="$REPO/image/keys/dev-firmware.key"

# ---- 1. the builds ---------------------------------------------------------------------------------------
if [[ ${FW_TEST_SKIP_BUILD:-0} != 1 ]]; then
  rm -rf "$FWT"; mkdir -p "$FWT"
  T=$(date +%s)
  log "building N = $N (image and bundle)"
  make -C "$REPO" image ARCH=x64 VERSION="$N" >"$FWT/build-n.log" 2>&1 || { tail -20 "$FWT/build-n.log" >&2; die "make image VERSION=$N"; }
  cp --sparse=always "$REPO/image/out/sipreg-x64.img" "$FWT/n.img"
  log "building N+1 = $N1"
  make -C "$REPO" image ARCH=x64 VERSION="$N1" >"$FWT/build-n1.log" 2>&1 || { tail -20 "$FWT/build-n1.log" >&2; die "make image VERSION=$N1"; }
  mv "$REPO/image/out/sipreg-x64-$N1.fw" "$FWT/"
  W="$REPO/image/out/work-x64"
  log "making N+2 = $N2: N+1's root, sipreg exits at start"
  rm -rf "$FWT/broken-root"
  unsquashfs -q -n -d "$FWT/broken-root" "$W/root.squashfs" >/dev/null
  mkdir -p "$FWT/broken-root/usr/lib/systemd/system/sipreg.service.d"
  printf '# test-firmware.sh: a firmware whose sipreg exits at start\n[Service]\nExecStart=\nExecStart=/usr/bin/sipreg run --broken-on-purpose\n' \
    >"$FWT/broken-root/usr/lib/systemd/system/sipreg.service.d/zz-broken.conf"
  mksquashfs "$FWT/broken-root" "$FWT/broken.squashfs" -comp zstd -Xcompression-level 3 -noappend -quiet -no-progress >/dev/null
  rm -rf "$FWT/broken-root"
  node image/firmware-bundle.mjs --key "$KEY" --version "$N2" --arch x64 --root "$FWT/broken.squashfs" \
    --kernel "$W/vmlinuz" --initrd "$W/initrd.img" --out "$FWT" >/dev/null
  rm -f "$FWT/broken.squashfs"
  # The refused ones need no real contents: the signature and the arch are checked before any part.
  head -c 4096 /dev/urandom >"$FWT/part"
  node -e 'const c=require("node:crypto"),fs=require("node:fs");fs.writeFileSync(process.argv[1],c.generateKeyPairSync("ed25519").privateKey.export({type:"pkcs8",format:"pem"}))' "$FWT/stranger.key"
  node image/firmware-bundle.mjs --key "$FWT/stranger.key" --version "$N1" --arch x64 --root "$FWT/part" --kernel "$FWT/part" --initrd "$FWT/part" --out "$FWT/stranger" >/dev/null
  mv "$FWT/stranger/sipreg-x64-$N1.fw" "$FWT/bad-signature.fw"
  node image/firmware-bundle.mjs --key "$KEY" --version "$N1" --arch arm64 --root "$FWT/part" --kernel "$FWT/part" --initrd "$FWT/part" --out "$FWT/arm" >/dev/null
  mv "$FWT/arm/sipreg-arm64-$N1.fw" "$FWT/wrong-arch.fw"
  log "builds took $(( $(date +%s) - T )) s"
fi
for f in n.img "sipreg-x64-$N1.fw" "sipreg-x64-$N2.fw" bad-signature.fw wrong-arch.fw; do [[ -f $FWT/$f ]] || die "$FWT/$f missing"; done

WORK="$(mktemp -d /tmp/sipreg-fw-test.XXXXXX)"
SERIAL="$WORK/serial.log"
MON="$WORK/monitor.sock"
QEMU_PID=""
cleanup() {
  local rc=$?
  cp "$SERIAL" "$REPO/image/out/test-firmware-serial.log" 2>/dev/null || true
  [[ -n ${SSH_OPTS+set} ]] && ssh "${SSH_OPTS[@]}" -p "$SSH_PORT" -O exit admin@127.0.0.1 2>/dev/null || true
  [[ -n $QEMU_PID ]] && kill "$QEMU_PID" 2>/dev/null && wait "$QEMU_PID" 2>/dev/null || true
  [[ $rc -ne 0 ]] && { log "FAILED (exit $rc); serial log in image/out/test-firmware-serial.log"; tail -n 40 "$SERIAL" 2>/dev/null | sed 's/\x1b\[[0-9;]*[a-zA-Z]//g' >&2 || true; }
  rm -rf "$WORK"
}
trap cleanup EXIT

# The box's disk: N's image with room on /var for the bundles (systemd-repart grows the data partition).
cp --sparse=always "$FWT/n.img" "$WORK/disk.img"
truncate -s +1536M "$WORK/disk.img"
sfdisk -q --relocate gpt-bak-std "$WORK/disk.img"

sip() { node "$REPO/image/test-sip.mjs" "$@"; }
ssh-keygen -q -t ed25519 -N '' -C sipreg-fw-test -f "$WORK/admin_key"
SSH_OPTS=(-i "$WORK/admin_key" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile="$WORK/known_hosts"
  -o ConnectTimeout=30 -o LogLevel=ERROR -o ControlMaster=auto -o ControlPath="$WORK/ssh-%C" -o ControlPersist=1800)
as_admin() { ssh "${SSH_OPTS[@]}" -p "$SSH_PORT" admin@127.0.0.1 "$*"; }
admin_sftp() { sftp "${SSH_OPTS[@]}" -P "$SSH_PORT" -q -b - admin@127.0.0.1; }
ssh_reset() { ssh "${SSH_OPTS[@]}" -p "$SSH_PORT" -O exit admin@127.0.0.1 2>/dev/null || true; }

log "booting N ($N) from $WORK/disk.img (TCG, OVMF), udp 127.0.0.1:$PORT -> 5060, tcp 127.0.0.1:$SSH_PORT -> 22"
T0=$(date +%s)
qemu-system-x86_64 -accel tcg -machine q35 -m 1024 -smp 2 -display none -no-user-config -nodefaults \
  -bios /usr/share/ovmf/OVMF.fd \
  -drive "file=$WORK/disk.img,format=raw,if=virtio" \
  -netdev "user,id=n0,hostfwd=udp:127.0.0.1:$PORT-:5060,hostfwd=tcp:127.0.0.1:$SSH_PORT-:22" \
  -device virtio-net-pci,netdev=n0 \
  -smbios "type=11,value=io.systemd.credential:ssh.authorized_keys.admin=$(cat "$WORK/admin_key.pub")" \
  -serial "file:$SERIAL" -monitor "unix:$MON,server,nowait" &
QEMU_PID=$!

wait_for_sip() { # $1 what for
  local t=$(date +%s) status
  status="$(sip probe "127.0.0.1:$PORT" "$BOOT_DEADLINE_S")" || die "no SIP answer ($1)"
  kill -0 "$QEMU_PID" 2>/dev/null || die "qemu exited"
  log "$1: '$status' after $(( $(date +%s) - t )) s"
}
wait_for_admin() {
  ssh_reset
  for _ in $(seq 1 90); do as_admin sipreg --version >/dev/null 2>&1 && return 0; sleep 2; done
  die "no SSH login as admin"
}
restarts() { grep -a -c 'reboot: Restarting system' "$SERIAL" || true; }
reboot_and_wait() { # $1 restarts to wait for (counted in the serial log), $2 what for
  local t=$(date +%s)
  for _ in $(seq 1 $((BOOT_DEADLINE_S * 3))); do
    [[ $(restarts) -ge $1 ]] && break
    kill -0 "$QEMU_PID" 2>/dev/null || die "qemu exited during reboot"
    sleep 1
  done
  [[ $(restarts) -ge $1 ]] || die "no reboot seen ($2)"
  log "restart $1 seen after $(( $(date +%s) - t )) s ($2)"
}
status_json() { as_admin sipreg firmware status --json; }
field() { node -e "const s=JSON.parse(require('fs').readFileSync(0,'utf8')); console.log($1)"; }

wait_for_sip "N: first boot to SIP answer"
wait_for_admin
VERSION_LINE="$(as_admin sipreg --version)"; log "running: $VERSION_LINE"
[[ $VERSION_LINE == "sipreg $N "* ]] || failed "N runs '$VERSION_LINE'"
as_admin sipreg firmware status >&2 || failed "sipreg firmware status on N"

# ---- 2. phones -------------------------------------------------------------------------------------------
admin_sftp <<<"get /etc/sipreg/sipreg.yaml $WORK/factory.yaml" >/dev/null
PHONES=(7001 7002 7003)
PASSWORD="$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
node -e '
  const [, file, password, ...numbers] = process.argv;
  const doc = require("yaml").parseDocument(require("fs").readFileSync(file, "utf8"));
  doc.set("accounts", numbers.map((number) => ({ number, password })));
  // The phones are behind the NAT of QEMU (Contact 192.0.2.50, source 10.0.2.2): their bindings would get the
  // NAT expiry (300 s), shorter than the updates take under TCG; an hour outlives the whole test.
  doc.setIn(["params", "SS_ENDPOINT_NAT_EXPIRE"], 3600);
  process.stdout.write(doc.toString());' "$WORK/factory.yaml" "$PASSWORD" "${PHONES[@]}" >"$WORK/pushed.yaml"
admin_sftp <<EOF >/dev/null
put $WORK/pushed.yaml /var/etc/sipreg/.push.yaml
rename /var/etc/sipreg/.push.yaml /var/etc/sipreg/sipreg.yaml
EOF
for n in "${PHONES[@]}"; do
  for _ in $(seq 1 60); do
    sip register "127.0.0.1:$PORT" "$n" "$PASSWORD" "sip:$n@192.0.2.50:5062" >/dev/null 2>&1 && break
    sleep 2   # until the pushed config is applied
  done
done
bindings() { for n in "${PHONES[@]}"; do sip query "127.0.0.1:$PORT" "$n" "$PASSWORD" | grep -o '<[^>]*>' || echo "$n: none"; done; }
BEFORE="$(bindings)"
log "bindings on N: $(tr '\n' ' ' <<<"$BEFORE")"
[[ $(grep -c '^<sip:' <<<"$BEFORE") -eq ${#PHONES[@]} ]] || die "the phones did not register on N"

# ---- 3. refused bundles ----------------------------------------------------------------------------------
STATUS_BEFORE="$(status_json)"
admin_sftp <<EOF >/dev/null
put $FWT/bad-signature.fw /var/home/admin/bad-signature.fw
put $FWT/wrong-arch.fw /var/home/admin/wrong-arch.fw
EOF
for f in bad-signature wrong-arch; do
  rc=0; out="$(as_admin sipreg firmware install "/var/home/admin/$f.fw" 2>&1)" || rc=$?
  log "$f: exit $rc: $out"
  [[ $rc -eq 1 ]] || failed "$f: exit $rc, not 1"
  case $f in
    bad-signature) [[ $out == *"refused, nothing written: bad signature"* ]] || failed "$f: '$out'" ;;
    wrong-arch) [[ $out == *"refused, nothing written: a bundle for arm64, this box is x64"* ]] || failed "$f: '$out'" ;;
  esac
done
# Straight into the root service's queue, past the client's checks: refused there too.
admin_sftp <<EOF >/dev/null
put $FWT/bad-signature.fw /var/lib/sipreg-firmware/.request-00000000deadbeef.tmp
rename /var/lib/sipreg-firmware/.request-00000000deadbeef.tmp /var/lib/sipreg-firmware/request-00000000deadbeef.fw
EOF
for _ in $(seq 1 120); do
  admin_sftp <<<"get /var/lib/sipreg-firmware/result-00000000deadbeef.json $WORK/queued-result.json" >/dev/null 2>&1 && break
  sleep 1
done
if [[ -f $WORK/queued-result.json ]]; then
  log "the root service on a bad-signature request: $(cat "$WORK/queued-result.json")"
  grep -q '"code":1' "$WORK/queued-result.json" && grep -q 'refused: bad signature' "$WORK/queued-result.json" ||
    failed "the root service did not refuse the bad signature"
else
  failed "no answer from sipreg-firmware.service to a request in its queue"
fi
STATUS_AFTER="$(status_json)"
[[ $STATUS_AFTER == "$STATUS_BEFORE" ]] || failed "the refused bundles changed the firmware status: $STATUS_AFTER"
admin_sftp <<<"rm /var/home/admin/bad-signature.fw
rm /var/home/admin/wrong-arch.fw" >/dev/null || true

# ---- 4. N+1 ----------------------------------------------------------------------------------------------
install_bundle() { # $1 version
  local t=$(date +%s) out rc=0
  admin_sftp <<<"put $FWT/sipreg-x64-$1.fw /var/home/admin/update.fw" >/dev/null || die "upload of $1"
  log "uploaded $1 in $(( $(date +%s) - t )) s"
  out="$(as_admin sipreg firmware install --tries 1 /var/home/admin/update.fw 2>&1)" || rc=$?
  log "install $1: exit $rc ($(( $(date +%s) - t )) s):"; printf '    %s\n' "$out" >&2
  admin_sftp <<<"rm /var/home/admin/update.fw" >/dev/null || true
  [[ $rc -eq 0 ]] || die "install of $1 failed"
}
install_bundle "$N1"
as_admin sipreg firmware status >&2
[[ $(status_json | field 's.nextBoot') == b ]] || failed "after installing N+1, slot b does not boot next"

log "rebooting into N+1 (Ctrl-Alt-Del)"
sip monitor "$MON" sendkey ctrl-alt-delete
reboot_and_wait 1 "reboot into N+1"
wait_for_sip "N+1: boot to SIP answer"
wait_for_admin
VERSION_LINE="$(as_admin sipreg --version)"; log "running: $VERSION_LINE"
[[ $VERSION_LINE == "sipreg $N1 "* ]] || failed "after the reboot the box runs '$VERSION_LINE', not $N1"
for _ in $(seq 1 120); do [[ $(status_json | field 's.slots[1].state') == blessed ]] && break; sleep 3; done
as_admin sipreg firmware status >&2
ST="$(status_json)"
[[ $(field 's.booted' <<<"$ST") == b ]] || failed "N+1 not booted from slot b"
[[ $(field 's.slots[1].state' <<<"$ST") == blessed ]] || failed "slot b (N+1) not blessed: $(field 's.slots[1].state' <<<"$ST")"
AFTER="$(bindings)"
log "bindings on N+1: $(tr '\n' ' ' <<<"$AFTER")"
[[ "$(sort <<<"$AFTER")" == "$(sort <<<"$BEFORE")" ]] || failed "bindings changed across the update to N+1"

# ---- 5. the broken N+2 -----------------------------------------------------------------------------------
install_bundle "$N2"
[[ $(status_json | field 's.nextBoot') == a ]] || failed "after installing N+2, slot a does not boot next"
log "rebooting into the broken N+2: expected back on N+1 by itself"
sip monitor "$MON" sendkey ctrl-alt-delete
reboot_and_wait 2 "reboot into N+2"
log "N+2 booting; waiting for sipreg-boot-check.service to give up and reboot"
reboot_and_wait 3 "N+2's failed boot check reboots the box"
wait_for_sip "back on N+1: boot to SIP answer"
wait_for_admin
VERSION_LINE="$(as_admin sipreg --version)"; log "running: $VERSION_LINE"
[[ $VERSION_LINE == "sipreg $N1 "* ]] || failed "after N+2 failed the box runs '$VERSION_LINE', not $N1"
as_admin sipreg firmware status >&2
ST="$(status_json)"
[[ $(field 's.booted' <<<"$ST") == b ]] || failed "not back on slot b"
[[ $(field 's.slots[0].state' <<<"$ST") == failed ]] || failed "slot a (N+2) not shown failed"
[[ $(field 's.lastResult' <<<"$ST") == *"failed to come up in 1 boot; the box went back to slot b"* ]] || failed "last result: $(field 's.lastResult' <<<"$ST")"
FINAL="$(bindings)"
log "bindings back on N+1: $(tr '\n' ' ' <<<"$FINAL")"
[[ "$(sort <<<"$FINAL")" == "$(sort <<<"$BEFORE")" ]] || failed "bindings lost across the failed update"

if [[ ${#FAILS[@]} -gt 0 ]]; then
  log "${#FAILS[@]} check(s) failed:"; printf '  - %s\n' "${FAILS[@]}" >&2
  exit 1
fi
log "PASS: N booted, bad signature and wrong arch refused (client and root service), N+1 installed, booted, blessed, bindings kept; broken N+2 rolled back to N+1 by itself with its bindings (total $(( $(date +%s) - T0 )) s of QEMU)"
