// SPDX-License-Identifier: GPL-2.0-only
/*
 * Guest memory: the memory table set by VHOST_SET_MEM_TABLE, the device
 * IOTLB fed by messages written to the device fd (VIRTIO_F_ACCESS_PLATFORM),
 * and the translation of guest addresses into user addresses of the owner.
 *
 * Both tables are read by the workers under a vq mutex and changed with
 * every vq mutex held, so a translation never sees a half-updated table.
 */
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/module.h>

#include "internal.h"

static struct vhost_iotlb_msg *vkt_node_msg(struct vhost_kt_msg_node *node)
{
	/* The v1 and v2 layouts differ only in what follows the type word. */
	if (node->msg.type == VHOST_IOTLB_MSG_V2)
		return &node->msg_v2.iotlb;
	return &node->msg.iotlb;
}

static bool vkt_same_miss(struct vhost_kt_msg_node *node,
			  struct vhost_kt_virtqueue *vq, u64 iova, int access)
{
	struct vhost_iotlb_msg *m = vkt_node_msg(node);

	return node->vq == vq && m->iova == iova && m->perm == access;
}

/*
 * Queue a miss for userspace (QEMU's IOMMU) to answer with an UPDATE.  A
 * guest that keeps kicking a queue whose ring is unmapped must not grow the
 * lists without bound: a miss not yet read is not queued twice, and one
 * already read but never answered is replaced by the new one.
 */
void vhost_kt_iotlb_miss(struct vhost_kt_virtqueue *vq, u64 iova, int access)
{
	struct vhost_kt_dev *dev = vq->dev;
	struct vhost_kt_msg_node *node, *old, *tmp, *stale = NULL;
	struct vhost_iotlb_msg *msg;

	node = kzalloc(sizeof(*node), GFP_KERNEL_ACCOUNT);
	if (!node)
		return;
	node->vq = vq;
	if (vhost_kt_backend_has_feature(vq, VHOST_BACKEND_F_IOTLB_MSG_V2)) {
		node->msg_v2.type = VHOST_IOTLB_MSG_V2;
		msg = &node->msg_v2.iotlb;
	} else {
		node->msg.type = VHOST_IOTLB_MSG;
		msg = &node->msg.iotlb;
	}
	msg->type = VHOST_IOTLB_MISS;
	msg->iova = iova;
	msg->perm = access;

	spin_lock(&dev->iotlb_lock);
	list_for_each_entry(old, &dev->read_list, node) {
		if (vkt_same_miss(old, vq, iova, access)) {
			spin_unlock(&dev->iotlb_lock);
			kfree(node);
			return;
		}
	}
	list_for_each_entry_safe(old, tmp, &dev->pending_list, node) {
		if (vkt_same_miss(old, vq, iova, access)) {
			list_del(&old->node);
			stale = old;
			break;
		}
	}
	list_add_tail(&node->node, &dev->read_list);
	spin_unlock(&dev->iotlb_lock);

	kfree(stale);
	wake_up_interruptible_poll(&dev->wait, EPOLLIN | EPOLLRDNORM);
}

/**
 * vhost_kt_meta_cached - user address of a ring area from the cached mapping
 * @vq: the queue (its mutex held)
 * @addr: IOVA of the area
 * @size: its size, at least 1
 * @type: which ring part (VHOST_KT_ADDR_*)
 *
 * Return: the user address, or NULL if vhost_kt_vq_meta_prefetch() has not
 * cached a mapping covering the whole area.
 */
void __user *vhost_kt_meta_cached(struct vhost_kt_virtqueue *vq,
				  const void __user *addr, unsigned int size,
				  int type)
{
	const struct vhost_kt_map *map = vq->meta_iotlb[type];
	u64 a = (u64)(uintptr_t)addr;

	if (map && a >= map->start && a <= map->last &&
	    map->last - a >= size - 1)
		return (void __user *)(uintptr_t)(map->addr + (a - map->start));
	return NULL;
}

