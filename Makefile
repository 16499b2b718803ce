# sipreg — build, run, test, bench, image. Targets as in CONTRACT.md; README names each one.
SHELL := /bin/bash
CONFIG ?= etc/sipreg.yaml
DATA ?= var
ARCH ?= $(shell node -p process.arch)
# A firmware build's version (default package.json's) and the Ed25519 key its bundle is signed with
# (default: a development key made in image/keys/). docs/operations.md "Firmware".
VERSION ?=
FW_KEY ?=
export SIPREG_VERSION = $(VERSION)
export SIPREG_FW_KEY = $(FW_KEY)

.PHONY: all build build-cross run install test test-system bench image image-test image-test-small image-powercut firmware-bundle image-firmware-test deps test-deps typecheck clean soak-store

all: build

# npm ci only when package-lock.json is newer than the installed tree.
node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.package-lock.json

# The binary, then its man page and bash completion, generated from the command table (src/cli/help.ts).
build: deps
	node image/build-binary.mjs --arch $(ARCH)
	node dist/sipreg.cjs help --man >dist/sipreg.1
	node dist/sipreg.cjs help --bash-completion >dist/sipreg.bash-completion

run: build
	mkdir -p $(DATA)
	@printf '%s\n' '' \
	  'sipreg runs below (Ctrl-C stops it): config $(CONFIG), store $(DATA). In another terminal, try:' \
	  '  dist/sipreg list -c $(CONFIG) --data-dir $(DATA)       # registrations (also: stats, events, trunks)' \
	  '  dist/sipreg console -c $(CONFIG) --data-dir $(DATA)    # the operator console' \
	  '  sipsak -U -s sip:1001@127.0.0.1 -u 1001 -a change-me -x 600   # register phone 1001 (apt install sipsak)' \
	  ''
	dist/sipreg run -c $(CONFIG) --data-dir $(DATA)

# On a plain Debian host: `sudo make install` (PREFIX=/usr/local for another prefix; DESTDIR=DIR stages into
# DIR). An existing /etc/sipreg/sipreg.yaml is kept; the example then lands beside it as sipreg.yaml.example.
# The user comes from systemd-sysusers and the config directory's mode from systemd-tmpfiles, both run on
# DESTDIR (NOSETUP=1 skips them, for packagers). The unit, sysusers and tmpfiles files go where systemd
# looks for them, whatever PREFIX is.
PREFIX ?= /usr
DESTDIR ?=
UNITDIR := /usr/lib/systemd/system
SYSUSERSDIR := /usr/lib/sysusers.d
TMPFILESDIR := /usr/lib/tmpfiles.d
install: build
	install -D -m 0755 dist/sipreg $(DESTDIR)$(PREFIX)/bin/sipreg
	install -D -m 0644 dist/sipreg.1 $(DESTDIR)$(PREFIX)/share/man/man1/sipreg.1
	install -D -m 0644 dist/sipreg.bash-completion $(DESTDIR)$(PREFIX)/share/bash-completion/completions/sipreg
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/sipreg/README.md
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/doc/sipreg/docs docs/behaviour.md docs/operations.md
	install -d -m 0755 $(DESTDIR)$(UNITDIR)
	sed -e 's|/usr/bin/sipreg|$(PREFIX)/bin/sipreg|g' -e 's|/usr/share/doc/sipreg|$(PREFIX)/share/doc/sipreg|g' \
	  systemd/sipreg.service >$(DESTDIR)$(UNITDIR)/sipreg.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/sipreg.service
	install -D -m 0644 packaging/sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/sipreg.conf
	install -D -m 0644 packaging/tmpfiles.conf $(DESTDIR)$(TMPFILESDIR)/sipreg.conf
	install -d -m 0750 $(DESTDIR)/etc/sipreg
	@if [ -e $(DESTDIR)/etc/sipreg/sipreg.yaml ]; then \
	  install -m 0640 etc/sipreg.yaml $(DESTDIR)/etc/sipreg/sipreg.yaml.example; \
	  echo "kept $(DESTDIR)/etc/sipreg/sipreg.yaml; the new example is sipreg.yaml.example beside it"; \
	else \
	  echo "install -m 0640 etc/sipreg.yaml $(DESTDIR)/etc/sipreg/sipreg.yaml"; \
	  install -m 0640 etc/sipreg.yaml $(DESTDIR)/etc/sipreg/sipreg.yaml; \
	fi
	@if [ "$(NOSETUP)" != 1 ]; then \
	  set -e; root='$(if $(DESTDIR),$(abspath $(DESTDIR)),/)'; \
	  echo "systemd-sysusers --root=$$root sipreg.conf; systemd-tmpfiles --create --root=$$root sipreg.conf"; \
	  systemd-sysusers --root="$$root" sipreg.conf; \
	  systemd-tmpfiles --create --root="$$root" sipreg.conf; \
	  if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	fi
	@printf '%s\n' 'installed. Next:' \
	  '  edit /etc/sipreg/sipreg.yaml, then: sipreg check' \
	  '  systemctl enable --now sipreg; journalctl -u sipreg -f' \
	  '  usermod -aG sipreg NAME   # lets NAME run sipreg list, console, ... (log in again)'

