#!/usr/bin/env bash
# Builds the sipreg appliance disk image: GPT with an EFI system partition (systemd-boot, each slot's kernel
# and initrd), two root slots (A/B, read-only squashfs; the image fills A) and a data partition for /var that
# systemd formats on first boot; and the signed firmware bundle of the same root (image/firmware-bundle.mjs),
# what `sipreg firmware install` writes into the other slot of a running box.
#
#   bash image/build-image.sh --arch x64|arm64|arm      (make image [ARCH=arm64|arm] [VERSION=...] [FW_KEY=...])
#
# SIPREG_FW_KEY: the Ed25519 private key (PKCS#8 PEM) bundles are signed with; its public key goes into the
# image as /usr/share/sipreg/firmware.pub. Without it a development key is made once in image/keys/.
# SIPREG_VERSION: the version the bundle says (default: package.json's, what `make build` put in the binary).
#
# No loop devices and no mounts for the disk: sfdisk writes the table, mkfs.fat --offset and mtools fill the
# ESP, dd puts the squashfs in place (this host's kernel has no vfat, and CI may not allow loop devices).
# The configured Debian root (debootstrap + kernel + initrd) is cached under image/cache/, keyed by the
# package list, so a rebuild after a code change takes about half a minute (squashfs dominates).
# Findings behind each step: ../shared/notes/image-feasibility.md.
set -euo pipefail

ARCH="$(node -p process.arch 2>/dev/null || echo x64)"
BASE_ONLY=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --arch) ARCH="$2"; shift 2 ;;
    --arch=*) ARCH="${1#--arch=}"; shift ;;
    --base-only) BASE_ONLY=1; shift ;;
    *) echo "usage: $0 [--arch x64|arm64|arm]" >&2; exit 2 ;;
  esac
done

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The physical path: in a git worktree image/cache is a symlink to a shared cache, and `systemctl --root`
# refuses a root reached through a symlink ("Channel number out of range"), which left sipreg.service
# and systemd-networkd disabled in the image.
mkdir -p "$REPO/image/cache"
CACHE="$(cd -P "$REPO/image/cache" && pwd)"
OUT="$REPO/image/out"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
SUITE=bookworm
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || date +%s)}"
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

case "$ARCH" in
  x64)
    DEBARCH=amd64; KERNEL_PKG=linux-image-amd64; EFI_NAME=BOOTX64.EFI; EFI_SRC=systemd-bootx64.efi
    ROOT_TYPE=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709; ELF_MACHINE='X86-64'; CONSOLE=ttyS0
    ROOT_UUID=5e1f0c2a-7d3b-4a61-9c58-0b1e5a000064; QEMU_USER= ;;
  arm64)
    DEBARCH=arm64; KERNEL_PKG=linux-image-arm64; EFI_NAME=BOOTAA64.EFI; EFI_SRC=systemd-bootaa64.efi
    ROOT_TYPE=B921B045-1DF0-41C3-AF44-4C6F280D3FAE; ELF_MACHINE='AArch64'; CONSOLE=ttyAMA0
    ROOT_UUID=5e1f0c2a-7d3b-4a61-9c58-0b1e5a00aa64; QEMU_USER=qemu-aarch64 ;;
  arm)
    # armv7 (hard float): Debian's multiplatform kernel (no LPAE needed, as on Cortex-A7/A9 gateways); its
    # zImage has the EFI stub, systemd-boot has an ARM build (bootarm.efi).
    DEBARCH=armhf; KERNEL_PKG=linux-image-armmp; EFI_NAME=BOOTARM.EFI; EFI_SRC=systemd-bootarm.efi
    ROOT_TYPE=69DAD710-2CE4-4E3C-B16C-21A1D49ABED3; ELF_MACHINE='ARM$'; CONSOLE=ttyAMA0
    ROOT_UUID=5e1f0c2a-7d3b-4a61-9c58-0b1e5a0000a7; QEMU_USER=qemu-arm
    # Its zImage's decompressor heap lies outside the EFI image the header declares; image/zimage-room.mjs
    # says what that overwrote (the early hang these boots had) and widens the header.
    ZIMAGE_ROOM=1
    ARCH_PKGS=,libatomic1 ;;   # Node for armv7l links libatomic.so.1
  *) echo "build-image: unknown --arch '$ARCH' (x64, arm64 or arm)" >&2; exit 2 ;;
