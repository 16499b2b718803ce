#!/usr/bin/env bash
# Boots the appliance image under QEMU (TCG, never KVM: nested guests hang on these machines) and
# checks it as a phone (SIP through a forwarded loopback UDP port) and as the installer (`admin` over SSH
# and sftp through a forwarded TCP port, its key given to the guest as the SMBIOS credential
# ssh.authorized_keys.admin, the way a VM host provisions a box):
#   - every service unit we ship (systemd/*.service) has `systemd-analyze security` exposure <= 2.0,
#     evaluated offline on the unit files inside the image (the host's systemd is the image's, 252)
#   - the factory config has no accounts or trunks, and the example's accounts (published password and
#     HA1) are refused
#   - /var is mounted nosuid,nodev
#   - a config pushed by sftp is applied (sipreg-config.path -> sipreg-config-reload.service, unprivileged)
#   - the push drop-box (/etc/sipreg/push.yaml -> sipreg-config-push.service): a broken file refused, an
#     unbindable listen address rolled back, a good file applied, each a line of `sipreg config history`
#   - admin replacing /var/etc/sipreg/sipreg.yaml by a symlink to the SSH host key (a root file on the
#     writable /var) changes neither its nor /etc/shadow's owner or mode, and cannot hard-link it there
#   - a phone registers (SIPp), the guest reboots cleanly (Ctrl-Alt-Del: the same QEMU process, so
#     snapshot=on keeps the data partition's writes) and the binding is still there
#   - no `[FAILED]` unit in the serial log.
# A failed check is reported and the run goes on, so one run shows every regression; it exits 1 at the end.
# What the rest depends on (boot, SSH, a push) stops it at once. About 4-6 minutes on 2 cores.
#
#   bash image/test-image.sh [--arch x64|arm64|arm]   (make image-test [ARCH=...]; builds the image first
#                                                      when it is missing)
# Each arch boots through UEFI and systemd-boot from the disk, as a box does: x64 q35 + OVMF, arm64 virt +
# AAVMF (qemu-efi-aarch64), arm virt + AAVMF32 (qemu-efi-arm). TCG emulating another ISA is slower: the
# boot deadline's default grows with it (an arm64 boot took 7 min to SIP, the reboot over 15, at load ~25).
#
# Env: SIPREG_TEST_PORT (host loopback UDP port, default 15060), SIPREG_TEST_SSH_PORT (TCP, default 15022),
# BOOT_DEADLINE_S (default 300).
set -euo pipefail

ARCH="${ARCH:-x64}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --arch) ARCH="$2"; shift 2 ;;
    --arch=*) ARCH="${1#--arch=}"; shift ;;
    *) echo "usage: $0 [--arch x64|arm64|arm]" >&2; exit 2 ;;
  esac
done
case "$ARCH" in
  x64) QEMU=qemu-system-x86_64; QEMU_PKG=qemu-system-x86; FIRMWARE=/usr/share/ovmf/OVMF.fd; FIRMWARE_PKG=ovmf; SLOWER=1 ;;
  arm64) QEMU=qemu-system-aarch64; QEMU_PKG=qemu-system-arm; FIRMWARE=/usr/share/AAVMF/AAVMF_CODE.fd
    FIRMWARE_VARS=/usr/share/AAVMF/AAVMF_VARS.fd; FIRMWARE_PKG=qemu-efi-aarch64; SLOWER=5 ;;
  arm) QEMU=qemu-system-arm; QEMU_PKG=qemu-system-arm; FIRMWARE=/usr/share/AAVMF/AAVMF32_CODE.fd
    FIRMWARE_VARS=/usr/share/AAVMF/AAVMF32_VARS.fd; FIRMWARE_PKG=qemu-efi-arm; SLOWER=5 ;;
  *) echo "test-image: unknown --arch '$ARCH' (x64, arm64 or arm)" >&2; exit 2 ;;
esac

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMG="${SIPREG_TEST_IMAGE:-$REPO/image/out/sipreg-$ARCH.img}"
PORT="${SIPREG_TEST_PORT:-15060}"
SSH_PORT="${SIPREG_TEST_SSH_PORT:-15022}"
BOOT_DEADLINE_S="${BOOT_DEADLINE_S:-$((300 * SLOWER))}"
MAX_EXPOSURE=2.0
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
cd "$REPO"   # node -e below finds yaml in node_modules

log() { printf '[test-image %s] %s\n' "$(date +%T)" "$*" >&2; }
FAILS=()
failed() { log "FAIL: $*"; FAILS+=("$*"); }