/**
 * vhost_kt_translate_walk - vhost_kt_translate() through the tables
 * @vq: the queue (its mutex held)
 * @addr: guest address
 * @len: length in bytes
 * @iov: output array
 * @iov_size: entries available in @iov
 * @access: VHOST_ACCESS_RO or VHOST_ACCESS_WO
 *
 * The path of a buffer outside the queue's last map: walk the IOTLB, or
 * the memory table without one, and remember the map the walk ended in.
 *
 * Return: as vhost_kt_translate().
 */
int vhost_kt_translate_walk(struct vhost_kt_virtqueue *vq, u64 addr, u32 len,
			    struct iovec iov[], int iov_size, int access)
{
	struct vhost_kt_iotlb *iotlb = READ_ONCE(vq->dev->iotlb);
	const struct vhost_kt_map *map;
	u64 miss;
	int n;

	n = vhost_kt_iotlb_translate(iotlb ? iotlb : READ_ONCE(vq->dev->umem),
				     addr, len, iov, iov_size, access, &miss,
				     &map);
	if (likely(n > 0)) {
		vq->last_map = map;
	} else if (unlikely(n == -ENOENT)) {
		if (!iotlb)
			return -EFAULT;
		vhost_kt_iotlb_miss(vq, miss, access);
		return -EAGAIN;
	}
	return n;
}

/**
 * vhost_kt_meta_uaddr - user address of a ring field under the device IOTLB
 * @vq: the queue (its mutex held)
 * @addr: IOVA of the field
 * @size: size of the field
 * @type: which ring part (VHOST_KT_ADDR_*), selects the cached mapping
 * @access: VHOST_ACCESS_RO or VHOST_ACCESS_WO
 *
 * Only for fields that must be accessed in one piece.
 *
 * Return: the user address, or NULL if it is not mapped in one piece.
 */
void __user *vhost_kt_meta_uaddr(struct vhost_kt_virtqueue *vq,
				 const void __user *addr, unsigned int size,
				 int type, int access)
{
	u64 a = (u64)(uintptr_t)addr;
	void __user *u;
	int ret;

	u = vhost_kt_meta_cached(vq, addr, size, type);
	if (u)
		return u;

	ret = vhost_kt_translate(vq, a, size, vq->iotlb_iov,
				 ARRAY_SIZE(vq->iotlb_iov), access);
	if (ret == 1 && vq->iotlb_iov[0].iov_len == size)
		return vq->iotlb_iov[0].iov_base;
	if (ret != -EAGAIN)
		vq_err(vq, "ring field at 0x%llx not mapped in one piece (%d)\n",
		       a, ret);
	return NULL;
}

void vhost_kt_vq_meta_reset(struct vhost_kt_virtqueue *vq)
{
	int i;

	for (i = 0; i < VHOST_KT_NUM_ADDRS; i++)
		vq->meta_iotlb[i] = NULL;
	vq->last_map = NULL;
}

static void vkt_dev_meta_reset(struct vhost_kt_dev *dev)
{
	int i;

	for (i = 0; i < dev->nvqs; i++)
		vhost_kt_vq_meta_reset(dev->vqs[i]);
}

/*
 * Check that the IOTLB maps [addr, addr + len) with @access; if a single
 * entry covers it all, remember that entry so the ring accessors skip the
 * tree walk until the IOTLB changes.
 */
static bool vkt_iotlb_range_ok(struct vhost_kt_virtqueue *vq, int access,
			       u64 addr, u64 len, int type)
{
	struct vhost_kt_iotlb *iotlb = vq->dev->iotlb;
	const struct vhost_kt_map *map;
	u64 last = addr + len - 1, cur = addr;

	if (vq->meta_iotlb[type])
		return true;
	if (!len || last < addr)
		return false;

	for (;;) {
		map = vhost_kt_iotlb_itree_first(iotlb, cur, last);
		if (!map || map->start > cur) {
			vhost_kt_iotlb_miss(vq, cur, access);
			return false;
		}
		if (!(map->perm & access))
			return false;
		if (cur == addr && map->last >= last)
			vq->meta_iotlb[type] = map;
		if (map->last >= last)
			return true;
		cur = map->last + 1;
	}
}

