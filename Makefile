# SPDX-License-Identifier: GPL-2.0-only
#
# vhost-kt: out-of-tree build of vhost_kt.ko.
#
#   make                      build for the running kernel (or KDIR / KERNELRELEASE)
#   make KERNELRELEASE=6.12.48+deb12-amd64
#   make KDIR=/path/to/kbuild-tree
#   make check                the test suite in QEMU guests (see tests/README.md)
#   make demo                 the end-to-end demo in a guest
#   make style                checkpatch over the sources
#   make sparse               build with sparse (C=2)

KERNELRELEASE ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KERNELRELEASE)/build
PWD := $(shell pwd)

.PHONY: all module module-debug clean install dkms-install check demo style sparse shell

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

demo:
	tests/vm/demo

shell:
	tests/vm/run-guest --shell $(if $(K),$(K),6.12)
