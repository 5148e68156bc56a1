// SPDX-License-Identifier: GPL-2.0-only
/*
 * Split virtqueues: the ring accessors the backends use from their worker
 * (descriptor chains in, used elements out, guest notification).  The
 * per-ring ioctls are in vq.c.
 *
 * The rings live in guest memory, which the guest changes under our feet:
 * every index and length read from it is checked before use, and every
 * access goes through the uaccess helpers on a user address of the owner,
 * so a bad ring costs the guest its queue, never the host anything.
 */
#include <linux/uaccess.h>
#include <linux/module.h>

#include "internal.h"

/* The event-index fields sit just past each ring's entries. */
static inline __virtio16 __user *vkt_used_event(struct vhost_kt_virtqueue *vq)
{
	return (__virtio16 __user *)&vq->avail->ring[vq->num];
}

static inline __virtio16 __user *vkt_avail_event(struct vhost_kt_virtqueue *vq)
{
	return (__virtio16 __user *)&vq->used->ring[vq->num];
}

/* ---- guest memory accessors ---- */

/*
 * Without a device IOTLB the ring addresses are user addresses, and once
 * vq->rings_checked says they passed access_ok() the unchecked uaccess
 * helpers are used, as in stock vhost: the checked ones cost an
 * out-of-line call, the range check and a speculation barrier on every
 * ring field, a measurable share of a descriptor's cost.  A queue whose
 * rings were not checked (no backend yet: busy polling still looks at the
 * other queue of the pair) still gets a check.  Under an IOTLB the fields
 * are translated first (vhost_kt_meta_uaddr()).
 *
 * An unchecked ring's 16-bit fields get access_ok() and the unchecked
 * helper: the check get_user() makes, without its out-of-line call.
 */
static noinline int vkt_get16_slow(struct vhost_kt_virtqueue *vq,
				   __virtio16 *val,
				   const __virtio16 __user *p, int type)
{
	const __virtio16 __user *u = p;

	if (unlikely(vq->dev->iotlb)) {
		u = vhost_kt_meta_uaddr(vq, p, sizeof(*p), type,
					VHOST_ACCESS_RO);
		if (!u)
			return -EFAULT;
	} else if (likely(vq->rings_checked)) {
		return __get_user(*val, p);
	}
	if (!access_ok(u, sizeof(*u)))
		return -EFAULT;
	return __get_user(*val, u);
}

/* Inline for the common case: a call costs as much as the read itself. */
static __always_inline int vkt_get16(struct vhost_kt_virtqueue *vq,
				     __virtio16 *val,
				     const __virtio16 __user *p, int type)
{
	if (likely(vq->rings_checked && !vq->dev->iotlb))
		return __get_user(*val, p);
	return vkt_get16_slow(vq, val, p, type);
}

static int vkt_put16(struct vhost_kt_virtqueue *vq, __virtio16 val,
		     __virtio16 __user *p, int type)
{
	__virtio16 __user *u = p;

	if (unlikely(vq->dev->iotlb)) {
		u = vhost_kt_meta_uaddr(vq, p, sizeof(*p), type,
					VHOST_ACCESS_WO);
		if (!u)
			return -EFAULT;
	} else if (likely(vq->rings_checked)) {
		return __put_user(val, p);
	}
	if (!access_ok(u, sizeof(*u)))
		return -EFAULT;
	return __put_user(val, u);
}

/* Copy a ring area that may span several IOTLB entries. */
static int vkt_copy_iotlb(struct vhost_kt_virtqueue *vq, void *buf,
			  const void __user *p, unsigned int size, int type,
			  int access)
{
	void __user *u;
	size_t done = 0;
	int n, i;

	u = vhost_kt_meta_cached(vq, p, size, type);
	if (u) {
		if (access == VHOST_ACCESS_RO)
			return copy_from_user(buf, u, size) ? -EFAULT : 0;
		return copy_to_user(u, buf, size) ? -EFAULT : 0;
	}

	n = vhost_kt_translate(vq, (u64)(uintptr_t)p, size, vq->iotlb_iov,
			       ARRAY_SIZE(vq->iotlb_iov), access);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		struct iovec *iov = &vq->iotlb_iov[i];
		unsigned long left;

		if (access == VHOST_ACCESS_RO)
			left = copy_from_user(buf + done, iov->iov_base,
					      iov->iov_len);
		else
			left = copy_to_user(iov->iov_base, buf + done,
					    iov->iov_len);
		if (left)
			return -EFAULT;
		done += iov->iov_len;
	}
	return 0;
}

