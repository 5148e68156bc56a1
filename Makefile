# SPDX-License-Identifier: GPL-2.0-only
#
# vhost-kt: out-of-tree build of vhost_kt.ko.
#
#   make                      build for the running kernel (or KDIR / KERNELRELEASE)
#   make KERNELRELEASE=6.12.48+deb12-amd64
#   make KDIR=/path/to/kbuild-tree
#   make check                the test suite in QEMU guests (see tests/README.md)
#   make demo                 the end-to-end demo in a guest
#   make fuzz                 the long random-seed fuzz run (6.12 guest, ~17 min;
#                             K=6.12-debug for the debug kernel)
#   make bench                benchmarks vs stock vhost_net (bench/results/)
#   make profile              instructions per kernel function, stock vs vhost-kt
#   make style                checkpatch and a sparse C=2 build (6.12), as TAP
#   make sparse               build with sparse (C=2) for KDIR
#   make install              modules_install into updates/, depmod, udev rule
#   make dkms-install         copy the sources to /usr/src, dkms add/build/install
#   make dkms-remove          undo dkms-install
#   make deb | rpm            vhost-kt-dkms packages in out/ (docs/install.md)

KERNELRELEASE ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KERNELRELEASE)/build
PWD := $(shell pwd)

.PHONY: all module module-debug clean install dkms-install check check-debug demo style sparse shell
.PHONY: dkms-remove deb rpm fuzz bench profile

all: module

module:
	$(MAKE) -C $(KDIR) M=$(PWD) modules

module-debug:
	$(MAKE) -C $(KDIR) M=$(PWD) ccflags-y+=-DDEBUG modules

sparse:
	$(MAKE) -C $(KDIR) M=$(PWD) C=2 CF="-D__CHECK_ENDIAN__" modules

clean:
	$(MAKE) -C $(KDIR) M=$(PWD) clean 2>/dev/null || \
		find . -name '*.o' -o -name '*.ko' -o -name '*.mod*' -o -name '.*.cmd' | xargs rm -f

check:
	tests/vm/run-tests all

# The suite on the 6.12 kernel built with KASAN, kmemleak, lockdep and UBSAN
# (tests/vm/debug-kernel builds it on first use, ~31 min of CPU time).
check-debug:
	VKT_NO_STYLE=1 tests/vm/run-tests 6.12-debug

# checkpatch (from Debian's linux-source) and a sparse build, as TAP.
style:
	tests/vm/style

demo:
	tests/vm/demo

# The seed is printed first; add it to tests/fuzz/regressions/ to replay.
# FUZZ_PARAMS=FILE: settings for tests/guest/fuzz-long.sh (a racing soak).
fuzz:
	tests/vm/build-module $(if $(K),$(K),6.12)
	VKT_GUEST_PARAMS=$(abspath $(FUZZ_PARAMS)) VKT_TEST_TIMEOUT=$(or $(FUZZ_TIMEOUT),1500) \
		tests/vm/run-guest $(if $(K),$(K),6.12) fuzz-long

# Benchmarks against stock vhost_net in a 6.12 guest (not part of check).
bench:
	bench/run

# Where the instructions go, per function, while bench_net runs (bench/profile).
profile:
	bench/profile

shell:
	tests/vm/run-guest --shell $(if $(K),$(K),6.12)

# --- Installing ---------------------------------------------------------------
# The version is the VERSION file's; packaging/build.sh fills it into
# dkms.conf, the Debian changelog and the RPM spec.
VERSION := $(shell cat VERSION)
# The release being installed for, from the tree built against (Debian's
# header packages carry the upstream version in include/config/kernel.release,
# which would send modules_install to the wrong /lib/modules directory).
INSTALL_KERNELRELEASE = $(or $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"/\1/p' \
	$(KDIR)/include/generated/utsrelease.h 2>/dev/null),$(KERNELRELEASE))
# Staged installs: make install INSTALL_MOD_PATH=/some/root
INSTALL_MOD_PATH ?=
UDEVRULESDIR ?= /etc/udev/rules.d
DKMS_SRC := /usr/src/vhost-kt-$(VERSION)
# Marks a DKMS_SRC made by dkms-install, which dkms-install/-remove may
# replace; a package's copy is left to the package manager.
DKMS_MARK := $(DKMS_SRC)/.installed-from-checkout
OUT ?= $(PWD)/out

# Header packages carry no private key, so there kbuild's signing would only
# print errors: sign only when the tree has the key (DKMS signs with its own).
MODULE_SIG_KEY = $(shell sed -n 's/^CONFIG_MODULE_SIG_KEY="\(.*\)"/\1/p' $(KDIR)/.config 2>/dev/null)
INSTALL_NOSIGN = $(if $(filter pkcs11:%,$(MODULE_SIG_KEY))$(wildcard $(MODULE_SIG_KEY) \
	$(KDIR)/$(MODULE_SIG_KEY)),,CONFIG_MODULE_SIG_ALL=)

# kbuild only runs depmod when the tree has a System.map, which header
# packages do not ship, so depmod is run here.
install: module
	$(MAKE) -C $(KDIR) M=$(PWD) KERNELRELEASE=$(INSTALL_KERNELRELEASE) $(INSTALL_NOSIGN) \
		INSTALL_MOD_PATH=$(INSTALL_MOD_PATH) INSTALL_MOD_DIR=updates modules_install
	depmod $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) $(INSTALL_KERNELRELEASE)
	install -D -m 0644 packaging/udev/60-vhost-kt.rules \
		$(INSTALL_MOD_PATH)$(UDEVRULESDIR)/60-vhost-kt.rules

dkms-install: dkms-remove
	@if [ -e $(DKMS_SRC) ]; then \
		echo "$(DKMS_SRC) belongs to a package; remove that first" >&2; exit 1; fi
	packaging/build.sh dkms-tree $(DKMS_SRC)
	touch $(DKMS_MARK)
	dkms add -m vhost-kt -v $(VERSION)
	dkms build -m vhost-kt -v $(VERSION) -k $(INSTALL_KERNELRELEASE) --kernelsourcedir=$(KDIR)
	dkms install -m vhost-kt -v $(VERSION) -k $(INSTALL_KERNELRELEASE)
	install -D -m 0644 packaging/udev/60-vhost-kt.rules $(UDEVRULESDIR)/60-vhost-kt.rules

# Only what dkms-install made: a packaged vhost-kt is left alone.
dkms-remove:
	@if [ -e $(DKMS_MARK) ]; then \
		if [ -n "$$(dkms status -m vhost-kt -v $(VERSION))" ]; then \
			echo "dkms remove -m vhost-kt -v $(VERSION) --all"; \
			dkms remove -m vhost-kt -v $(VERSION) --all || exit 1; \
		fi; \
		echo "rm -rf $(DKMS_SRC)"; rm -rf $(DKMS_SRC); \
		if cmp -s packaging/udev/60-vhost-kt.rules $(UDEVRULESDIR)/60-vhost-kt.rules; then \
			echo "rm -f $(UDEVRULESDIR)/60-vhost-kt.rules"; \
			rm -f $(UDEVRULESDIR)/60-vhost-kt.rules; \
		fi; \
	fi

deb:
	packaging/build.sh deb $(OUT)

rpm:
	packaging/build.sh rpm $(OUT)
