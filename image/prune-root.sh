#!/usr/bin/env bash
# What a SIP gateway's root file system does not need, removed from the configured root before it becomes
# the squashfs (called by image/build-image.sh; image/README.md "What is in the root" says what stays and why).
#
#   bash image/prune-root.sh ROOT KVER
#
# The root is read-only and /var is the data partition mounted over it, so nothing that maintains or
# installs packages can run: dpkg, apt, debconf and perl go with their databases, and so does everything
# the image kept under /var (hidden by the mount). Kernel modules are an allowlist (virtio, common wired
# NICs, storage, USB, netfilter, SoC plumbing for the arm boards) closed over modules.dep, so a kept module
# never misses one it needs. Shared libraries nothing links any more (apt's, gnutls, perl's) go last.
set -euo pipefail
ROOT="$1"
KVER="$2"
[[ -d $ROOT/usr/lib/modules/$KVER ]] || { echo "prune-root: no modules for $KVER in $ROOT" >&2; exit 1; }

# ---- files: documentation, locales, package management, tools of the build ----------------------------
rm -rf "$ROOT"/usr/share/{doc,man,info,locale,i18n,lintian,linda,bug,gtk-doc,common-licenses,bash-completion} \
  "$ROOT"/usr/share/{initramfs-tools,perl5,perl,debconf,dpkg,keyrings,pam-configs,menu,pixmaps,polkit-1} \
  "$ROOT"/usr/share/zoneinfo/{right,posix} "$ROOT"/usr/lib/systemd/boot "$ROOT"/usr/lib/*-linux-gnu*/gconv \
  "$ROOT"/usr/lib/*-linux-gnu*/perl-base "$ROOT"/usr/lib/*-linux-gnu*/perl "$ROOT"/usr/lib/{apt,dpkg,firmware} \
  "$ROOT"/usr/lib/udev/hwdb.bin "$ROOT"/usr/lib/udev/hwdb.d "$ROOT"/usr/libexec/dpkg "$ROOT"/usr/lib/*-linux-gnu*/pkcs11 \
  "$ROOT"/usr/lib/*-linux-gnu*/security/pam_userdb.so "$ROOT"/usr/share/p11-kit "$ROOT"/etc/pkcs11 \
  "$ROOT"/usr/sbin/{useradd,userdel,usermod,groupadd,groupdel,groupmod,newusers,chpasswd,chgpasswd,grpck,pwck,vipw,vigr,cppw,cpgr} \
  "$ROOT"/etc/{initramfs-tools,apt,dpkg,debconf.conf,kernel,cron.daily/apt-compat,cron.daily/dpkg,logrotate.d/{apt,dpkg}} \
  "$ROOT"/usr/bin/{perl,perl5*,dpkg,dpkg-*,apt,apt-*,debconf,debconf-*,localedef,openssl,zstd,pzstd,unzstd,zstdcat,zstdmt,zstdgrep,zstdless} \
  "$ROOT"/usr/bin/{ssh,ssh-add,ssh-agent,ssh-keyscan,ssh-argv0,ssh-copy-id,slogin,sftp,gpgv,update-alternatives} \
  "$ROOT"/usr/sbin/{dpkg-*,update-initramfs,mkinitramfs,unmkinitramfs,lsinitramfs,update-ca-certificates,adduser,addgroup,deluser,delgroup,debugfs,fsck.minix,mkfs.minix,mkfs.bfs,mkfs.cramfs} \
  "$ROOT"/usr/sbin/{update-passwd,add-shell,remove-shell,installkernel,dpkg-preconfigure,dpkg-reconfigure,pam-auth-update,pam_getenv}
# The arm kernels' device trees (/usr/lib/linux-image-<kver>/, 26 MiB on arm64): a board's firmware hands the
# kernel its device tree before the root is mounted (a systemd-boot `devicetree` line would read it from the
# ESP), so nothing on the root ever reads them. amd64 has none.
rm -rf "$ROOT"/usr/lib/linux-image-*
# /var is the data partition, mounted over whatever the image has there; systemd-tmpfiles makes what the
# services need on it (first boot) and the mount point itself stays.
find "$ROOT/var" -mindepth 1 -maxdepth 1 -exec rm -rf {} +