static int vkt_get_desc(struct vhost_kt_virtqueue *vq, struct vring_desc *desc,
			unsigned int i)
{
	const void __user *p = vq->desc + i;

	if (likely(!vq->dev->iotlb)) {
		if (likely(vq->rings_checked))
			return __copy_from_user(desc, p, sizeof(*desc)) ?
			       -EFAULT : 0;
		return copy_from_user(desc, p, sizeof(*desc)) ? -EFAULT : 0;
	}
	return vkt_copy_iotlb(vq, desc, p, sizeof(*desc), VHOST_KT_ADDR_DESC,
			      VHOST_ACCESS_RO);
}

static int vkt_put_used_elems(struct vhost_kt_virtqueue *vq,
			      struct vring_used_elem *heads,
			      unsigned int start, unsigned int count)
{
	void __user *p = vq->used->ring + start;
	unsigned int size = count * sizeof(*heads);

	if (likely(!vq->dev->iotlb)) {
		if (likely(vq->rings_checked))
			return __copy_to_user(p, heads, size) ? -EFAULT : 0;
		return copy_to_user(p, heads, size) ? -EFAULT : 0;
	}
	return vkt_copy_iotlb(vq, heads, p, size, VHOST_KT_ADDR_USED,
			      VHOST_ACCESS_WO);
}

static int vkt_update_used_flags(struct vhost_kt_virtqueue *vq)
{
	if (vkt_put16(vq, cpu_to_vhost16(vq, vq->used_flags),
		      &vq->used->flags, VHOST_KT_ADDR_USED))
		return -EFAULT;
	if (unlikely(vq->log_used)) {
		/* The flags must be visible before the page is logged. */
		smp_wmb();
		vhost_kt_log_used(vq, offsetof(struct vring_used, flags),
				  sizeof(vq->used->flags));
		if (vq->log_ctx)
			vhost_kt_eventfd_signal(vq->log_ctx);
	}
	return 0;
}

static int vkt_update_avail_event(struct vhost_kt_virtqueue *vq)
{
	if (vkt_put16(vq, cpu_to_vhost16(vq, vq->avail_idx),
		      vkt_avail_event(vq), VHOST_KT_ADDR_USED))
		return -EFAULT;
	if (unlikely(vq->log_used)) {
		/* The event index must be visible before it is logged. */
		smp_wmb();
		vhost_kt_log_used(vq, (void __user *)vkt_avail_event(vq) -
				      (void __user *)vq->used,
				  sizeof(__virtio16));
		if (vq->log_ctx)
			vhost_kt_eventfd_signal(vq->log_ctx);
	}
	return 0;
}

/*
 * Refresh vq->avail_idx from the guest.
 * Return: 1 if the guest made entries available since the last refresh,
 * 0 if not, -errno.  Since the last refresh, not beyond last_avail_idx:
 * chains a handler took and gave back (RX: a packet that did not fit in
 * what the guest had posted) are no reason to try again before the guest
 * adds more; answering "yes" for them made vhost_kt_enable_notify() send
 * RX round the same chains until the guest caught up.
 */
static int vkt_fetch_avail_idx(struct vhost_kt_virtqueue *vq)
{
	__virtio16 idx;
	u16 new;
	int r;

	r = vkt_get16(vq, &idx, &vq->avail->idx, VHOST_KT_ADDR_AVAIL);
	if (unlikely(r)) {
		vq_err(vq, "cannot read avail idx at %p\n", &vq->avail->idx);
		return r;
	}
	new = vhost16_to_cpu(vq, idx);
	/* The guest cannot have made more than a ring's worth available. */
	if (unlikely((u16)(new - vq->last_avail_idx) > vq->num)) {
		vq_err(vq, "avail idx moved from %u to %u (ring of %u)\n",
		       vq->last_avail_idx, new, vq->num);
		return -EINVAL;
	}
	if (new == vq->avail_idx)
		return 0;
	vq->avail_idx = new;
	/* Ring entries must be read after the index that published them. */
	smp_rmb();
	return 1;
}

