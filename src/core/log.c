// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dirty page log for live migration.
 *
 * Userspace hands us a bitmap (VHOST_SET_LOG_BASE) with one bit per 4 KiB
 * page of guest physical memory; while VHOST_F_LOG_ALL is acked, every
 * guest page the device writes gets its bit set, and the log eventfd
 * (VHOST_SET_LOG_FD) is signalled so that the VMM rescans.
 */
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/uaccess.h>
#include <linux/module.h>

#include "internal.h"

/* Is the part of the bitmap covering guest range [addr, addr + sz) ours? */
static bool vkt_log_range_ok(void __user *log_base, u64 addr, u64 sz)
{
	u64 first, last, base = (u64)(uintptr_t)log_base;

	if (!sz)
		return true;
	if (addr + sz - 1 < addr)
		return false;
	first = addr / VHOST_KT_LOG_PAGE / 8;
	last = (addr + sz - 1) / VHOST_KT_LOG_PAGE / 8;
	if (base + last < base || base + last > ULONG_MAX)
		return false;
	return access_ok(log_base + first, last - first + 1);
}

static bool vkt_umem_ok(void __user *log_base, struct vhost_kt_iotlb *umem,
			bool log_all)
{
	struct vhost_kt_map *map;

	if (!umem)
		return false;

	list_for_each_entry(map, &umem->list, link) {
		if (map->addr > ULONG_MAX || map->size > ULONG_MAX ||
		    map->addr + map->size - 1 < map->addr)
			return false;
		if (!access_ok((void __user *)(uintptr_t)map->addr, map->size))
			return false;
		if (log_all && !vkt_log_range_ok(log_base, map->start,
						 map->size))
			return false;
	}
	return true;
}

/*
 * Can every active vq use @umem (and, if logging, log all of it)?  Queues
 * without a backend are checked when one is set.  Takes each vq mutex.
 */
bool vhost_kt_umem_access_ok(struct vhost_kt_dev *dev,
			     struct vhost_kt_iotlb *umem, bool log_all)
{
	int i;

	/*
	 * No NULL check of @umem here: with no queue running (QEMU acks
	 * VHOST_F_LOG_ALL before its first VHOST_SET_MEM_TABLE when a device
	 * starts during migration) there is nothing to check yet.
	 */
	for (i = 0; i < dev->nvqs; i++) {
		struct vhost_kt_virtqueue *vq = dev->vqs[i];
		bool ok = true;

		mutex_lock(&vq->mutex);
		if (vq->private_data)
			ok = vkt_umem_ok(vq->log_base, umem,
					 log_all ||
					 vhost_kt_has_feature(vq, VHOST_F_LOG_ALL));
		mutex_unlock(&vq->mutex);
		if (!ok)
			return false;
	}
	return true;
}

bool vhost_kt_vq_log_used_access_ok(struct vhost_kt_virtqueue *vq,
				    void __user *log_base, bool log_used,
				    u64 log_addr)
{
	/* Under an IOTLB the used ring is logged through the memory table. */
	if (vq->dev->iotlb)
		return true;
	return !log_used ||
	       vkt_log_range_ok(log_base, log_addr,
				vhost_kt_used_size(vq, vq->num));
}

bool vhost_kt_vq_log_access_ok(struct vhost_kt_virtqueue *vq,
			       void __user *log_base)
{
	return vkt_umem_ok(log_base, vq->dev->umem,
			   vhost_kt_has_feature(vq, VHOST_F_LOG_ALL)) &&
	       vhost_kt_vq_log_used_access_ok(vq, log_base, vq->log_used,
					      vq->log_addr);
}

/**
 * vhost_kt_log_access_ok - can the current memory table be fully logged?
 * @dev: the device (caller holds dev->mutex; takes each vq mutex)
 *
 * Backends call this before acking VHOST_F_LOG_ALL.
 */
bool vhost_kt_log_access_ok(struct vhost_kt_dev *dev)
{
	return vhost_kt_umem_access_ok(dev, dev->umem, true);
}
EXPORT_SYMBOL_GPL(vhost_kt_log_access_ok);

/*
 * Set one bit of the user bitmap.  The page is pinned rather than written
 * with a user access because the bit must be set atomically: the VMM
 * clears bits concurrently while it migrates.
 */
static int vkt_set_bit_to_user(int nr, unsigned long uaddr)
{
	struct page *page;
	void *base;
	int bit = nr + (uaddr % PAGE_SIZE) * 8;
	int r;

	r = pin_user_pages_fast(uaddr, 1, FOLL_WRITE, &page);
	if (r < 0)
		return r;
	if (r != 1)
		return -EFAULT;
	base = kmap_local_page(page);
	set_bit(bit, base);
	kunmap_local(base);
	unpin_user_pages_dirty_lock(&page, 1, true);
	return 0;
}