/**
 * vhost_kt_vq_meta_prefetch - make sure the rings are mapped by the IOTLB
 * @vq: the queue (its mutex held)
 *
 * Backends call this at the start of each kick handler.  Without a device
 * IOTLB it is a no-op returning 1.
 *
 * Return: 1 if the rings are mapped, 0 if not (misses have been queued and
 * the queue is kicked again once userspace answers them).
 */
int vhost_kt_vq_meta_prefetch(struct vhost_kt_virtqueue *vq)
{
	unsigned int num = vq->num;

	if (!vq->dev->iotlb)
		return 1;

	return vkt_iotlb_range_ok(vq, VHOST_ACCESS_RO,
				  (u64)(uintptr_t)vq->desc,
				  vhost_kt_desc_size(vq, num),
				  VHOST_KT_ADDR_DESC) &&
	       vkt_iotlb_range_ok(vq, VHOST_ACCESS_RO,
				  (u64)(uintptr_t)vq->avail,
				  vhost_kt_avail_size(vq, num),
				  VHOST_KT_ADDR_AVAIL) &&
	       vkt_iotlb_range_ok(vq, VHOST_ACCESS_WO,
				  (u64)(uintptr_t)vq->used,
				  vhost_kt_used_size(vq, num),
				  VHOST_KT_ADDR_USED);
}
EXPORT_SYMBOL_GPL(vhost_kt_vq_meta_prefetch);

static bool vkt_uaddr_ok(u64 uaddr, u64 size, u8 perm)
{
	void __user *p = (void __user *)(uintptr_t)uaddr;

	if ((u64)(uintptr_t)uaddr != uaddr || size > ULONG_MAX)
		return false;
	if ((perm & VHOST_ACCESS_RW) && !access_ok(p, size))
		return false;
	return true;
}

/* VHOST_SET_MEM_TABLE; caller holds dev->mutex and is the owner. */
long vhost_kt_set_memory(struct vhost_kt_dev *dev,
			 struct vhost_memory __user *m)
{
	struct vhost_memory_region *regions;
	struct vhost_kt_iotlb *umem, *old;
	struct vhost_memory hdr;
	long ret;
	u32 i;

	if (copy_from_user(&hdr, m, offsetof(struct vhost_memory, regions)))
		return -EFAULT;
	if (hdr.padding)
		return -EOPNOTSUPP;
	if (hdr.nregions > vhost_kt_max_mem_regions)
		return -E2BIG;

	regions = kvmalloc_array(hdr.nregions, sizeof(*regions),
				 GFP_KERNEL_ACCOUNT);
	if (!regions)
		return -ENOMEM;
	if (copy_from_user(regions, m->regions,
			   array_size(hdr.nregions, sizeof(*regions)))) {
		ret = -EFAULT;
		goto out_regions;
	}

	/* Bounded by max_mem_regions, so no entry limit of its own. */
	umem = vhost_kt_iotlb_alloc(0, 0);
	if (!umem) {
		ret = -ENOMEM;
		goto out_regions;
	}

	for (i = 0; i < hdr.nregions; i++) {
		struct vhost_memory_region *r = &regions[i];
		u64 last = r->guest_phys_addr + r->memory_size - 1;

		if (!r->memory_size || last < r->guest_phys_addr) {
			ret = -EFAULT;
			goto out_umem;
		}
		/*
		 * Upstream checks the user range only for queues that run
		 * (again when a backend is attached); checking it here too
		 * refuses a bad table where it is made.
		 */
		if (!vkt_uaddr_ok(r->userspace_addr, r->memory_size,
				  VHOST_ACCESS_RW)) {
			ret = -EFAULT;
			goto out_umem;
		}
		/*
		 * Upstream accepts overlapping regions and then translates
		 * through whichever the tree returns first; no VMM sends
		 * them, so refuse rather than guess.
		 */
		if (vhost_kt_iotlb_itree_first(umem, r->guest_phys_addr, last)) {
			ret = -EINVAL;
			goto out_umem;
		}
		ret = vhost_kt_iotlb_add_range(umem, r->guest_phys_addr, last,
					       r->userspace_addr,
					       VHOST_ACCESS_RW);
		if (ret)
			goto out_umem;
	}