# ---- kernel modules: an allowlist, closed over dependencies ----------------------------------------------
# Paths under kernel/; a trailing / keeps a directory, `*` one path component.
M="$ROOT/usr/lib/modules/$KVER"
keep=(
  'arch/*/crypto/' crypto/ lib/ block/ mm/
  fs/ext4/ fs/jbd2/ fs/mbcache.ko fs/squashfs/ fs/fat/ fs/vfat/ fs/nls/ fs/autofs/ fs/efivarfs/ fs/configfs/ fs/pstore/
  fs/binfmt_misc.ko
  net/core/ net/ipv4/ net/ipv6/ net/netfilter/ net/bridge/ net/8021q/ net/802/ net/llc/ net/sched/ net/packet/
  net/unix/ net/key/ net/xfrm/ net/netlink/ net/dns_resolver/ net/vmw_vsock/ net/psample/
  drivers/virtio/ drivers/block/virtio_blk.ko drivers/block/loop.ko drivers/block/xen-blkfront.ko
  drivers/nvme/host/nvme.ko drivers/ata/ drivers/mmc/ drivers/cdrom/
  drivers/scsi/sd_mod.ko drivers/scsi/sr_mod.ko drivers/scsi/sg.ko drivers/scsi/virtio_scsi.ko
  drivers/scsi/vmw_pvscsi.ko drivers/scsi/hv_storvsc.ko
  drivers/usb/core/ drivers/usb/host/ drivers/usb/storage/ drivers/usb/common/ drivers/usb/class/ drivers/usb/dwc2/
  drivers/usb/dwc3/ drivers/usb/musb/ drivers/usb/chipidea/ drivers/usb/phy/ drivers/usb/roles/
  drivers/hid/hid.ko drivers/hid/hid-generic.ko drivers/hid/usbhid/ drivers/input/keyboard/ drivers/input/serio/
  drivers/input/evdev.ko drivers/input/input-leds.ko
  drivers/net/virtio_net.ko drivers/net/tun.ko drivers/net/tap.ko drivers/net/veth.ko drivers/net/macvlan.ko
  drivers/net/macvtap.ko drivers/net/ipvlan/ drivers/net/bonding/ drivers/net/team/ drivers/net/dummy.ko
  drivers/net/ifb.ko drivers/net/vxlan/ drivers/net/geneve.ko drivers/net/wireguard/ drivers/net/ppp/ drivers/net/vrf.ko
  drivers/net/mii.ko drivers/net/mdio/ drivers/net/phy/ drivers/net/pcs/ drivers/net/usb/ drivers/net/hyperv/
  drivers/net/vmxnet3/ drivers/net/xen-netfront.ko
  drivers/net/ethernet/intel/{e100.ko,e1000/,e1000e/,igb/,igbvf/,igc/,ixgbe/,ixgbevf/}
  drivers/net/ethernet/broadcom/{tg3.ko,genet/,b44.ko,bcmsysport.ko} drivers/net/ethernet/realtek/
  drivers/net/ethernet/marvell/{mvneta.ko,mvpp2/,sky2.ko,skge.ko,mvmdio.ko} drivers/net/ethernet/stmicro/
  drivers/net/ethernet/amd/{pcnet32.ko,xgbe/} drivers/net/ethernet/atheros/ drivers/net/ethernet/freescale/fec
  drivers/net/ethernet/microchip/lan743x drivers/net/ethernet/smsc/ drivers/net/ethernet/ti/
  drivers/net/ethernet/{cadence,allwinner,mediatek,rockchip,socionext,google,amazon,microsoft,dec,8390,via,arc,faraday}/
  drivers/net/ethernet/jme.ko
  drivers/char/ drivers/rtc/ drivers/watchdog/ drivers/firmware/ drivers/acpi/ drivers/hv/ drivers/xen/xenfs/
  drivers/cpufreq/ drivers/thermal/ drivers/i2c/ drivers/gpio/ drivers/pinctrl/ drivers/clk/ drivers/phy/
  drivers/regulator/ drivers/reset/ drivers/soc/ drivers/mfd/ drivers/power/ drivers/dma/ drivers/tty/
  drivers/nvmem/ drivers/mailbox/ drivers/iommu/ drivers/bus/ drivers/pci/ drivers/irqchip/ drivers/spi/
  drivers/leds/ drivers/ptp/ drivers/pps/ drivers/dca/ drivers/base/ drivers/crypto/ drivers/pwm/
  drivers/hwmon/pwm-fan.ko drivers/hwmon/gpio-fan.ko
)
# Inside those: server and laptop parts, and tests (unless a kept module needs one).
drop=(
  lib/test_ net/netfilter/ipvs/ drivers/ata/pata_ drivers/char/ipmi/ drivers/acpi/nfit/ drivers/dma/idxd/
  drivers/crypto/{chelsio,qat,ccp,cavium,hisilicon,marvell,intel}/ drivers/power/supply/ drivers/base/regmap/regmap-sdw
  drivers/watchdog/mei_wdt
)
# One awk over the module list and modules.dep ("kernel/a.ko: kernel/b.ko ...", each module's needs,
# transitively): prints the modules to remove. (A shell loop per module takes minutes on a busy builder.)
to_re() { printf '%s\n' "$@" | sed -e 's/[.]/\\./g' -e 's/[*]/[^\/]*/g' -e 's/^/^kernel\//'; }
to_re "${keep[@]}" >"$M/.keep"
to_re "${drop[@]}" >"$M/.drop"
(cd "$M" && find kernel -name '*.ko*' | sort) >"$M/.all"
awk -v keepfile="$M/.keep" -v dropfile="$M/.drop" -v depfile="$M/modules.dep" '
  BEGIN {
    while ((getline re < keepfile) > 0) res[++nre] = re
    while ((getline re < dropfile) > 0) drops[++ndrop] = re
    while ((getline line < depfile) > 0) { split(line, kv, ":"); deps[kv[1]] = kv[2] }
  }
  {
    all[++n] = $0
    for (i = 1; i <= ndrop; i++) if ($0 ~ drops[i]) next
    for (i = 1; i <= nre; i++) if ($0 ~ res[i]) { want[$0] = 1; break }
  }
  END {
    for (m in want) { c = split(deps[m], d, " "); for (j = 1; j <= c; j++) extra[d[j]] = 1 }
    for (m in extra) want[m] = 1
    kept = 0
    for (i = 1; i <= n; i++) if (all[i] in want) kept++; else print all[i]
    printf "prune-root: kept %d of %d kernel modules\n", kept, n > "/dev/stderr"
  }' "$M/.all" >"$M/.remove"