/* ---- starting a queue ---- */

static void vkt_init_is_le(struct vhost_kt_virtqueue *vq)
{
#ifdef CONFIG_VHOST_CROSS_ENDIAN_LEGACY
	vq->is_le = vhost_kt_has_feature(vq, VIRTIO_F_VERSION_1) ||
		    !vq->user_be;
#else
	vq->is_le = vhost_kt_has_feature(vq, VIRTIO_F_VERSION_1) ||
		    virtio_legacy_is_little_endian();
#endif
}

/**
 * vhost_kt_vq_init_access - start using the rings
 * @vq: the queue (its mutex held, private_data just set)
 *
 * Fixes the ring endianness from the acked features, writes the used
 * flags and reads the used index the guest left.
 *
 * Return: 0 or -EFAULT.
 */
int vhost_kt_vq_init_access(struct vhost_kt_virtqueue *vq)
{
	bool is_le = vq->is_le;
	__virtio16 idx;
	int r;

	if (!vq->private_data)
		return 0;

	vkt_init_is_le(vq);

	r = vkt_update_used_flags(vq);
	if (r)
		goto err;
	vq->signalled_used_valid = false;
	r = vkt_get16(vq, &idx, &vq->used->idx, VHOST_KT_ADDR_USED);
	if (r) {
		vq_err(vq, "cannot read used idx at %p\n", &vq->used->idx);
		goto err;
	}
	vq->last_used_idx = vhost16_to_cpu(vq, idx);
	return 0;
err:
	vq->is_le = is_le;
	return r;
}
EXPORT_SYMBOL_GPL(vhost_kt_vq_init_access);

/* ---- descriptor chains ---- */

/* Next index in a chain, or -1 at its end. */
static int vkt_next_desc(struct vhost_kt_virtqueue *vq, struct vring_desc *desc)
{
	if (!(desc->flags & cpu_to_vhost16(vq, VRING_DESC_F_NEXT)))
		return -1;
	return vhost16_to_cpu(vq, READ_ONCE(desc->next));
}

/*
 * Translate one descriptor's buffer and account it as in or out.  Inlined
 * into its two callers: as a call of its own it was one more call level
 * per descriptor than stock vhost has.
 */
static __always_inline int
vkt_add_desc(struct vhost_kt_virtqueue *vq, struct vring_desc *desc,
	     struct iovec iov[], unsigned int iov_size, unsigned int *out_num,
	     unsigned int *in_num, struct vhost_kt_log *log,
	     unsigned int *log_num)
{
	unsigned int iov_count = *in_num + *out_num;
	u64 addr = vhost64_to_cpu(vq, desc->addr);
	u32 len = vhost32_to_cpu(vq, desc->len);
	bool write = desc->flags & cpu_to_vhost16(vq, VRING_DESC_F_WRITE);
	int ret;

	ret = vhost_kt_translate(vq, addr, len, iov + iov_count,
				 iov_size - iov_count,
				 write ? VHOST_ACCESS_WO : VHOST_ACCESS_RO);
	if (unlikely(ret < 0)) {
		if (ret != -EAGAIN)
			vq_err(vq, "cannot translate buffer 0x%llx+%u: %d\n",
			       addr, len, ret);
		return ret;
	}

	if (write) {
		*in_num += ret;
		if (unlikely(log && ret)) {
			log[*log_num].addr = addr;
			log[*log_num].len = len;
			++*log_num;
		}
	} else {
		/* Device-readable buffers must all precede writable ones. */
		if (unlikely(*in_num)) {
			vq_err(vq, "readable descriptor after a writable one\n");
			return -EINVAL;
		}
		*out_num += ret;
	}
	return 0;
}