	if (!vhost_kt_umem_access_ok(dev, umem, false)) {
		ret = -EFAULT;
		goto out_umem;
	}

	vhost_kt_dev_lock_vqs(dev);
	old = dev->umem;
	WRITE_ONCE(dev->umem, umem);
	/* The queues' last maps may be in the old table. */
	vkt_dev_meta_reset(dev);
	vhost_kt_dev_unlock_vqs(dev);

	vhost_kt_iotlb_free(old);
	kvfree(regions);
	return 0;

out_umem:
	vhost_kt_iotlb_free(umem);
out_regions:
	kvfree(regions);
	return ret;
}

/**
 * vhost_kt_init_device_iotlb - switch the device to IOVA translation
 * @dev: the device (caller holds dev->mutex)
 *
 * Called by a backend when VIRTIO_F_ACCESS_PLATFORM is negotiated: from now
 * on ring and buffer addresses are IOVAs resolved through IOTLB messages.
 * A previous IOTLB is discarded.
 *
 * Return: 0 or -ENOMEM.
 */
int vhost_kt_init_device_iotlb(struct vhost_kt_dev *dev)
{
	struct vhost_kt_iotlb *iotlb, *old;

	iotlb = vhost_kt_iotlb_alloc(vhost_kt_max_iotlb_entries,
				     VHOST_KT_IOTLB_FLAG_RETIRE);
	if (!iotlb)
		return -ENOMEM;

	vhost_kt_dev_lock_vqs(dev);
	old = dev->iotlb;
	WRITE_ONCE(dev->iotlb, iotlb);
	vkt_dev_meta_reset(dev);
	vhost_kt_dev_unlock_vqs(dev);

	vhost_kt_iotlb_free(old);
	return 0;
}
EXPORT_SYMBOL_GPL(vhost_kt_init_device_iotlb);

/**
 * vhost_kt_process_iotlb_msg - apply one IOTLB message from userspace
 * @dev: the device (takes dev->mutex and every vq mutex)
 * @asid: address space id, only 0 is supported
 * @msg: the message
 *
 * The default handler of vhost_kt_chr_write_iter(); a backend's own
 * msg_handler may call it for the types it does not handle itself.
 *
 * Return: 0 or -errno (the write then fails with -EFAULT, as upstream).
 */
int vhost_kt_process_iotlb_msg(struct vhost_kt_dev *dev, u32 asid,
			       struct vhost_iotlb_msg *msg)
{
	struct vhost_kt_msg_node *node, *tmp;
	LIST_HEAD(answered);
	u64 last;
	int ret = 0;

	if (asid != 0)
		return -EINVAL;