need=()
for t in "$QEMU:$QEMU_PKG" sipp:sip-tester ssh:openssh-client unsquashfs:squashfs-tools \
         sfdisk:fdisk systemd-analyze:systemd; do
  command -v "${t%%:*}" >/dev/null || need+=("${t##*:}")
done
[[ -f $FIRMWARE ]] || need+=("$FIRMWARE_PKG")
if [[ ${#need[@]} -gt 0 ]]; then
  log "installing host packages: ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [[ ! -f $IMG ]]; then
  log "no image at $IMG: building it (make image ARCH=$ARCH)"
  make -C "$REPO" image ARCH="$ARCH"
fi

WORK="$(mktemp -d /tmp/sipreg-image-test.XXXXXX)"
SERIAL="$WORK/serial.log"
MON="$WORK/monitor.sock"
QEMU_PID=""
cleanup() {
  local rc=$?
  mkdir -p "$REPO/image/out" && cp "$SERIAL" "$REPO/image/out/test-image-serial.log" 2>/dev/null || true
  [[ -n ${SSH_OPTS+set} ]] && ssh "${SSH_OPTS[@]}" -p "$SSH_PORT" -O exit admin@127.0.0.1 2>/dev/null || true
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

# ---- the units' exposure, on the unit files inside the image ------------------------------------------
# The root partition (2nd) holds the squashfs; only the unit directories are unpacked.
read -r ROOT_START ROOT_SECTORS < <(sfdisk -J "$IMG" | node -e '
  const p = JSON.parse(require("fs").readFileSync(0, "utf8")).partitiontable.partitions.find((x) => x.name === "sipreg-root-a");
  console.log(p.start, p.size);')
dd if="$IMG" of="$WORK/root.squashfs" bs=512 skip="$ROOT_START" count="$ROOT_SECTORS" status=none
unsquashfs -q -n -d "$WORK/root" "$WORK/root.squashfs" usr/lib/systemd etc/systemd >/dev/null
# sipreg's man page and bash completion, as `make build` generated them (the prune once removed them).
unsquashfs -q -n -f -d "$WORK/root" "$WORK/root.squashfs" usr/share/man/man1/sipreg.1 \
  usr/share/bash-completion/completions/sipreg >/dev/null 2>&1 || true
cmp -s "$REPO/dist/sipreg.1" "$WORK/root/usr/share/man/man1/sipreg.1" || failed "the image has no sipreg.1 as dist/sipreg.1"
cmp -s "$REPO/dist/sipreg.bash-completion" "$WORK/root/usr/share/bash-completion/completions/sipreg" ||
  failed "the image has no bash completion as dist/sipreg.bash-completion"
for unit in "$REPO"/systemd/*.service; do
  name="$(basename "$unit")"
  cmp -s "$unit" "$WORK/root/usr/lib/systemd/system/$name" || failed "$name in the image differs from systemd/$name"
  score="$(systemd-analyze security --offline=yes --root="$WORK/root" "$name" 2>&1 |
    sed -n "s/.*Overall exposure level for $name: \([0-9.]*\).*/\1/p")"
  if [[ -z $score ]]; then failed "$name: no exposure level from systemd-analyze security"
  elif awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s > m) }'; then failed "$name: exposure $score > $MAX_EXPOSURE"
  else log "$name: exposure $score (<= $MAX_EXPOSURE)"
  fi
done

# ---- boot -----------------------------------------------------------------------------------------------
ssh-keygen -q -t ed25519 -N '' -C sipreg-image-test -f "$WORK/admin_key"
# One SSH connection for all of admin's commands (a handshake costs seconds under TCG), which also outlives
# a broken sshd: before the fix the attack below made the host key 0660, and sshd refuses such a key.
SSH_OPTS=(-i "$WORK/admin_key" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile="$WORK/known_hosts"
  -o ConnectTimeout=30 -o LogLevel=ERROR -o ControlMaster=auto -o ControlPath="$WORK/ssh-%C" -o ControlPersist=900)
as_admin() { ssh "${SSH_OPTS[@]}" -p "$SSH_PORT" admin@127.0.0.1 "$*"; }    # admin's shell runs `sipreg ...` only
admin_sftp() { sftp "${SSH_OPTS[@]}" -P "$SSH_PORT" -q -b - admin@127.0.0.1; } # commands on stdin

# UEFI firmware + systemd-boot from the disk: the same path a gateway boots.
case "$ARCH" in
  x64) MACHINE=(-machine q35 -bios "$FIRMWARE") ;;
  # virt has no keyboard: virtio-keyboard carries the Ctrl-Alt-Del of the reboot below. The firmware runs
  # from flash, its variables in a private copy.
  arm64|arm)
    cp "$FIRMWARE_VARS" "$WORK/efivars.fd"
    MACHINE=(-machine virt -cpu "$([[ $ARCH == arm64 ]] && echo cortex-a57 || echo cortex-a15)"
      -drive "if=pflash,format=raw,unit=0,readonly=on,file=$FIRMWARE" -drive "if=pflash,format=raw,unit=1,file=$WORK/efivars.fd"
      -device virtio-keyboard-pci) ;;
esac
log "booting $IMG ($ARCH, TCG, UEFI, snapshot=on), udp 127.0.0.1:$PORT -> guest:5060, tcp 127.0.0.1:$SSH_PORT -> guest:22"
T0=$(date +%s.%N)
"$QEMU" -accel tcg "${MACHINE[@]}" -m "${SIPREG_TEST_MEM_MB:-1024}" -smp 2 -display none -no-user-config -nodefaults \
  -drive "file=$IMG,format=raw,if=virtio,snapshot=on" \
  -netdev "user,id=n0,hostfwd=udp:127.0.0.1:$PORT-:5060,hostfwd=tcp:127.0.0.1:$SSH_PORT-:22" \
  -device virtio-net-pci,netdev=n0 \
  -smbios "type=11,value=io.systemd.credential:ssh.authorized_keys.admin=$(cat "$WORK/admin_key.pub")" \
  -serial "file:$SERIAL" -monitor "unix:$MON,server,nowait" &
QEMU_PID=$!

wait_for_sip() { # $1: what for; answers within BOOT_DEADLINE_S or fails
  local status
  status="$(sip probe "127.0.0.1:$PORT" "$BOOT_DEADLINE_S")" || { log "no SIP answer ($1)"; exit 1; }
  kill -0 "$QEMU_PID" 2>/dev/null || { log "qemu exited"; exit 1; }
  log "$1: '$status' after $(elapsed "$2") s"
}

wait_for_sip "first boot to SIP answer" "$T0"

# ---- no working factory credentials -------------------------------------------------------------------
# Every account of the example with a password or an HA1: published, so refused by the image.
while read -r number secret; do
  [[ -n $number ]] || continue
  if status="$(sip refused "127.0.0.1:$PORT" "$number" "$secret" "sip:$number@127.0.0.1:5999" 2>&1)"; then
    log "example account $number refused: $status"
  else
    failed "the example account $number is not refused by the image ($status)"
  fi
done < <(cd "$REPO" && node -e '
  const yaml = require("yaml");
  for (const a of yaml.parse(require("fs").readFileSync("etc/sipreg.yaml", "utf8")).accounts ?? []) {
    if (a.password) console.log(a.number, a.password);
    else if (a.ha1) console.log(a.number, `ha1:${a.ha1}`);
  }')

# ---- the installer's account ----------------------------------------------------------------------------
for _ in $(seq 1 60); do as_admin sipreg --version >/dev/null 2>&1 && break; sleep 2; done
as_admin sipreg --version >/dev/null || { log "no SSH login as admin with the provisioned key"; exit 1; }
log "admin logs in over SSH with the key from the SMBIOS credential"

admin_sftp <<<"get /etc/sipreg/sipreg.yaml $WORK/factory.yaml" >/dev/null
node -e '
  const c = require("yaml").parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const n = (c.accounts ?? []).length + (c.trunks ?? []).length;
  if (n > 0) { console.error(`${n} accounts/trunks`); process.exit(1); }' "$WORK/factory.yaml" ||
  failed "the factory config in the image has accounts or trunks"

admin_sftp <<<"get /proc/self/mountinfo $WORK/mountinfo" >/dev/null
VAR_OPTS="$(awk '$5 == "/var" { print $6 }' "$WORK/mountinfo")"
for opt in nosuid nodev; do
  [[ ,$VAR_OPTS, == *,$opt,* ]] || failed "/var is mounted '$VAR_OPTS', without $opt"
done
log "/var mount options: $VAR_OPTS"

# The service's events of a type, counted through admin's `sipreg events` (each takes seconds under TCG).
# With the factory config for -c: it names the same store, and stays readable when the live one is not.
events() {
  as_admin sipreg events -c /usr/share/sipreg/etc/sipreg.yaml --json --type "$1" | grep -c "\"type\": *\"$1\"" || true
}
wait_events() { # $1 type, $2 count to exceed, $3 what for
  local deadline=$((SECONDS + 120))
  while [[ $SECONDS -lt $deadline ]]; do [[ $(events "$1") -gt $2 ]] && return 0; sleep 1; done
  log "no $1 event within 120 s after $3"; return 1
}

# A config with a phone account, pushed the way an installer does: sftp to a temp name, rename over.
SIP_USER=7001
SIP_PASSWORD="$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
node -e '
  const [, file, number, password] = process.argv;
  const doc = require("yaml").parseDocument(require("fs").readFileSync(file, "utf8"));
  doc.set("accounts", [{ number, password }]);
  // The phone is behind the NAT of QEMU (its Contact is not its source), so it gets SS_ENDPOINT_NAT_EXPIRE,
  // 300 s by default: an arm64 reboot under TCG on a loaded host took longer, and the binding expired.
  doc.setIn(["params", "SS_ENDPOINT_NAT_EXPIRE"], 3600);
  process.stdout.write(doc.toString());' "$WORK/factory.yaml" "$SIP_USER" "$SIP_PASSWORD" >"$WORK/pushed.yaml"
push_config() { # $1: what for
  local before; before="$(events config_reloaded)"
  admin_sftp <<EOF >/dev/null
put $WORK/pushed.yaml /var/etc/sipreg/.push.yaml
rename /var/etc/sipreg/.push.yaml /var/etc/sipreg/sipreg.yaml
EOF
  wait_events config_reloaded "$before" "$1" || exit 1
}
push_config "a config push"
log "the pushed config is applied (account $SIP_USER)"
# The service's memory with no phones yet (README's per-arch figures), as `sipreg stats` reports it.
as_admin sipreg stats -c /usr/share/sipreg/etc/sipreg.yaml 2>/dev/null | sed -n 's/^ *\(service \(RSS\|heap\) .*\)/\1/p' |
  while read -r line; do log "idle: $line"; done || true

# ---- the symlink attack from the admin account ----------------------------------------------------------
# Before the fix sipreg-config-reload.service ran `chgrp sipreg` and `chmod 0660` as root on whatever
# /var/etc/sipreg/sipreg.yaml named: the SSH host key became readable and writable by group sipreg (admin).
# /etc/shadow, on the read-only root, is only checked to be unchanged. One link per boot: sipreg-config.path
# watches the file a link names, so a second swap of the link goes unseen (the pushed config is restored
# below for the reboot, while the running service keeps it: a refused reload keeps the running config).
TARGET=/var/lib/ssh/ssh_host_ed25519_key
modes() { printf 'ls -ln %s\n' "$TARGET" /etc/shadow | admin_sftp | awk '/^[-l]/ { print $1, $3, $4, $NF }'; }
BEFORE_MODES="$(modes)"
log "before: $(tr '\n' ';' <<<"$BEFORE_MODES")"
[[ $(wc -l <<<"$BEFORE_MODES") -eq 2 ]] || failed "cannot stat $TARGET and /etc/shadow as admin"
refused_before="$(events config_refused)"
admin_sftp <<EOF >/dev/null
symlink $TARGET /var/etc/sipreg/.attack
rename /var/etc/sipreg/.attack /var/etc/sipreg/sipreg.yaml
EOF
# The service is asked to reload and cannot use the target: its refusal is the sign the unit ran.
wait_events config_refused "$refused_before" "sipreg.yaml -> $TARGET" || failed "no reload after sipreg.yaml -> $TARGET"
sleep 2
AFTER_MODES="$(modes || true)"
if [[ $AFTER_MODES == "$BEFORE_MODES" ]]; then log "sipreg.yaml -> $TARGET: owners and modes unchanged"
else failed "a symlink made by admin changed root files: $(tr '\n' ';' <<<"$AFTER_MODES")"
fi
if admin_sftp <<<"ln $TARGET /var/etc/sipreg/.hardlink" >/dev/null 2>&1; then
  failed "admin could hard-link $TARGET into /var/etc/sipreg"
  admin_sftp <<<"rm /var/etc/sipreg/.hardlink" >/dev/null 2>&1 || true
fi
admin_sftp <<EOF >/dev/null || failed "could not restore the pushed config"
put $WORK/pushed.yaml /var/etc/sipreg/.push.yaml
rename /var/etc/sipreg/.push.yaml /var/etc/sipreg/sipreg.yaml
EOF
# ---- the push drop-box: sipreg-config-push.path -> `sipreg config apply --consume` ------------------------
# An installer copies a config to /etc/sipreg/push.yaml (sftp writes it in place, as scp does); the unit
# checks, keeps, installs and waits for the service's confirmation, or puts the previous config back.
# Every outcome is a line of `sipreg config history`: a broken file refused, a listen address the box
# cannot bind rolled back, a good file applied.
history_count() { as_admin sipreg config history -c /etc/sipreg/sipreg.yaml 2>/dev/null | grep -Ec "$1" || true; }
history_grows() { # $1 ERE, $2 count before; waits up to 180 s for one more line of `sipreg config history` to match
  local deadline=$((SECONDS + 180))
  while [[ $SECONDS -lt $deadline ]]; do
    [[ $(history_count "$1") -gt $2 ]] && return 0
    sleep 2
  done
  as_admin sipreg config history -c /etc/sipreg/sipreg.yaml >&2 || true
  return 1
}
drop() { admin_sftp <<<"put $1 /var/etc/sipreg/push.yaml" >/dev/null || failed "could not copy $1 to push.yaml"; }
variant() { # $1 JS statement on doc, $2 out
  node -e '
    const [, file, change] = process.argv;
    const doc = require("yaml").parseDocument(require("fs").readFileSync(file, "utf8"));
    new Function("doc", change)(doc);
    process.stdout.write(doc.toString());' "$WORK/pushed.yaml" "$1" >"$2"
}
PUSHED_RE='push file /etc/sipreg/push.yaml'
printf 'sip:\n  listen: [\n' >"$WORK/broken.yaml"
n="$(history_count "refused +$PUSHED_RE")"
drop "$WORK/broken.yaml"
if history_grows "refused +$PUSHED_RE" "$n"; then log "drop-box: a broken push.yaml refused and recorded"
else failed "a broken push.yaml was not recorded as refused in config history"
fi
# The box listens on 0.0.0.0:5060; systemd-resolved holds 127.0.0.53:53.
variant 'doc.setIn(["sip", "listen"], ["127.0.0.53:53"])' "$WORK/busy.yaml"
n="$(history_count "rolled back.*$PUSHED_RE")"
drop "$WORK/busy.yaml"
if history_grows "rolled back.*$PUSHED_RE" "$n"; then log "drop-box: a listen address another process holds rolled back by itself"
else failed "a push.yaml whose listen address is held by another process was not rolled back"
fi
variant 'doc.setIn(["sip", "listen"], ["192.0.2.1:5060"])' "$WORK/unbindable.yaml"
n="$(history_count "rolled back.*$PUSHED_RE")"
drop "$WORK/unbindable.yaml"
if history_grows "rolled back.*$PUSHED_RE" "$n"; then log "drop-box: a listen address the box does not have rolled back by itself"
else failed "a push.yaml whose listen address is not on the box was not rolled back"
fi
variant 'doc.set("accounts", [...doc.toJS().accounts, { number: "7002", password: "drop-box-7002" }])' "$WORK/good.yaml"
n="$(history_count "applied +$PUSHED_RE")"
drop "$WORK/good.yaml"
if history_grows "applied +$PUSHED_RE" "$n"; then log "drop-box: a good push.yaml applied and confirmed"
else failed "a good push.yaml was not applied"
fi

# ---- a phone, a reboot ----------------------------------------------------------------------------------
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
[[ "$(contacts <<<"$AFTER")" == "$(contacts <<<"$BEFORE")" ]] || failed "the binding did not survive the reboot"
AFTER_REBOOT="$(modes || true)"
[[ $AFTER_REBOOT == "$BEFORE_MODES" ]] || failed "after the reboot admin sees: '$(tr '\n' ';' <<<"$AFTER_REBOOT")'"

if grep -a -n 'FAILED' "$SERIAL" | sed 's/\x1b\[[0-9;]*[a-zA-Z]//g' | grep -F '[FAILED]' >&2; then
  failed "failed units in the serial log"
fi
if [[ ${#FAILS[@]} -gt 0 ]]; then
  log "${#FAILS[@]} check(s) failed:"
  printf '  - %s\n' "${FAILS[@]}" >&2
  exit 1
fi
log "PASS: units <= $MAX_EXPOSURE, no factory credentials, /var nosuid,nodev, push applied, drop-box refused/rolled back/applied, admin's symlinks harmless, binding kept across a reboot, no failed units (total $(elapsed "$T0") s)"