/* Read entry @i of an indirect table already translated to vq->indirect. */
static int vkt_read_indirect(struct vhost_kt_virtqueue *vq, int nseg,
			     unsigned int i, struct vring_desc *desc)
{
	size_t off = (size_t)i * sizeof(*desc), done = 0;
	int s;

	for (s = 0; s < nseg && done < sizeof(*desc); s++) {
		size_t seg = vq->indirect[s].iov_len, n;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		n = min(seg - off, sizeof(*desc) - done);
		if (copy_from_user((u8 *)desc + done,
				   vq->indirect[s].iov_base + off, n))
			return -EFAULT;
		done += n;
		off = 0;
	}
	return done == sizeof(*desc) ? 0 : -EFAULT;
}

static int vkt_get_indirect(struct vhost_kt_virtqueue *vq,
			    struct iovec iov[], unsigned int iov_size,
			    unsigned int *out_num, unsigned int *in_num,
			    struct vhost_kt_log *log, unsigned int *log_num,
			    struct vring_desc *indirect)
{
	u32 len = vhost32_to_cpu(vq, indirect->len);
	unsigned int count, found = 0;
	struct vring_desc desc;
	int nseg, ret, i = 0;

	if (unlikely(len % sizeof(desc))) {
		vq_err(vq, "indirect table length %u is not a multiple of %zu\n",
		       len, sizeof(desc));
		return -EINVAL;
	}
	count = len / sizeof(desc);
	/* Chains link through a 16-bit index, so no table can be longer. */
	if (unlikely(count > USHRT_MAX + 1)) {
		vq_err(vq, "indirect table of %u entries\n", count);
		return -E2BIG;
	}
	if (unlikely(!count || !vq->indirect)) {
		vq_err(vq, "empty indirect table\n");
		return -EINVAL;
	}

	nseg = vhost_kt_translate(vq, vhost64_to_cpu(vq, indirect->addr), len,
				  vq->indirect, UIO_MAXIOV, VHOST_ACCESS_RO);
	if (unlikely(nseg < 0)) {
		if (nseg != -EAGAIN)
			vq_err(vq, "cannot translate indirect table: %d\n",
			       nseg);
		return nseg;
	}

	do {
		if (unlikely(i >= count)) {
			vq_err(vq, "indirect index %d beyond table of %u\n",
			       i, count);
			return -EINVAL;
		}
		if (unlikely(++found > count)) {
			vq_err(vq, "loop in indirect table of %u\n", count);
			return -EINVAL;
		}
		if (unlikely(vkt_read_indirect(vq, nseg, i, &desc))) {
			vq_err(vq, "cannot read indirect descriptor %d\n", i);
			return -EINVAL;
		}
		if (unlikely(desc.flags &
			     cpu_to_vhost16(vq, VRING_DESC_F_INDIRECT))) {
			vq_err(vq, "nested indirect descriptor %d\n", i);
			return -EINVAL;
		}
		ret = vkt_add_desc(vq, &desc, iov, iov_size, out_num, in_num,
				   log, log_num);
		if (unlikely(ret))
			return ret;
	} while ((i = vkt_next_desc(vq, &desc)) != -1);
	return 0;
}

/**
 * vhost_kt_get_vq_desc - take the next available descriptor chain
 * @vq: the queue (its mutex held)
 * @iov: filled with the chain's buffers, readable ones first
 * @iov_size: entries in @iov
 * @out_num: set to the number of device-readable iovecs
 * @in_num: set to the number of device-writable iovecs
 * @log: if not NULL, filled with the writable guest ranges for dirty logging
 *	 (at least @iov_size entries, e.g. vq->log)
 * @log_num: set to the entries used in @log
 *
 * Return: the head index to pass to vhost_kt_add_used(), vq->num if the
 * ring is empty, -EAGAIN on an IOTLB miss, or another -errno if the chain
 * is malformed (the error eventfd is signalled).
 */