static int vkt_log_write(void __user *log_base, u64 addr, u64 len)
{
	u64 page = addr / VHOST_KT_LOG_PAGE;
	u64 last_page;
	int r;

	if (!len)
		return 0;
	if (addr + len - 1 < addr)
		return -EFAULT;
	last_page = (addr + len - 1) / VHOST_KT_LOG_PAGE;

	for (; page <= last_page; page++) {
		u64 byte = (u64)(uintptr_t)log_base + page / 8;

		if (byte < page / 8 || (u64)(unsigned long)byte != byte)
			return -EFAULT;
		r = vkt_set_bit_to_user(page % 8, (unsigned long)byte);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Under an IOTLB, buffers were translated from IOVAs, so the GPA is lost:
 * find it again from the user address through the memory table.  Several
 * GPAs may alias one user address, so every overlapping entry is logged.
 */
static int vkt_log_write_hva(struct vhost_kt_virtqueue *vq, u64 hva, u64 len)
{
	struct vhost_kt_iotlb *umem = vq->dev->umem;
	struct vhost_kt_map *m;
	u64 last = hva + len - 1;
	bool hit = false;
	int r;

	if (!len)
		return 0;
	if (!umem || last < hva)
		return -EFAULT;

	list_for_each_entry(m, &umem->list, link) {
		u64 m_last = m->addr + m->size - 1;
		u64 start, end;

		if (m->addr > last || m_last < hva)
			continue;
		start = max(m->addr, hva);
		end = min(m_last, last);
		r = vkt_log_write(vq->log_base, m->start + (start - m->addr),
				  end - start + 1);
		if (r < 0)
			return r;
		hit = true;
	}
	return hit ? 0 : -EFAULT;
}

/*
 * Log a write to the used ring at byte @used_offset (when the ring was set
 * up with VHOST_VRING_F_LOG).  Caller holds vq->mutex.
 */
int vhost_kt_log_used(struct vhost_kt_virtqueue *vq, u64 used_offset, u64 len)
{
	struct iovec *iov = vq->log_iov;
	int i, n, r;

	if (!vq->dev->iotlb)
		return vkt_log_write(vq->log_base, vq->log_addr + used_offset,
				     len);

	n = vhost_kt_translate(vq, (u64)(uintptr_t)vq->used + used_offset, len,
			       iov, ARRAY_SIZE(vq->log_iov), VHOST_ACCESS_WO);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		r = vkt_log_write_hva(vq, (u64)(uintptr_t)iov[i].iov_base,
				      iov[i].iov_len);
		if (r < 0)
			return r;
	}
	return 0;
}

/**
 * vhost_kt_log_write - log the guest pages a request wrote
 * @vq: the queue (its mutex held)
 * @log: the log array filled by vhost_kt_get_vq_desc()
 * @log_num: entries in @log
 * @len: bytes the device actually wrote
 * @iov: the in-iovecs of the request (used under a device IOTLB)
 * @count: entries in @iov
 *
 * Signals the log eventfd once done.
 *
 * Return: 0 or -errno (the bitmap is not writable).
 */
int vhost_kt_log_write(struct vhost_kt_virtqueue *vq,
		       struct vhost_kt_log *log, unsigned int log_num, u64 len,
		       struct iovec *iov, int count)
{
	unsigned int i;
	int r;

	/* The data must be visible before the VMM sees the page dirty. */
	smp_wmb();

	if (vq->dev->iotlb) {
		for (i = 0; i < count; i++) {
			r = vkt_log_write_hva(vq, (u64)(uintptr_t)iov[i].iov_base,
					      iov[i].iov_len);
			if (r < 0)
				return r;
		}
		goto out;
	}

	for (i = 0; i < log_num && len; i++) {
		u64 l = min(log[i].len, len);

		r = vkt_log_write(vq->log_base, log[i].addr, l);
		if (r < 0)
			return r;
		len -= l;
	}
out:
	if (vq->log_ctx)
		vhost_kt_eventfd_signal(vq->log_ctx);
	return 0;
}
EXPORT_SYMBOL_GPL(vhost_kt_log_write);

/* VHOST_SET_LOG_BASE; caller holds dev->mutex and is the owner. */
long vhost_kt_set_log_base(struct vhost_kt_dev *dev, void __user *argp)
{
	void __user *base;
	long r = 0;
	u64 p;
	int i;

	if (copy_from_user(&p, argp, sizeof(p)))
		return -EFAULT;
	if ((u64)(unsigned long)p != p)
		return -EFAULT;
	base = (void __user *)(unsigned long)p;

	for (i = 0; i < dev->nvqs; i++) {
		struct vhost_kt_virtqueue *vq = dev->vqs[i];

		mutex_lock(&vq->mutex);
		/* A queue without a backend is checked when it gets one. */
		if (vq->private_data && !vhost_kt_vq_log_access_ok(vq, base))
			r = -EFAULT;
		else
			vq->log_base = base;
		mutex_unlock(&vq->mutex);
	}
	return r;
}

/* VHOST_SET_LOG_FD; caller holds dev->mutex and is the owner. */
long vhost_kt_set_log_fd(struct vhost_kt_dev *dev, void __user *argp)
{
	struct eventfd_ctx *ctx;
	int fd, i;

	if (get_user(fd, (int __user *)argp))
		return -EFAULT;
	ctx = fd == VHOST_FILE_UNBIND ? NULL : eventfd_ctx_fdget(fd);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);

	swap(ctx, dev->log_ctx);
	for (i = 0; i < dev->nvqs; i++) {
		mutex_lock(&dev->vqs[i]->mutex);
		dev->vqs[i]->log_ctx = dev->log_ctx;
		mutex_unlock(&dev->vqs[i]->mutex);
	}
	if (ctx)
		eventfd_ctx_put(ctx);
	return 0;
}
