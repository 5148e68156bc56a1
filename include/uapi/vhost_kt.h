/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * vhost-kt userspace ABI.
 *
 * vhost-kt speaks the upstream vhost ABI unchanged; this header only adds
 * the worker-mode ioctls for kernels whose <linux/vhost.h> predates them,
 * and names the pre-release numbers that some stable kernels shipped, which
 * vhost-kt also accepts so that tools built against those kernels work.
 */
#ifndef _UAPI_VHOST_KT_H
#define _UAPI_VHOST_KT_H

#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/vhost.h>

#ifndef VHOST_FORK_OWNER_KTHREAD
/* Worker is a kernel thread using the owner's mm and cgroups (pre-6.4). */
#define VHOST_FORK_OWNER_KTHREAD 0
/* Worker is a vhost_task: a thread of the owner process (6.4+). */
#define VHOST_FORK_OWNER_TASK 1
#endif

#ifndef VHOST_SET_FORK_FROM_OWNER
#define VHOST_SET_FORK_FROM_OWNER _IOW(VHOST_VIRTIO, 0x84, __u8)
#define VHOST_GET_FORK_FROM_OWNER _IOR(VHOST_VIRTIO, 0x85, __u8)
#endif

/*
 * Worker ioctls (Linux 6.5+); older <linux/vhost.h> lacks them.  Same
 * layouts and numbers as upstream: 0x8004af08, 0x4004af09, 0x4008af15,
 * 0xc008af16.
 */
#ifndef VHOST_NEW_WORKER
struct vhost_worker_state {
	/* NEW_WORKER: the id of the new worker; FREE_WORKER: the one to free. */
	unsigned int worker_id;
};

struct vhost_vring_worker {
	unsigned int index;		/* vring index */
	unsigned int worker_id;
};

#define VHOST_NEW_WORKER _IOR(VHOST_VIRTIO, 0x8, struct vhost_worker_state)
#define VHOST_FREE_WORKER _IOW(VHOST_VIRTIO, 0x9, struct vhost_worker_state)
#define VHOST_ATTACH_VRING_WORKER _IOW(VHOST_VIRTIO, 0x15,		\
				       struct vhost_vring_worker)
#define VHOST_GET_VRING_WORKER _IOWR(VHOST_VIRTIO, 0x16,		\
				     struct vhost_vring_worker)
#endif

/*
 * The numbers of the first merged version (and of the v3 series'
 * VHOST_SET_INHERIT_FROM_OWNER), kept because some 6.12.y/6.16.y stable
 * kernels shipped them.  0x83 as _IOW(__u8) does not collide with
 * VHOST_SET_FEATURES_ARRAY, which has a different size and direction.
 */
#define VHOST_KT_SET_FORK_FROM_OWNER_OLD _IOW(VHOST_VIRTIO, 0x83, __u8)
#define VHOST_KT_GET_FORK_FROM_OWNER_OLD _IOR(VHOST_VIRTIO, 0x84, __u8)

/*
 * The final numbers under our own names: a <linux/vhost.h> from one of those
 * stable kernels defines VHOST_SET/GET_FORK_FROM_OWNER with the old numbers,
 * so code that must tell the two apart uses these.
 */
#define VHOST_KT_SET_FORK_FROM_OWNER _IOW(VHOST_VIRTIO, 0x84, __u8)
#define VHOST_KT_GET_FORK_FROM_OWNER _IOR(VHOST_VIRTIO, 0x85, __u8)

/*
 * Feature bits beyond 64 (Linux 6.17+): a __u64 count followed by count
 * words of features.  Defined by size rather than by struct
 * vhost_features_array so that this header also builds where
 * <linux/vhost_types.h> has that struct.
 */
#ifdef VHOST_GET_FEATURES_ARRAY
#define VHOST_KT_GET_FEATURES_ARRAY VHOST_GET_FEATURES_ARRAY
#define VHOST_KT_SET_FEATURES_ARRAY VHOST_SET_FEATURES_ARRAY
#else
#define VHOST_KT_GET_FEATURES_ARRAY _IOR(VHOST_VIRTIO, 0x83, __u64)
#define VHOST_KT_SET_FEATURES_ARRAY _IOW(VHOST_VIRTIO, 0x83, __u64)
#endif

#endif /* _UAPI_VHOST_KT_H */