int vhost_kt_get_vq_desc(struct vhost_kt_virtqueue *vq,
			 struct iovec iov[], unsigned int iov_size,
			 unsigned int *out_num, unsigned int *in_num,
			 struct vhost_kt_log *log, unsigned int *log_num)
{
	u16 last_avail_idx = vq->last_avail_idx;
	unsigned int i, head, found = 0;
	struct vring_desc desc;
	__virtio16 ring_head;
	int ret;

	if (vq->avail_idx == last_avail_idx) {
		ret = vkt_fetch_avail_idx(vq);
		if (unlikely(ret < 0))
			return ret;
		if (!ret)
			return vq->num;
	}

	ret = vkt_get16(vq, &ring_head,
			&vq->avail->ring[last_avail_idx & (vq->num - 1)],
			VHOST_KT_ADDR_AVAIL);
	if (unlikely(ret)) {
		vq_err(vq, "cannot read avail ring entry %u\n", last_avail_idx);
		return -EFAULT;
	}
	head = vhost16_to_cpu(vq, ring_head);
	if (unlikely(head >= vq->num)) {
		vq_err(vq, "avail head %u beyond ring of %u\n", head, vq->num);
		return -EINVAL;
	}

	*out_num = 0;
	*in_num = 0;
	if (unlikely(log))
		*log_num = 0;

	i = head;
	do {
		if (unlikely(i >= vq->num)) {
			vq_err(vq, "descriptor %u beyond ring of %u (head %u)\n",
			       i, vq->num, head);
			return -EINVAL;
		}
		if (unlikely(++found > vq->num)) {
			vq_err(vq, "descriptor loop at %u (head %u)\n", i, head);
			return -EINVAL;
		}
		ret = vkt_get_desc(vq, &desc, i);
		if (unlikely(ret)) {
			vq_err(vq, "cannot read descriptor %u\n", i);
			return ret == -EAGAIN ? ret : -EFAULT;
		}
		if (desc.flags & cpu_to_vhost16(vq, VRING_DESC_F_INDIRECT)) {
			ret = vkt_get_indirect(vq, iov, iov_size, out_num,
					       in_num, log, log_num, &desc);
			if (unlikely(ret))
				return ret;
			continue;
		}
		ret = vkt_add_desc(vq, &desc, iov, iov_size, out_num, in_num,
				   log, log_num);
		if (unlikely(ret))
			return ret;
	} while ((i = vkt_next_desc(vq, &desc)) != -1);

	vq->last_avail_idx++;
	return head;
}
EXPORT_SYMBOL_GPL(vhost_kt_get_vq_desc);

/**
 * vhost_kt_discard_vq_desc - give back the last @n chains taken
 * @vq: the queue (its mutex held)
 * @n: number of vhost_kt_get_vq_desc() results to undo
 */
void vhost_kt_discard_vq_desc(struct vhost_kt_virtqueue *vq, int n)
{
	vq->last_avail_idx -= n;
}
EXPORT_SYMBOL_GPL(vhost_kt_discard_vq_desc);

/* ---- used ring and notification ---- */

static int vkt_add_used_chunk(struct vhost_kt_virtqueue *vq,
			      struct vring_used_elem *heads,
			      unsigned int count)
{
	unsigned int start = vq->last_used_idx & (vq->num - 1);
	u16 old, new;

	if (vkt_put_used_elems(vq, heads, start, count)) {
		vq_err(vq, "cannot write used ring\n");
		return -EFAULT;
	}
	if (unlikely(vq->log_used)) {
		/* The entries must be visible before they are logged. */
		smp_wmb();
		vhost_kt_log_used(vq, (void __user *)(vq->used->ring + start) -
				      (void __user *)vq->used,
				  count * sizeof(*heads));
	}
	old = vq->last_used_idx;
	new = (vq->last_used_idx += count);
	/*
	 * If we went a full 2^16 entries without signalling, the saved
	 * signalled_used could look recent again: forget it.
	 */
	if (unlikely((u16)(new - vq->signalled_used) < (u16)(new - old)))
		vq->signalled_used_valid = false;
	return 0;
}