(cd "$M" && xargs -r rm -f <.remove)
rm -f "$M"/.keep "$M"/.drop "$M"/.all "$M"/.remove
find "$M/kernel" -type d -empty -delete
depmod -b "$ROOT" "$KVER"

# ---- shared libraries nothing links any more ----------------------------------------------------------
# The roots: every ELF file outside the library directory, plus what is loaded by name (PAM and NSS
# modules, OpenSSL's providers, systemd's dlopen()ed helpers, libgcc_s for pthread_cancel, glibc's own),
# then the libraries those need, transitively. One readelf over all files, one awk.
LIBDIR="$(cd "$ROOT/usr/lib" && ls -d ./*-linux-gnu* | head -1)"
LIBDIR="${LIBDIR#./}"
(cd "$ROOT" && find usr/bin usr/sbin usr/libexec usr/lib -type f -size +1k -print0 | xargs -0 readelf -d 2>/dev/null || true) |
  awk -v libdir="usr/lib/$LIBDIR" '
    /^File: / { f = $2; next }
    /\(NEEDED\)/ { match($0, /\[[^]]*\]/); needs[f] = needs[f] " " substr($0, RSTART + 1, RLENGTH - 2) }
    /\(SONAME\)/ { match($0, /\[[^]]*\]/); so = substr($0, RSTART + 1, RLENGTH - 2); soname[f] = so; byname[so] = f }
    /\(NEEDED\)|\(SONAME\)|^$/ { seen[f] = 1 }
    END {
      for (f in seen) {
        inlib = index(f, libdir "/lib") == 1 && f !~ /\/(security|ossl-modules|systemd)\//
        by = soname[f]
        if (!inlib || by ~ /^(libnss_|libgcc_s|libidn2|libpcre2-8|libcryptsetup|liblz4|liblzma|libzstd|libseccomp|libkmod|libstdc\+\+|libc\.|libm\.|ld-linux|libresolv|libdl|libpthread|librt|libutil|libanl|libthread_db)/)
          root[++n] = f
      }
      while (n > 0) {
        f = root[n--]; if (f in done) continue; done[f] = 1
        c = split(needs[f], d, " ")
        for (j = 1; j <= c; j++) { need[d[j]] = 1; if (d[j] in byname) root[++n] = byname[d[j]] }
      }
      for (f in soname) if (index(f, libdir "/lib") == 1 && !(soname[f] in need) && !(f in done)) print f
    }' >"$ROOT/.unlinked"
# Each unlinked library file, and the symlinks naming it.
dropped=0
while IFS= read -r f; do
  for l in "$ROOT/$(dirname "$f")"/*; do [[ -L $l && $(readlink -f "$l") == "$ROOT/$f" ]] && rm -f "$l"; done
  rm -f "$ROOT/$f"; dropped=$((dropped + 1))
done <"$ROOT/.unlinked"
echo "prune-root: removed $dropped unlinked libraries: $(xargs -r -n1 basename <"$ROOT/.unlinked" | tr '\n' ' ')" >&2
rm -f "$ROOT/.unlinked"