esac
ESP_UUID=5e1f0c2a-7d3b-4a61-9c58-0b1e5a00e5f0
ROOT_B_UUID="${ROOT_UUID%????}b${ROOT_UUID: -3}"   # slot b: slot a's with the 4th-last digit 'b'
DATA_UUID=5e1f0c2a-7d3b-4a61-9c58-0b1e5a00da7a

# Partition sizes are part of the upgrade contract: `sipreg firmware install` writes a slot in place and
# both slots' kernels and initrds share the ESP, so they stay fixed across releases (root: about 2x today's
# squashfs; ESP: two arm64 kernels, uncompressed, and initrds with room to grow).
ESP_MIB=128
ROOT_MIB=256
DATA_MIB=64          # grown to the end of the disk at first boot by systemd-repart (image/rootfs/repart.d)

BINARY="${SIPREG_IMAGE_BINARY:-$REPO/dist/sipreg-linux-$ARCH}"
# armv7's is a directory (node, bundle, addon, launcher: image/build-binary.mjs says why); its ELF is the node.
BINARY_ELF="$BINARY"; [[ $ARCH != arm ]] || BINARY_ELF="$BINARY/node"
# The factory config: the example without its (published) accounts and trunks, on every interface
# (image/factory-config.mjs); SIPREG_IMAGE_CONFIG=FILE ships FILE instead, as it is (data_dir aside).
CONFIG_SRC="${SIPREG_IMAGE_CONFIG:-}"
FW_VERSION="${SIPREG_VERSION:-$(node -p "require('$REPO/package.json').version")}"
FW_KEY="${SIPREG_FW_KEY:-}"