# The apt tools the tests drive as real peers; installed only when missing.
TEST_TOOLS := sipp:sip-tester kamailio:kamailio sipsak:sipsak baresip:baresip tmux:tmux tshark:tshark strace:strace \
  qemu-aarch64-static:qemu-user-static aarch64-linux-gnu-strip:binutils-aarch64-linux-gnu \
  arm-linux-gnueabihf-strip:binutils-arm-linux-gnueabihf
# test/image/foreign-arch.test.ts runs the arm64 and armv7 builds under qemu-user against these sysroots.
TEST_FILES := /usr/aarch64-linux-gnu/lib/libc.so.6:libc6-arm64-cross \
  /usr/aarch64-linux-gnu/lib/libstdc++.so.6:libstdc++6-arm64-cross /usr/aarch64-linux-gnu/lib/libgcc_s.so.1:libgcc-s1-arm64-cross \
  /usr/arm-linux-gnueabihf/lib/libc.so.6:libc6-armhf-cross /usr/arm-linux-gnueabihf/lib/libstdc++.so.6:libstdc++6-armhf-cross \
  /usr/arm-linux-gnueabihf/lib/libgcc_s.so.1:libgcc-s1-armhf-cross /usr/arm-linux-gnueabihf/lib/libatomic.so.1:libatomic1-armhf-cross
test-deps:
	@missing=""; for t in $(TEST_TOOLS); do command -v $${t%%:*} >/dev/null || missing="$$missing $${t##*:}"; done; \
	for f in $(TEST_FILES); do [ -e $${f%%:*} ] || missing="$$missing $${f##*:}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing test tools:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	fi

typecheck: deps
	npx tsc --noEmit -p .

# The other architectures' builds that test/image/foreign-arch.test.ts runs under qemu-user, in dist/cross/
# (dist/sipreg stays this host's). The first time downloads their Node and lmdb addon into image/cache/.
CROSS_ARCHS := $(filter-out $(shell node -p process.arch 2>/dev/null),arm64 arm)
build-cross: deps
	@for a in $(CROSS_ARCHS); do node image/build-binary.mjs --arch $$a --dist dist/cross || exit 1; done

test: deps test-deps typecheck build build-cross
	npx tap

# The store soak (issue 19, docs/operations.md "Store size"): ten minutes, 10,000 phones, data_dir on a 32 MiB tmpfs
# (needs root); prints its figures. Not part of `make test`, which runs a 40-second variant.
soak-store: deps test-deps build
	npx tap --timeout 1800 --reporter tap test/soak/store.soak.ts

bench: deps build test-deps
	mkdir -p bench/results
	bash bench/run.sh

image: build
	bash image/build-image.sh --arch $(ARCH)

image-test:
	bash image/test-image.sh --arch $(ARCH)

# The image with 256 MiB of RAM (issue 17): 10,000 phones registered with SIPp through the forwarded port,
# NAT keepalive running, no OOM kill, RSS and boot-to-SIP figures, and the watchdog restarting a stopped
# service (image/test-small.sh). 10-15 minutes for x64 under TCG.
image-test-small:
	bash image/test-small.sh --arch $(ARCH)
# image/out/sipreg-<arch>-<version>.fw: the signed bundle `sipreg firmware install` takes; made with the image.
firmware-bundle: image

# Firmware update under QEMU (issue 18): versions N and N+1 built, N booted, phones register, N+1 installed
# and booted, a broken N+2 rolled back by boot counting; bad bundles refused. About 30-45 minutes (TCG).
image-firmware-test:
	bash image/test-firmware.sh

# Power cuts under QEMU (issue 14): SIGKILL at random moments of phone traffic, then every acknowledged change
# and expiry checked. About 10-20 minutes (six TCG boots).
image-powercut:
	bash image/test-powercut.sh

clean:
	rm -rf dist .tap