	mutex_lock(&dev->mutex);
	vhost_kt_dev_lock_vqs(dev);
	switch (msg->type) {
	case VHOST_IOTLB_UPDATE:
		last = msg->iova + msg->size - 1;
		if (!dev->iotlb) {
			ret = -EFAULT;
			break;
		}
		if (!msg->size || last < msg->iova) {
			ret = -EINVAL;
			break;
		}
		if (!vkt_uaddr_ok(msg->uaddr, msg->size, msg->perm)) {
			ret = -EFAULT;
			break;
		}
		/* Adding may retire the entry a cached ring mapping uses. */
		vkt_dev_meta_reset(dev);
		ret = vhost_kt_iotlb_add_range(dev->iotlb, msg->iova, last,
					       msg->uaddr, msg->perm);
		if (ret)
			break;

		spin_lock(&dev->iotlb_lock);
		list_for_each_entry_safe(node, tmp, &dev->pending_list, node) {
			struct vhost_iotlb_msg *miss = vkt_node_msg(node);

			if (miss->iova >= msg->iova && miss->iova <= last)
				list_move_tail(&node->node, &answered);
		}
		spin_unlock(&dev->iotlb_lock);
		break;
	case VHOST_IOTLB_INVALIDATE:
		if (!dev->iotlb) {
			ret = -EFAULT;
			break;
		}
		/*
		 * QEMU invalidates everything with iova 0 and size 0 (a
		 * 2^64 range); a range running past the end is clamped.
		 */
		last = msg->iova + msg->size - 1;
		if (!msg->size || last < msg->iova)
			last = U64_MAX;
		vkt_dev_meta_reset(dev);
		vhost_kt_iotlb_del_range(dev->iotlb, msg->iova, last);
		break;
	case VHOST_IOTLB_BATCH_BEGIN:
	case VHOST_IOTLB_BATCH_END:
		/* Updates apply at once here, so a batch needs no state. */
		if (!dev->nvqs ||
		    !vhost_kt_backend_has_feature(dev->vqs[0],
						  VHOST_BACKEND_F_IOTLB_BATCH))
			ret = -EINVAL;
		break;
	default:
		ret = -EINVAL;
		break;
	}
	/*
	 * Restart the queues whose misses were answered while dev->mutex is
	 * still held: RESET_OWNER and FREE_WORKER destroy workers under it,
	 * so the vq->worker each queueing finds cannot be stopped before the
	 * work is on its list (see src/worker/worker.h).
	 */
	vhost_kt_race_window_begin();
	list_for_each_entry(node, &answered, node)
		vhost_kt_poll_queue(&node->vq->poll);
	vhost_kt_race_window_end();
	vhost_kt_dev_unlock_vqs(dev);
	mutex_unlock(&dev->mutex);

	list_for_each_entry_safe(node, tmp, &answered, node) {
		list_del(&node->node);
		kfree(node);
	}
	return ret;
}
EXPORT_SYMBOL_GPL(vhost_kt_process_iotlb_msg);

/**
 * vhost_kt_chr_write_iter - handle a write of IOTLB messages to the dev fd
 * @dev: the device
 * @from: the data written
 *
 * Accepts one struct vhost_msg or struct vhost_msg_v2 per write.
 *
 * Return: the size of the message consumed, -EINVAL for a short write, an
 * unknown message format or an UPDATE of size 0, -EFAULT if the message
 * could not be applied.
 */
ssize_t vhost_kt_chr_write_iter(struct vhost_kt_dev *dev,
				struct iov_iter *from)
{
	struct vhost_iotlb_msg msg;
	size_t skip;
	u32 asid = 0;
	u32 type;
	int ret;

	if (copy_from_iter(&type, sizeof(type), from) != sizeof(type))
		return -EINVAL;

	switch (type) {
	case VHOST_IOTLB_MSG:
		/* v1 has padding between the type and the payload. */
		skip = offsetof(struct vhost_msg, iotlb) - sizeof(type);
		break;
	case VHOST_IOTLB_MSG_V2:
		if (dev->nvqs &&
		    vhost_kt_backend_has_feature(dev->vqs[0],
						 VHOST_BACKEND_F_IOTLB_ASID)) {
			if (copy_from_iter(&asid, sizeof(asid), from) !=
			    sizeof(asid))
				return -EINVAL;
			skip = 0;
		} else {
			skip = sizeof(u32);
		}
		break;
	default:
		return -EINVAL;
	}

	iov_iter_advance(from, skip);
	if (copy_from_iter(&msg, sizeof(msg), from) != sizeof(msg))
		return -EINVAL;

	if (msg.type == VHOST_IOTLB_UPDATE && msg.size == 0)
		return -EINVAL;

	if (dev->msg_handler)
		ret = dev->msg_handler(dev, asid, &msg);
	else
		ret = vhost_kt_process_iotlb_msg(dev, asid, &msg);
	if (ret)
		return -EFAULT;

	return type == VHOST_IOTLB_MSG ? sizeof(struct vhost_msg) :
					 sizeof(struct vhost_msg_v2);
}
EXPORT_SYMBOL_GPL(vhost_kt_chr_write_iter);

/*
 * Takes the first queued message, copied into @copy.  A miss moves to the
 * pending list in the same critical section, so that neither an UPDATE that
 * answers it nor RESET_OWNER's vhost_kt_clear_msg() can run while it is on
 * no list; from then on the lists own it, and the reader only uses @copy.
 */
