/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers shared by the core's own files (dev.c, memory.c, vring.c, log.c).
 * Backends use src/core/vhost.h only.
 */
#ifndef _VHOST_KT_CORE_INTERNAL_H
#define _VHOST_KT_CORE_INTERNAL_H

#include "vhost.h"

/* Dirty log granularity: one bit per 4 KiB of guest memory, as upstream. */
#define VHOST_KT_LOG_PAGE	0x1000ULL

/* Ring part sizes for a queue of @num entries (EVENT_IDX adds a u16). */
static inline size_t vhost_kt_desc_size(struct vhost_kt_virtqueue *vq,
					unsigned int num)
{
	return sizeof(*vq->desc) * num;
}

static inline size_t vhost_kt_avail_size(struct vhost_kt_virtqueue *vq,
					 unsigned int num)
{
	size_t event = vhost_kt_has_feature(vq, VIRTIO_RING_F_EVENT_IDX) ? 2 : 0;

	return sizeof(*vq->avail) + sizeof(*vq->avail->ring) * num + event;
}

static inline size_t vhost_kt_used_size(struct vhost_kt_virtqueue *vq,
					unsigned int num)
{
	size_t event = vhost_kt_has_feature(vq, VIRTIO_RING_F_EVENT_IDX) ? 2 : 0;

	return sizeof(*vq->used) + sizeof(*vq->used->ring) * num + event;
}

/* Lock every vq of @dev (caller holds dev->mutex), for IOTLB changes. */
void vhost_kt_dev_lock_vqs(struct vhost_kt_dev *dev);
void vhost_kt_dev_unlock_vqs(struct vhost_kt_dev *dev);

/* memory.c */
void vhost_kt_iotlb_miss(struct vhost_kt_virtqueue *vq, u64 iova, int access);
void __user *vhost_kt_meta_cached(struct vhost_kt_virtqueue *vq,
				  const void __user *addr, unsigned int size,
				  int type);
void __user *vhost_kt_meta_uaddr(struct vhost_kt_virtqueue *vq,
				 const void __user *addr, unsigned int size,
				 int type, int access);
void vhost_kt_vq_meta_reset(struct vhost_kt_virtqueue *vq);
long vhost_kt_set_memory(struct vhost_kt_dev *dev,
			 struct vhost_memory __user *m);

/* log.c */
bool vhost_kt_umem_access_ok(struct vhost_kt_dev *dev,
			     struct vhost_kt_iotlb *umem, bool log_all);
bool vhost_kt_vq_log_access_ok(struct vhost_kt_virtqueue *vq,
			       void __user *log_base);
bool vhost_kt_vq_log_used_access_ok(struct vhost_kt_virtqueue *vq,
				    void __user *log_base, bool log_used,
				    u64 log_addr);
int vhost_kt_log_used(struct vhost_kt_virtqueue *vq, u64 used_offset,
		      u64 len);
long vhost_kt_set_log_base(struct vhost_kt_dev *dev, void __user *argp);
long vhost_kt_set_log_fd(struct vhost_kt_dev *dev, void __user *argp);

/* vring.c */
void vhost_kt_vq_reset(struct vhost_kt_virtqueue *vq);

int vhost_kt_translate_walk(struct vhost_kt_virtqueue *vq, u64 addr, u32 len,
			    struct iovec iov[], int iov_size, int access);

/**
 * vhost_kt_translate - map a guest buffer to user iovecs
 * @vq: the queue (its mutex held)
 * @addr: guest address (IOVA when the device IOTLB is on, else GPA)
 * @len: length in bytes
 * @iov: output array
 * @iov_size: entries available in @iov
 * @access: VHOST_ACCESS_RO or VHOST_ACCESS_WO
 *
 * Inline, and without a call when the buffer lies in the map the queue's
 * last buffer came from: this runs for every descriptor, and the checks
 * below are a fifth of the tree walk and call of vhost_kt_translate_walk().
 *
 * Return: number of iovecs used, -ENOBUFS if @iov is too small, -EFAULT if
 * part of the buffer is not in the memory table, -EPERM if a mapping lacks
 * @access, or -EAGAIN on an IOTLB miss (a MISS message is queued and the
 * queue is kicked again when userspace sends the UPDATE).
 */
static inline int vhost_kt_translate(struct vhost_kt_virtqueue *vq, u64 addr,
				     u32 len, struct iovec iov[], int iov_size,
				     int access)
{
	const struct vhost_kt_map *map = vq->last_map;

	/* addr <= map->last first: map->last - addr must not wrap. */
	if (likely(map && len && iov_size > 0 && addr >= map->start &&
		   addr <= map->last && map->last - addr >= len - 1 &&
		   (map->perm & access))) {
		iov[0].iov_base = (void __user *)(uintptr_t)
				  (map->addr + (addr - map->start));
		iov[0].iov_len = len;
		return 1;
	}
	return vhost_kt_translate_walk(vq, addr, len, iov, iov_size, access);
}

#endif /* _VHOST_KT_CORE_INTERNAL_H */