log() { printf '[build-image %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { printf 'build-image: %s\n' "$*" >&2; exit 1; }

# ---- host tools (installed only when missing) ----------------------------------------------------------
need=()
for t in debootstrap:debootstrap mksquashfs:squashfs-tools sfdisk:fdisk mkfs.fat:dosfstools mcopy:mtools \
         zstd:zstd depmod:kmod useradd:passwd readelf:binutils; do
  command -v "${t%%:*}" >/dev/null || need+=("${t##*:}")
done
if [[ $ARCH != x64 ]]; then
  command -v "$QEMU_USER-static" >/dev/null || need+=(qemu-user-static)
  command -v update-binfmts >/dev/null || need+=(binfmt-support)
fi
if [[ ${#need[@]} -gt 0 ]]; then
  log "installing host packages: ${need[*]}"
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

[[ $BASE_ONLY == 1 ]] || [[ -x $BINARY ]] || die "$BINARY missing: run 'make build ARCH=$ARCH' first"
[[ $BASE_ONLY == 1 ]] || readelf -h "$BINARY_ELF" | grep -q "Machine:.*$ELF_MACHINE" || die "$BINARY is not an $ELF_MACHINE executable"

mkdir -p "$CACHE" "$OUT"

# ---- 1. the configured base root, cached --------------------------------------------------------------
# initramfs-tools gets MODULES=list *before* the kernel package is configured, so its postinst builds the
# small initrd once (under qemu-user for arm64 that is most of the 14 minutes the notes measured).
BASE_PKGS="systemd-sysv,udev,dbus,systemd-resolved,systemd-timesyncd,kmod,initramfs-tools,zstd,systemd-boot-efi,openssh-server,ca-certificates${ARCH_PKGS:-}"
INITRD_MODULES="virtio_pci virtio_blk virtio_scsi virtio_mmio ahci sd_mod nvme mmc_block sdhci_pci sdhci_acpi usb_storage uas xhci_pci xhci_plat_hcd ehci_pci squashfs ext4"
BASE_KEY="$(printf '%s|%s|%s|%s|v3' "$DEBARCH" "$BASE_PKGS" "$KERNEL_PKG" "$INITRD_MODULES" | sha256sum | cut -c1-12)"
BASE_TAR="$CACHE/rootfs-$DEBARCH-$BASE_KEY.tar.zst"

in_root() { chroot "$1" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C "${@:2}"; }

mount_api() { # apt's maintainer scripts want /proc, /sys and /dev (only while configuring the cached root)
  mount -t proc proc "$1/proc"; mount -t sysfs sys "$1/sys"; mount --bind /dev "$1/dev"
  MOUNTED_ROOT="$1"
}
umount_api() {
  [[ -n ${MOUNTED_ROOT:-} ]] || return 0
  umount -l "$MOUNTED_ROOT/dev" "$MOUNTED_ROOT/sys" "$MOUNTED_ROOT/proc" 2>/dev/null || true
  MOUNTED_ROOT=""
}
trap umount_api EXIT
# Mounts left under a stage by a build that was killed (SIGKILL skips the trap): unmounted before the stage
# is reused or deleted, since `rm -rf` of a stage with the host's /dev bind-mounted in it would empty /dev.
umount_stale() {
  local m
  for m in $(awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r); do
    log "unmounting $m, left by an interrupted build"; umount -l "$m"
  done
}

enable_binfmt() {
  [[ -d /proc/sys/fs/binfmt_misc ]] && [[ -e /proc/sys/fs/binfmt_misc/register ]] ||
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  [[ -e /proc/sys/fs/binfmt_misc/$QEMU_USER ]] || update-binfmts --enable "$QEMU_USER"
  grep -q '^flags:.*F' "/proc/sys/fs/binfmt_misc/$QEMU_USER" || log "warning: $QEMU_USER binfmt lacks the F flag"
}

if [[ ! -f $BASE_TAR ]]; then
  STAGE="$CACHE/base-$DEBARCH"
  t0=$SECONDS
  umount_stale "$STAGE"
  # A finished debootstrap is kept across a failure of the later steps (it is most of the time).
  if [[ -f $STAGE/.debootstrap-$BASE_KEY ]]; then
    log "reusing the debootstrapped $STAGE"
  elif [[ $DEBARCH == amd64 ]]; then
    rm -rf "$STAGE"
    log "debootstrap $SUITE $DEBARCH (minbase) into $STAGE"
    debootstrap --variant=minbase --arch="$DEBARCH" --include="${BASE_PKGS//,initramfs-tools/}" \
      "$SUITE" "$STAGE" "$MIRROR" >"$CACHE/debootstrap-$DEBARCH.log"
  else
    rm -rf "$STAGE"
    log "debootstrap $SUITE $DEBARCH (minbase, foreign) into $STAGE"
    debootstrap --foreign --variant=minbase --arch="$DEBARCH" --include="${BASE_PKGS//,initramfs-tools/}" \
      "$SUITE" "$STAGE" "$MIRROR" >"$CACHE/debootstrap-$DEBARCH.log"
    enable_binfmt
    cp "/usr/bin/$QEMU_USER-static" "$STAGE/usr/bin/"
    log "debootstrap second stage under qemu-user (slow)"
    in_root "$STAGE" /debootstrap/debootstrap --second-stage >>"$CACHE/debootstrap-$DEBARCH.log"
  fi
  touch "$STAGE/.debootstrap-$BASE_KEY"
  log "debootstrap took $((SECONDS - t0)) s"
  cat >"$STAGE/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
EOF
  rm -f "$STAGE/etc/resolv.conf"   # systemd-resolved made it a symlink into /run
  cp -L /etc/resolv.conf "$STAGE/etc/resolv.conf"
  # Keep docs, man pages and locales out from the start (dpkg honours path-exclude for later installs).
  cat >"$STAGE/etc/dpkg/dpkg.cfg.d/01-appliance" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
  mount_api "$STAGE"
  # A build killed while apt ran (the armhf kernel's postinst under qemu-user takes many minutes) leaves
  # packages unpacked but not configured, and apt refuses to go on until they are.
  in_root "$STAGE" dpkg --configure -a
  # A mirror caught mid-sync serves an index whose size or hash the Release file does not list (seen for
  # bookworm-security's binary-armhf/Packages.xz): apt-get update exits 100. Retried; if it persists the
  # build goes on with the indexes apt has (the others, and any older copy of the failed one), loudly.
  for try in 1 2 3; do
    in_root "$STAGE" apt-get update -qq && break
    if [[ $try == 3 ]]; then log "WARNING: apt-get update failed 3 times; going on with the package indexes apt has"
    else sleep 20; fi
  done
  in_root "$STAGE" apt-get install -y -qq --no-install-recommends initramfs-tools >/dev/null
  sed -i 's/^MODULES=.*/MODULES=list/; s/^COMPRESS=.*/COMPRESS=zstd/' "$STAGE/etc/initramfs-tools/initramfs.conf"
  printf '%s\n' $INITRD_MODULES >"$STAGE/etc/initramfs-tools/modules"
  in_root "$STAGE" apt-get -y -qq -o Dpkg::Options::=--force-confold upgrade >/dev/null
  log "installing $KERNEL_PKG"
  in_root "$STAGE" apt-get install -y -qq --no-install-recommends "$KERNEL_PKG" >/dev/null
  in_root "$STAGE" apt-get clean
  umount_api
  rm -f "$STAGE/usr/bin/$QEMU_USER-static" "$STAGE/etc/resolv.conf"
  rm -rf "$STAGE/var/lib/apt/lists/"* "$STAGE/debootstrap" "$STAGE"/.debootstrap-*
  log "caching the configured root as $(basename "$BASE_TAR")"
  rm -f "$CACHE"/rootfs-"$DEBARCH"-*.tar.zst
  tar --numeric-owner --xattrs -C "$STAGE" -cf - . | zstd -q -T0 -6 -o "$BASE_TAR.tmp"
  mv "$BASE_TAR.tmp" "$BASE_TAR"
  rm -rf "$STAGE"
  log "base root took $((SECONDS - t0)) s"
fi

[[ $BASE_ONLY == 0 ]] || exit 0

# ---- 2. the appliance root ----------------------------------------------------------------------------
# In this checkout's out/, not the cache: the cache may be shared by several checkouts building at once.
WORK="$OUT/work-$ARCH"
ROOT="$WORK/root"
rm -rf "$WORK"; mkdir -p "$ROOT"
zstd -q -dc "$BASE_TAR" | tar --numeric-owner --xattrs -C "$ROOT" -xpf -
KVER="$(ls "$ROOT/lib/modules" | sort -V | tail -1)"
[[ -n $KVER ]] || die "no kernel in the base root"
log "customising root (kernel $KVER)"

# the files under image/rootfs/ and systemd/ (units, drop-ins, networkd, tmpfiles, the admin shell)
cp -a --no-preserve=ownership "$REPO/image/rootfs/." "$ROOT/"
install -m 0644 "$REPO/systemd/sipreg.service" "$ROOT/usr/lib/systemd/system/sipreg.service"
for f in "$REPO"/systemd/*; do
  case "$(basename "$f")" in sipreg.service|README*) ;; *) cp -a --no-preserve=ownership "$f" "$ROOT/usr/lib/systemd/system/" ;; esac
done
chmod 0755 "$ROOT/usr/libexec/sipreg/admin-shell"
mkdir -p "$ROOT/var/home"

# users: a fixed uid/gid so the data partition's ownership stays valid across image upgrades
useradd -R "$ROOT" --system --uid 990 --user-group --home-dir /var/lib/sipreg --no-create-home \
  --shell /usr/sbin/nologin --comment "sipreg registrar" sipreg
useradd -R "$ROOT" --uid 1000 --user-group --groups sipreg --home-dir /var/home/admin --no-create-home \
  --shell /usr/libexec/sipreg/admin-shell --comment "sipreg administrator" admin
echo /usr/libexec/sipreg/admin-shell >>"$ROOT/etc/shells"

# the program and its config (the factory default; the live copy is on /var, see tmpfiles.d/sipreg.conf)
if [[ $ARCH == arm ]]; then
  install -d "$ROOT/usr/lib/sipreg"
  install -m 0755 "$BINARY/node" "$BINARY/lmdb.node" "$BINARY/sipreg" "$ROOT/usr/lib/sipreg/"
  install -m 0644 "$BINARY/sipreg.cjs" "$ROOT/usr/lib/sipreg/"
  ln -s ../lib/sipreg/sipreg "$ROOT/usr/bin/sipreg"
else
  install -m 0755 "$BINARY" "$ROOT/usr/bin/sipreg"
fi
install -d -m 2770 -g 990 "$ROOT/usr/share/sipreg/etc"
if [[ -z $CONFIG_SRC ]]; then
  node "$REPO/image/factory-config.mjs" "$REPO/etc/sipreg.yaml" "$ROOT/usr/share/sipreg/etc/sipreg.yaml"
elif [[ -f $CONFIG_SRC ]]; then
  sed -E 's|^data_dir:.*$|data_dir: /var/lib/sipreg|' "$CONFIG_SRC" >"$ROOT/usr/share/sipreg/etc/sipreg.yaml"
  grep -q '^data_dir:' "$ROOT/usr/share/sipreg/etc/sipreg.yaml" || echo 'data_dir: /var/lib/sipreg' >>"$ROOT/usr/share/sipreg/etc/sipreg.yaml"
else
  die "no config at $CONFIG_SRC (SIPREG_IMAGE_CONFIG)"
fi
chown 0:990 "$ROOT/usr/share/sipreg/etc/sipreg.yaml"; chmod 0660 "$ROOT/usr/share/sipreg/etc/sipreg.yaml"
if [[ $ARCH == "$(node -p process.arch 2>/dev/null)" ]]; then
  rc=0; "$BINARY" check -c "$ROOT/usr/share/sipreg/etc/sipreg.yaml" >/dev/null 2>"$WORK/check.err" || rc=$?
  case $rc in
    0) ;;
    1) cat "$WORK/check.err" >&2; die "the image config does not pass 'sipreg check'" ;;
    *) log "warning: 'sipreg check' unavailable (exit $rc); config not validated" ;;
  esac
fi
rm -rf "$ROOT/etc/sipreg"; ln -s /var/etc/sipreg "$ROOT/etc/sipreg"
# Smoke test against the image's own libraries (arm64 and arm through qemu-user, no binfmt needed).
if [[ $ARCH != x64 ]]; then
  if [[ $ARCH == arm ]]; then set -- "$ROOT/usr/lib/sipreg/node" "$ROOT/usr/lib/sipreg/sipreg.cjs"; else set -- "$BINARY"; fi
  "$QEMU_USER-static" -L "$ROOT" "$@" --version >&2 || die "the $ARCH binary does not run under $QEMU_USER-static"
else
  "$BINARY" --version >&2 || die "$BINARY --version failed"
fi


# Boot assessment: systemd-bless-boot (and its generator) come with Debian's systemd-boot package, not in the
# cached root; its files are unpacked from the .deb of the root's own systemd version (it links the root's
# libsystemd-shared), fetched once into the cache. Its maintainer scripts would install a boot loader: not run.
SD_VER="$(awk '/^Package: systemd$/ { p = 1 } p && /^Version:/ { print $2; exit }' "$ROOT/var/lib/dpkg/status")"
SD_DEB="$CACHE/debs/systemd-boot_${SD_VER//:/%3a}_$DEBARCH.deb"
# The host's apt knows only its own architecture (and any added with dpkg --add-architecture): for another
# one the .deb comes straight from the mirrors' pool (bookworm and its updates, then security), where its
# name is fixed by package, version and arch, and is checked to be that package before it is cached.
fetch_pool_deb() { # $1 package, $2 version, $3 Debian arch, $4 source package; prints the cached file
  local file="${1}_${2#*:}_$3.deb" url
  for url in "$MIRROR/pool/main/${4:0:1}/$4/$file" "$SECURITY_MIRROR/pool/updates/main/${4:0:1}/$4/$file"; do
    curl -fsSL --retry 3 -o "$CACHE/debs/$file.tmp" "$url" 2>/dev/null || continue
    if [[ $(dpkg-deb -f "$CACHE/debs/$file.tmp" Package Version Architecture | tr '\n' ' ') == "Package: $1 Version: $2 Architecture: $3 " ]]; then
      mv "$CACHE/debs/$file.tmp" "$CACHE/debs/$file"; echo "$CACHE/debs/$file"; return 0
    fi
  done
  rm -f "$CACHE/debs/$file.tmp"; return 1
}
if [[ ! -f $SD_DEB ]]; then
  mkdir -p "$CACHE/debs"
  log "fetching systemd-boot $SD_VER ($DEBARCH)"
  if ( cd "$CACHE/debs" && apt-get download -qq -o APT::Sandbox::User=root "systemd-boot:$DEBARCH=$SD_VER" ) 2>/dev/null; then
    [[ -f $SD_DEB ]] || SD_DEB="$(ls "$CACHE"/debs/systemd-boot_*"$DEBARCH".deb | grep -F "${SD_VER#*:}" | head -1)"
  else
    SD_DEB="$(fetch_pool_deb systemd-boot "$SD_VER" "$DEBARCH" systemd)" ||
      die "cannot fetch systemd-boot $SD_VER for $DEBARCH (the root's systemd) by apt or from $MIRROR's pool"
  fi
fi
# Only the three files of boot assessment, into /usr (the .deb says /lib; the root's /lib is a symlink).
rm -rf "$WORK/systemd-boot"; dpkg-deb -x "$SD_DEB" "$WORK/systemd-boot"
for f in systemd/systemd-bless-boot systemd/system-generators/systemd-bless-boot-generator systemd/system/systemd-bless-boot.service; do
  src="$WORK/systemd-boot/lib/$f"; [[ -e $src ]] || src="$WORK/systemd-boot/usr/lib/$f"
  [[ -e $src ]] || die "no $f in $SD_DEB"
  install -D -m "$([[ $f == *.service ]] && echo 0644 || echo 0755)" "$src" "$ROOT/usr/lib/$f"
done

# The firmware key: the image trusts bundles signed with it (src/firmware/bundle.ts).
if [[ -z $FW_KEY ]]; then
  FW_KEY="$(node "$REPO/image/firmware-bundle.mjs" --dev-key "$REPO/image/keys")"
  log "signing with the development key $FW_KEY (SIPREG_FW_KEY=FILE, make image FW_KEY=FILE, names yours)"
fi
[[ -f $FW_KEY ]] || die "no signing key at $FW_KEY (SIPREG_FW_KEY)"
node -e '
  const c = require("node:crypto"), fs = require("node:fs");
  const k = c.createPrivateKey(fs.readFileSync(process.argv[1]));
  if (k.asymmetricKeyType !== "ed25519") { console.error(`${process.argv[1]}: not an ed25519 key`); process.exit(1); }
  fs.writeFileSync(process.argv[2], c.createPublicKey(k).export({ type: "spki", format: "pem" }));' \
  "$FW_KEY" "$ROOT/usr/share/sipreg/firmware.pub" || die "cannot read the signing key $FW_KEY"
chmod 0644 "$ROOT/usr/share/sipreg/firmware.pub"
mkdir -p "$ROOT/efi"

# first-boot and read-only-root settings
: >"$ROOT/etc/machine-id"
rm -f "$ROOT/var/lib/dbus/machine-id"
echo sipreg >"$ROOT/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 sipreg\n::1 localhost ip6-localhost ip6-loopback\n' >"$ROOT/etc/hosts"
ln -sf ../run/systemd/resolve/stub-resolv.conf "$ROOT/etc/resolv.conf"
ln -sf /usr/share/zoneinfo/Etc/UTC "$ROOT/etc/localtime"
cat >"$ROOT/etc/fstab" <<EOF
# <device>                              <dir> <type>   <options>                                         <dump> <pass>
# / is the slot the boot entry names (root=PARTLABEL=sipreg-root-a or -b on the kernel command line).
PARTLABEL=data                          /var  ext4     rw,noatime,nosuid,nodev,x-systemd.makefs,x-systemd.growfs,x-systemd.device-timeout=10min 0 2
# The ESP, for systemd-bless-boot and sipreg firmware: written by root only, read by group sipreg (admin).
PARTLABEL=esp                           /efi  vfat     rw,nosuid,nodev,noexec,uid=0,gid=990,fmask=0137,dmask=0027,nofail 0 0
EOF
# x-systemd.device-timeout: systemd's 90 s default for the data partition to show up was not enough for the
# arm64 image under TCG on a loaded host (udev still busy: emergency mode, no SIP). A slow box waits instead.
rm -f "$ROOT"/etc/ssh/ssh_host_*     # each box makes its own on first boot (/var/lib/ssh)

systemctl --root="$ROOT" --quiet enable sipreg.service sipreg-config.path sipreg-config-push.path sipreg-boot-check.service sipreg-firmware.path systemd-networkd.service \
  systemd-resolved.service systemd-timesyncd.service ssh.service 2>&1 | grep -v -e '^Synchronizing' -e '^Executing' >&2 || true
[[ -e $ROOT/etc/systemd/system/local-fs.target.wants/tmp.mount ]] || {
  cp "$ROOT/usr/share/systemd/tmp.mount" "$ROOT/etc/systemd/system/tmp.mount"
  mkdir -p "$ROOT/etc/systemd/system/local-fs.target.wants"
  ln -sf ../tmp.mount "$ROOT/etc/systemd/system/local-fs.target.wants/tmp.mount"
}
# systemd-firstboot would prompt on the console; the timers maintain a package database that is read-only
systemctl --root="$ROOT" mask systemd-firstboot.service apt-daily.timer apt-daily-upgrade.timer \
  e2scrub_all.timer e2scrub_reap.service fstrim.timer dpkg-db-backup.timer ssh.socket \
  systemd-networkd-wait-online.service >/dev/null 2>&1 || true
mkdir -p "$ROOT/etc/systemd/system/sysinit.target.wants"
ln -sf /usr/lib/systemd/system/systemd-repart.service "$ROOT/etc/systemd/system/sysinit.target.wants/"
passwd -R "$ROOT" -l root >/dev/null

# Kernel, initrd and the boot loader go to the ESP, not into the root.
cp "$ROOT/boot/vmlinuz-$KVER" "$WORK/vmlinuz"
if [[ -n ${ZIMAGE_ROOM:-} ]]; then
  ROOM="$(node "$REPO/image/zimage-room.mjs" "$WORK/vmlinuz")" || die "the armv7 kernel is not the EFI zImage zimage-room.mjs expects"
  log "$ROOM"
fi
cp "$ROOT/boot/initrd.img-$KVER" "$WORK/initrd.img"
cp "$ROOT/usr/lib/systemd/boot/efi/$EFI_SRC" "$WORK/$EFI_NAME"

# ---- 3. prune ------------------------------------------------------------------------------------------
# Docs, locales, package management, perl, /var (the data partition hides it), kernel modules outside an
# allowlist, unlinked libraries: image/prune-root.sh (image/README.md "What is in the root").
log "pruning"
bash "$REPO/image/prune-root.sh" "$ROOT" "$KVER"
# sipreg's man page and bash completion, generated from the command table by `make build`: after the
# prune, which removes every other man page and completion.
install -D -m 0644 "$REPO/dist/sipreg.1" "$ROOT/usr/share/man/man1/sipreg.1"
install -D -m 0644 "$REPO/dist/sipreg.bash-completion" "$ROOT/usr/share/bash-completion/completions/sipreg"
# What goes into the squashfs: /boot (kernel and initrd, on the ESP instead) is left out of it below.
ROOT_KIB=$(( $(du -sk --apparent-size "$ROOT" | cut -f1) - $(du -sk --apparent-size "$ROOT/boot" | cut -f1) ))


# ---- 4. squashfs ---------------------------------------------------------------------------------------
log "mksquashfs"
rm -f "$WORK/root.squashfs"
# zstd 19 in 256 KiB blocks: the executable (84 MiB, most of the root) packs 28.1 MiB at level 15 in the
# default 128 KiB blocks; bigger blocks would pack better still but make each page fault of a 256 MiB box
# under memory pressure read and decompress more.
mksquashfs "$ROOT" "$WORK/root.squashfs" -comp zstd -Xcompression-level 19 -b 262144 -noappend -quiet -no-progress \
  -e boot >/dev/null   # timestamps from SOURCE_DATE_EPOCH
SQ_BYTES=$(stat -c %s "$WORK/root.squashfs")
(( SQ_BYTES <= ROOT_MIB * 1024 * 1024 )) || die "squashfs ($SQ_BYTES B) exceeds the ${ROOT_MIB} MiB root partition"

# ---- 5. the disk, without loop devices or mounts -------------------------------------------------------
log "assembling the disk"
IMG="$OUT/sipreg-$ARCH.img"
rm -f "$IMG" "$IMG.tmp"
TOTAL_MIB=$((1 + ESP_MIB + 2 * ROOT_MIB + DATA_MIB + 1))
truncate -s "${TOTAL_MIB}M" "$IMG.tmp"
S=2048 # sectors per MiB
sfdisk -q --no-reread --no-tell-kernel "$IMG.tmp" <<EOF
label: gpt
label-id: 5E1F0C2A-7D3B-4A61-9C58-0B1E5A000000
unit: sectors
start=$((1 * S)), size=$((ESP_MIB * S)), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=$ESP_UUID, name="esp"
start=$(((1 + ESP_MIB) * S)), size=$((ROOT_MIB * S)), type=$ROOT_TYPE, uuid=$ROOT_UUID, name="sipreg-root-a"
start=$(((1 + ESP_MIB + ROOT_MIB) * S)), size=$((ROOT_MIB * S)), type=$ROOT_TYPE, uuid=$ROOT_B_UUID, name="sipreg-root-b"
start=$(((1 + ESP_MIB + 2 * ROOT_MIB) * S)), size=$((DATA_MIB * S)), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=$DATA_UUID, name="data"
EOF
ESP_OFF=$((1024 * 1024))
mkfs.fat -F 32 -s 1 -S 512 -n ESP -i 5e1f0c2a --offset=$((ESP_OFF / 512)) "$IMG.tmp" $((ESP_MIB * 1024)) >/dev/null 2>&1   # 1-sector clusters: enough of them for FAT32
export MTOOLS_SKIP_CHECK=1
E="$IMG.tmp@@$ESP_OFF"
# mtools warns on every call that the FAT's size differs from the image file's (it is a partition of it).
mmd() { command mmd "$@" 2> >(grep -v 'block count mismatch' >&2); }
mcopy() { command mcopy "$@" 2> >(grep -v 'block count mismatch' >&2); }
mmd -i "$E" ::/EFI ::/EFI/BOOT ::/loader ::/loader/entries ::/sipreg ::/sipreg/a
mcopy -i "$E" "$WORK/$EFI_NAME" "::/EFI/BOOT/$EFI_NAME"
mcopy -i "$E" "$WORK/vmlinuz" ::/sipreg/a/vmlinuz
mcopy -i "$E" "$WORK/initrd.img" ::/sipreg/a/initrd.img
# Slot a boots from entry sipreg-1-a.conf; `sipreg firmware install` adds sipreg-<n>-<slot>+<tries>.conf
# (src/firmware/entries.ts). `default sipreg-*`: the first in systemd-boot's order, the newest install
# unless it used up its tries.
CMDLINE="root=PARTLABEL=sipreg-root-a ro rootfstype=squashfs systemd.gpt_auto=0 console=$CONSOLE,115200 panic=10 quiet"
printf 'timeout 0\ndefault sipreg-*\neditor no\n' >"$WORK/loader.conf"
printf 'title sipreg %s (slot a)\nlinux /sipreg/a/vmlinuz\ninitrd /sipreg/a/initrd.img\noptions %s\n' "$FW_VERSION" "$CMDLINE" >"$WORK/sipreg-1-a.conf"
printf '{ "version": "%s", "arch": "%s", "installedAt": null, "rootSha256": "%s" }\n' "$FW_VERSION" "$ARCH" \
  "$(sha256sum "$WORK/root.squashfs" | cut -d' ' -f1)" >"$WORK/manifest.json"
mcopy -i "$E" "$WORK/loader.conf" ::/loader/loader.conf
mcopy -i "$E" "$WORK/sipreg-1-a.conf" ::/loader/entries/sipreg-1-a.conf
mcopy -i "$E" "$WORK/manifest.json" ::/sipreg/a/manifest.json
dd if="$WORK/root.squashfs" of="$IMG.tmp" bs=1M seek=$((1 + ESP_MIB)) conv=notrunc,sparse status=none
mv "$IMG.tmp" "$IMG"
cp "$WORK/vmlinuz" "$OUT/sipreg-$ARCH.vmlinuz"; cp "$WORK/initrd.img" "$OUT/sipreg-$ARCH.initrd.img"
echo "$CMDLINE" >"$OUT/sipreg-$ARCH.cmdline"

log "firmware bundle"
FW="$(node "$REPO/image/firmware-bundle.mjs" --key "$FW_KEY" --version "$FW_VERSION" --arch "$ARCH" \
  --root "$WORK/root.squashfs" --kernel "$WORK/vmlinuz" --initrd "$WORK/initrd.img" --out "$OUT")"

log "compressing"
# The squashfs inside is compressed already: a fast level gives the same size as -19 in a fraction of the time.
zstd -q -f -T0 -3 --sparse "$IMG" -o "$IMG.zst"
RAW=$(stat -c %s "$IMG"); ALLOC=$(( $(stat -c %b "$IMG") * 512 )); ZST=$(stat -c %s "$IMG.zst")
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo "image $IMG: raw $(mib "$RAW") ($(mib "$ALLOC") allocated), zstd $(mib "$ZST");" \
  "root file system $(mib $((ROOT_KIB * 1024))) (squashfs $(mib "$SQ_BYTES")), kernel $(mib "$(stat -c %s "$WORK/vmlinuz")"), initrd $(mib "$(stat -c %s "$WORK/initrd.img")")"
echo "firmware bundle $FW: sipreg $FW_VERSION, $(mib "$(stat -c %s "$FW")")"