static bool vkt_dequeue_msg(struct vhost_kt_dev *dev,
			    struct vhost_kt_msg_node *copy)
{
	struct vhost_kt_msg_node *node;
	bool found, miss = false;

	spin_lock(&dev->iotlb_lock);
	node = list_first_entry_or_null(&dev->read_list,
					struct vhost_kt_msg_node, node);
	found = node;
	if (node) {
		memcpy(copy, node, sizeof(*copy));
		miss = vkt_node_msg(node)->type == VHOST_IOTLB_MISS;
		if (miss)
			list_move_tail(&node->node, &dev->pending_list);
		else
			list_del(&node->node);
	}
	spin_unlock(&dev->iotlb_lock);

	if (found && !miss)
		kfree(node);
	return found;
}

/**
 * vhost_kt_chr_read_iter - read queued IOTLB messages (misses)
 * @dev: the device
 * @to: the reader's buffer, at least one struct vhost_msg long
 * @noblock: do not wait for a message
 *
 * Return: bytes copied (0 if the buffer is too small), -EAGAIN, -ERESTARTSYS
 * or -EBADFD when the device has no IOTLB to wait on.
 */
ssize_t vhost_kt_chr_read_iter(struct vhost_kt_dev *dev, struct iov_iter *to,
			       int noblock)
{
	struct vhost_kt_msg_node msg;
	bool found = false;
	DEFINE_WAIT(wait);
	ssize_t ret = 0;
	size_t size;

	if (iov_iter_count(to) < sizeof(struct vhost_msg))
		return 0;

	for (;;) {
		if (!noblock)
			prepare_to_wait(&dev->wait, &wait, TASK_INTERRUPTIBLE);

		found = vkt_dequeue_msg(dev, &msg);
		if (found)
			break;
		if (noblock) {
			ret = -EAGAIN;
			break;
		}
		if (signal_pending(current)) {
			ret = -ERESTARTSYS;
			break;
		}
		if (!READ_ONCE(dev->iotlb)) {
			ret = -EBADFD;
			break;
		}
		schedule();
	}
	if (!noblock)
		finish_wait(&dev->wait, &wait);
	if (!found)
		return ret;

	/*
	 * A miss stays pending until an UPDATE answers it and kicks the
	 * queue, even if this copy fails: the queue waits for it either way.
	 */
	size = msg.msg.type == VHOST_IOTLB_MSG_V2 ? sizeof(msg.msg_v2) :
						    sizeof(msg.msg);
	return copy_to_iter(&msg.msg, size, to);
}
EXPORT_SYMBOL_GPL(vhost_kt_chr_read_iter);

/**
 * vhost_kt_chr_poll - poll for queued IOTLB messages
 * @file: the device file
 * @dev: the device
 * @wait: poll table
 */
__poll_t vhost_kt_chr_poll(struct file *file, struct vhost_kt_dev *dev,
			   poll_table *wait)
{
	__poll_t mask = 0;

	poll_wait(file, &dev->wait, wait);

	spin_lock(&dev->iotlb_lock);
	if (!list_empty(&dev->read_list))
		mask |= EPOLLIN | EPOLLRDNORM;
	spin_unlock(&dev->iotlb_lock);
	return mask;
}
EXPORT_SYMBOL_GPL(vhost_kt_chr_poll);

/**
 * vhost_kt_clear_msg - drop every queued and pending IOTLB message
 * @dev: the device
 *
 * At cleanup, and when a backend detaches a queue (misses for it would
 * never be answered usefully).
 */
void vhost_kt_clear_msg(struct vhost_kt_dev *dev)
{
	struct vhost_kt_msg_node *node, *tmp;
	LIST_HEAD(dead);

	spin_lock(&dev->iotlb_lock);
	list_splice_init(&dev->read_list, &dead);
	list_splice_init(&dev->pending_list, &dead);
	spin_unlock(&dev->iotlb_lock);

	list_for_each_entry_safe(node, tmp, &dead, node)
		kfree(node);
}
EXPORT_SYMBOL_GPL(vhost_kt_clear_msg);