/**
 * vhost_kt_add_used_n - return @count chains to the guest
 * @vq: the queue (its mutex held)
 * @heads: id (head index) and len (bytes written) of each chain, in guest
 *	   byte order (cpu_to_vhost32)
 * @count: entries in @heads
 *
 * Return: 0 or -EFAULT.
 */
int vhost_kt_add_used_n(struct vhost_kt_virtqueue *vq,
			struct vring_used_elem *heads, unsigned int count)
{
	unsigned int n;
	int r;

	/* Split where the ring wraps (more than once for a buggy count). */
	do {
		n = min(count, vq->num - (vq->last_used_idx & (vq->num - 1)));
		r = vkt_add_used_chunk(vq, heads, n);
		if (r < 0)
			return r;
		heads += n;
		count -= n;
	} while (count);

	/* The entries must be visible before the index that publishes them. */
	smp_wmb();
	if (vkt_put16(vq, cpu_to_vhost16(vq, vq->last_used_idx),
		      &vq->used->idx, VHOST_KT_ADDR_USED)) {
		vq_err(vq, "cannot write used idx\n");
		return -EFAULT;
	}
	if (unlikely(vq->log_used)) {
		/* The index must be visible before it is logged. */
		smp_wmb();
		vhost_kt_log_used(vq, offsetof(struct vring_used, idx),
				  sizeof(vq->used->idx));
		if (vq->log_ctx)
			vhost_kt_eventfd_signal(vq->log_ctx);
	}
	return 0;
}
EXPORT_SYMBOL_GPL(vhost_kt_add_used_n);

/**
 * vhost_kt_add_used - return one chain to the guest
 * @vq: the queue (its mutex held)
 * @head: the value vhost_kt_get_vq_desc() returned
 * @len: bytes written into the chain's writable buffers
 */
int vhost_kt_add_used(struct vhost_kt_virtqueue *vq, unsigned int head,
		      int len)
{
	struct vring_used_elem elem = {
		.id = cpu_to_vhost32(vq, head),
		.len = cpu_to_vhost32(vq, len),
	};

	return vhost_kt_add_used_n(vq, &elem, 1);
}
EXPORT_SYMBOL_GPL(vhost_kt_add_used);

static bool vkt_need_notify(struct vhost_kt_virtqueue *vq)
{
	__virtio16 event, flags;
	u16 old, new;
	bool valid;

	/* Pairs with the barrier the guest issues when enabling interrupts. */
	smp_mb();

	if (vhost_kt_has_feature(vq, VIRTIO_F_NOTIFY_ON_EMPTY) &&
	    unlikely(vq->avail_idx == vq->last_avail_idx))
		return true;

	if (!vhost_kt_has_feature(vq, VIRTIO_RING_F_EVENT_IDX)) {
		if (vkt_get16(vq, &flags, &vq->avail->flags,
			      VHOST_KT_ADDR_AVAIL)) {
			vq_err(vq, "cannot read avail flags\n");
			return true;
		}
		return !(flags & cpu_to_vhost16(vq, VRING_AVAIL_F_NO_INTERRUPT));
	}

	old = vq->signalled_used;
	valid = vq->signalled_used_valid;
	new = vq->last_used_idx;
	vq->signalled_used = new;
	vq->signalled_used_valid = true;
	if (unlikely(!valid))
		return true;

	if (vkt_get16(vq, &event, vkt_used_event(vq), VHOST_KT_ADDR_AVAIL)) {
		vq_err(vq, "cannot read used event index\n");
		return true;
	}
	return vring_need_event(vhost16_to_cpu(vq, event), new, old);
}

/**
 * vhost_kt_signal - interrupt the guest if it asked for it
 * @dev: the device
 * @vq: the queue (its mutex held)
 */
void vhost_kt_signal(struct vhost_kt_dev *dev, struct vhost_kt_virtqueue *vq)
{
	if (vq->call_ctx && vkt_need_notify(vq))
		vhost_kt_eventfd_signal(vq->call_ctx);
}
EXPORT_SYMBOL_GPL(vhost_kt_signal);

