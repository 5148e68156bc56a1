/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * ABI of the test-only backend vhost_kt_test.ko (/dev/vhost-kt-test),
 * shared with the userspace driver tests/drivers/vring_test.c.
 *
 * The device speaks the ordinary vhost ioctls on two virtqueues.  Each
 * descriptor chain is answered by writing its device-readable bytes, XORed
 * with VHOST_KT_TEST_XOR, into its device-writable buffers: min(out, in)
 * bytes, which is also the length put in the used ring.  The driver can
 * so check that every byte crossed the ring both ways.
 *
 * The private ioctls use numbers far above anything upstream vhost has
 * allocated (upstream's own test device uses 0x31/0x32).
 */
#ifndef _VHOST_KT_TEST_H
#define _VHOST_KT_TEST_H

#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/vhost.h>

#define VHOST_KT_TEST_NVQS	2
#define VHOST_KT_TEST_XOR	0x5a

/*
 * Start (bit i set: queue i) or stop (0) the backend.  Starting checks the
 * ring addresses (-EFAULT), reads the used index (SET_VRING_BASE plus the
 * used->idx the driver left there) and processes what is already available.
 */
#define VHOST_KT_TEST_RUN	_IOW(VHOST_VIRTIO, 0xe1, int)

struct vhost_kt_test_stats {
	__u64 chains;		/* chains answered, all queues */
	__u64 bytes;		/* bytes written to device-writable buffers */
	__u64 errors;		/* chains the core refused */
	__s32 worker_tid;	/* thread that last ran a handler, 0 if none */
	__u32 padding;
};

#define VHOST_KT_TEST_GET_STATS	_IOR(VHOST_VIRTIO, 0xe2, struct vhost_kt_test_stats)

#endif /* _VHOST_KT_TEST_H */
