# sipreg — build, run, test, bench, image. Targets as in CONTRACT.md; README names each one.
SHELL := /bin/bash
CONFIG ?= etc/sipreg.yaml
ARCH ?= $(shell node -p process.arch)

.PHONY: all build run test test-system bench image image-test deps test-deps typecheck clean soak-store

all: build

# npm ci only when package-lock.json is newer than the installed tree.
node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.package-lock.json

build: deps
	node image/build-binary.mjs --arch $(ARCH)

run: build
	mkdir -p var
	dist/sipreg run -c $(CONFIG) --data-dir var

# The apt tools the tests drive as real peers; installed only when missing.
TEST_TOOLS := sipp:sip-tester kamailio:kamailio sipsak:sipsak baresip:baresip tmux:tmux tshark:tshark
test-deps:
	@missing=""; for t in $(TEST_TOOLS); do command -v $${t%%:*} >/dev/null || missing="$$missing $${t##*:}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing test tools:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	fi

typecheck: deps
	npx tsc --noEmit -p .

test: deps test-deps typecheck build
	npx tap

# The store soak (issue 19, README "Store size"): ten minutes, 10,000 phones, data_dir on a 32 MiB tmpfs
# (needs root); prints its figures. Not part of `make test`, which runs a 40-second variant.
soak-store: deps test-deps build
	npx tap --timeout 1800 --reporter tap test/soak/store.soak.ts

bench: deps build test-deps
	mkdir -p bench/results
	bash bench/run.sh

image: build
	bash image/build-image.sh --arch $(ARCH)

image-test:
	bash image/test-image.sh

clean:
	rm -rf dist .tap