void vhost_kt_add_used_and_signal(struct vhost_kt_dev *dev,
				  struct vhost_kt_virtqueue *vq,
				  unsigned int head, int len)
{
	vhost_kt_add_used(vq, head, len);
	vhost_kt_signal(dev, vq);
}
EXPORT_SYMBOL_GPL(vhost_kt_add_used_and_signal);

void vhost_kt_add_used_and_signal_n(struct vhost_kt_dev *dev,
				    struct vhost_kt_virtqueue *vq,
				    struct vring_used_elem *heads,
				    unsigned int count)
{
	vhost_kt_add_used_n(vq, heads, count);
	vhost_kt_signal(dev, vq);
}
EXPORT_SYMBOL_GPL(vhost_kt_add_used_and_signal_n);

/**
 * vhost_kt_enable_notify - ask the guest to kick us again
 * @dev: the device
 * @vq: the queue (its mutex held)
 *
 * Return: true if buffers became available meanwhile: the caller should
 * disable notification again and keep processing.
 */
bool vhost_kt_enable_notify(struct vhost_kt_dev *dev,
			    struct vhost_kt_virtqueue *vq)
{
	int r;

	if (!(vq->used_flags & VRING_USED_F_NO_NOTIFY))
		return false;
	vq->used_flags &= ~VRING_USED_F_NO_NOTIFY;
	if (!vhost_kt_has_feature(vq, VIRTIO_RING_F_EVENT_IDX))
		r = vkt_update_used_flags(vq);
	else
		r = vkt_update_avail_event(vq);
	if (r) {
		vq_err(vq, "cannot enable notification: %d\n", r);
		return false;
	}

	/* The guest may have added buffers before seeing the change. */
	smp_mb();
	r = vkt_fetch_avail_idx(vq);
	return r > 0;
}
EXPORT_SYMBOL_GPL(vhost_kt_enable_notify);

/**
 * vhost_kt_disable_notify - tell the guest not to kick us
 * @dev: the device
 * @vq: the queue (its mutex held)
 */
void vhost_kt_disable_notify(struct vhost_kt_dev *dev,
			     struct vhost_kt_virtqueue *vq)
{
	if (vq->used_flags & VRING_USED_F_NO_NOTIFY)
		return;
	vq->used_flags |= VRING_USED_F_NO_NOTIFY;
	/* With EVENT_IDX the guest kicks by avail_event, which we leave. */
	if (!vhost_kt_has_feature(vq, VIRTIO_RING_F_EVENT_IDX) &&
	    vkt_update_used_flags(vq))
		vq_err(vq, "cannot disable notification\n");
}
EXPORT_SYMBOL_GPL(vhost_kt_disable_notify);

/**
 * vhost_kt_vq_avail_empty - is there nothing new in the avail ring?
 * @dev: the device
 * @vq: the queue (its mutex held)
 *
 * Return: true if empty; false if not, or if the ring cannot be read (the
 * next vhost_kt_get_vq_desc() then reports the error).
 */
bool vhost_kt_vq_avail_empty(struct vhost_kt_dev *dev,
			     struct vhost_kt_virtqueue *vq)
{
	if (vq->avail_idx != vq->last_avail_idx)
		return false;
	return vkt_fetch_avail_idx(vq) == 0;
}
EXPORT_SYMBOL_GPL(vhost_kt_vq_avail_empty);

/**
 * vhost_kt_exceeds_weight - has this run of the handler done enough?
 * @vq: the queue
 * @pkts: requests handled so far
 * @total_len: bytes handled so far
 *
 * Return: true if the handler should stop; the queue's poll work is
 * requeued so that it continues after other work had its turn.
 */
bool vhost_kt_exceeds_weight(struct vhost_kt_virtqueue *vq, int pkts,
			     int total_len)
{
	struct vhost_kt_dev *dev = vq->dev;

	if ((dev->byte_weight && total_len >= dev->byte_weight) ||
	    pkts >= dev->weight) {
		vhost_kt_poll_queue(&vq->poll);
		return true;
	}
	return false;
}
EXPORT_SYMBOL_GPL(vhost_kt_exceeds_weight);
