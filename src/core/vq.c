// SPDX-License-Identifier: GPL-2.0-only
/*
 * Virtqueue configuration: the per-ring ioctls (VHOST_SET_VRING_*) and the
 * checks that the rings userspace described lie in memory we may access.
 * The ring data path is in vring.c.
 */
#include <linux/nospec.h>
#include <linux/uaccess.h>
#include <linux/module.h>

#include "internal.h"

void vhost_kt_vq_reset(struct vhost_kt_virtqueue *vq)
{
	vq->num = 1;
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	vq->rings_checked = false;
	vq->last_avail_idx = 0;
	vq->avail_idx = 0;
	vq->last_used_idx = 0;
	vq->signalled_used = 0;
	vq->signalled_used_valid = false;
	vq->used_flags = 0;
	vq->log_used = false;
	vq->log_addr = -1ULL;
	vq->private_data = NULL;
	vq->acked_features = 0;
	vq->acked_backend_features = 0;
	vq->log_base = NULL;
	vq->error_ctx = NULL;
	vq->call_ctx = NULL;
	vq->kick = NULL;
	vq->log_ctx = NULL;
#ifdef CONFIG_VHOST_CROSS_ENDIAN_LEGACY
	vq->user_be = !virtio_legacy_is_little_endian();
	vq->is_le = !vq->user_be;
#else
	vq->is_le = virtio_legacy_is_little_endian();
#endif
	vq->busyloop_timeout = 0;
	vhost_kt_vq_meta_reset(vq);
}

static bool vkt_rings_access_ok(struct vhost_kt_virtqueue *vq,
				unsigned int num, vring_desc_t __user *desc,
				vring_avail_t __user *avail,
				vring_used_t __user *used)
{
	/* Under an IOTLB these are IOVAs, checked when translated. */
	if (vq->dev->iotlb)
		return true;
	return access_ok(desc, vhost_kt_desc_size(vq, num)) &&
	       access_ok(avail, vhost_kt_avail_size(vq, num)) &&
	       access_ok(used, vhost_kt_used_size(vq, num));
}

/**
 * vhost_kt_vq_access_ok - can the rings and the dirty log be used?
 * @vq: the queue (its mutex held)
 *
 * Backends call this before attaching a backend to the queue.
 *
 * Return: true if the memory table maps user memory we may access, the log
 * (if enabled) is writable and the rings lie in user memory.
 */
bool vhost_kt_vq_access_ok(struct vhost_kt_virtqueue *vq)
{
	if (!vhost_kt_vq_log_access_ok(vq, vq->log_base))
		return false;
	if (!vkt_rings_access_ok(vq, vq->num, vq->desc, vq->avail, vq->used))
		return false;
	/* Under an IOTLB nothing was checked: every access is translated. */
	vq->rings_checked = !vq->dev->iotlb;
	return true;
}
EXPORT_SYMBOL_GPL(vhost_kt_vq_access_ok);

/**
 * vhost_kt_vq_is_setup - have all three ring addresses been set and checked?
 * @vq: the queue (its mutex held)
 */
bool vhost_kt_vq_is_setup(struct vhost_kt_virtqueue *vq)
{
	return vq->avail && vq->desc && vq->used && vhost_kt_vq_access_ok(vq);
}
EXPORT_SYMBOL_GPL(vhost_kt_vq_is_setup);

/* ---- ioctls ---- */

static long vkt_set_vring_num(struct vhost_kt_virtqueue *vq,
			      void __user *argp)
{
	struct vhost_vring_state s;

	/* The ring size of a running queue cannot change. */
	if (vq->private_data)
		return -EBUSY;
	if (copy_from_user(&s, argp, sizeof(s)))
		return -EFAULT;
	if (!s.num || s.num > 0xffff || (s.num & (s.num - 1)))
		return -EINVAL;
	vq->num = s.num;
	vq->rings_checked = false;
	vhost_kt_vq_meta_reset(vq);
	return 0;
}

static long vkt_set_vring_addr(struct vhost_kt_virtqueue *vq,
			       void __user *argp)
{
	struct vhost_vring_addr a;
	bool log = false;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	if (a.flags & ~(0x1 << VHOST_VRING_F_LOG))
		return -EOPNOTSUPP;
	log = a.flags & (0x1 << VHOST_VRING_F_LOG);

	/* A 32-bit kernel cannot hold the upper half of these. */
	if ((u64)(unsigned long)a.desc_user_addr != a.desc_user_addr ||
	    (u64)(unsigned long)a.used_user_addr != a.used_user_addr ||
	    (u64)(unsigned long)a.avail_user_addr != a.avail_user_addr)
		return -EFAULT;

	BUILD_BUG_ON(__alignof__(*vq->avail) > VRING_AVAIL_ALIGN_SIZE);
	BUILD_BUG_ON(__alignof__(*vq->used) > VRING_USED_ALIGN_SIZE);
	if ((a.avail_user_addr & (VRING_AVAIL_ALIGN_SIZE - 1)) ||
	    (a.used_user_addr & (VRING_USED_ALIGN_SIZE - 1)) ||
	    (a.log_guest_addr & (VRING_USED_ALIGN_SIZE - 1)))
		return -EINVAL;

	/*
	 * Without a backend the size may still change, so the range is
	 * checked when the backend is set (vhost_kt_vq_access_ok()).
	 */
	if (vq->private_data) {
		if (!vkt_rings_access_ok(vq, vq->num,
					 (void __user *)(uintptr_t)a.desc_user_addr,
					 (void __user *)(uintptr_t)a.avail_user_addr,
					 (void __user *)(uintptr_t)a.used_user_addr))
			return -EINVAL;
		if (!vhost_kt_vq_log_used_access_ok(vq, vq->log_base, log,
						    a.log_guest_addr))
			return -EINVAL;
	}

	vq->log_used = log;
	vq->desc = (void __user *)(uintptr_t)a.desc_user_addr;
	vq->avail = (void __user *)(uintptr_t)a.avail_user_addr;
	vq->used = (void __user *)(uintptr_t)a.used_user_addr;
	/* Checked above if a backend is attached, else when one is. */
	vq->rings_checked = vq->private_data && !vq->dev->iotlb;
	vq->log_addr = a.log_guest_addr;
	vhost_kt_vq_meta_reset(vq);
	return 0;
}

#ifdef CONFIG_VHOST_CROSS_ENDIAN_LEGACY
static long vkt_set_vring_endian(struct vhost_kt_virtqueue *vq,
				 void __user *argp)
{
	struct vhost_vring_state s;

	if (vq->private_data)
		return -EBUSY;
	if (copy_from_user(&s, argp, sizeof(s)))
		return -EFAULT;
	if (s.num != VHOST_VRING_LITTLE_ENDIAN &&
	    s.num != VHOST_VRING_BIG_ENDIAN)
		return -EINVAL;
	vq->user_be = s.num == VHOST_VRING_BIG_ENDIAN;
	return 0;
}

static long vkt_get_vring_endian(struct vhost_kt_virtqueue *vq, u32 idx,
				 void __user *argp)
{
	struct vhost_vring_state s = { .index = idx, .num = vq->user_be };

	return copy_to_user(argp, &s, sizeof(s)) ? -EFAULT : 0;
}
#else
/* As upstream: without the legacy option these ioctls do not exist. */
static long vkt_set_vring_endian(struct vhost_kt_virtqueue *vq,
				 void __user *argp)
{
	return -ENOIOCTLCMD;
}

static long vkt_get_vring_endian(struct vhost_kt_virtqueue *vq, u32 idx,
				 void __user *argp)
{
	return -ENOIOCTLCMD;
}
#endif

static long vkt_set_file(struct eventfd_ctx **slot, void __user *argp,
			 struct eventfd_ctx **old)
{
	struct vhost_vring_file f;
	struct eventfd_ctx *ctx;

	if (copy_from_user(&f, argp, sizeof(f)))
		return -EFAULT;
	ctx = f.fd == VHOST_FILE_UNBIND ? NULL : eventfd_ctx_fdget(f.fd);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	*old = *slot;
	*slot = ctx;
	return 0;
}

/**
 * vhost_kt_vring_ioctl - per-ring ioctls (VHOST_SET_VRING_* and friends)
 * @dev: the device (caller holds dev->mutex and passed the owner check)
 * @ioctl: the command
 * @argp: user argument; starts with the ring index for every command
 *
 * Return: 0, -errno, -ENOBUFS for a ring index out of range (as upstream),
 * or -ENOIOCTLCMD for commands it does not know.
 */
long vhost_kt_vring_ioctl(struct vhost_kt_dev *dev, unsigned int ioctl,
			  void __user *argp)
{
	struct eventfd_ctx *old_ctx = NULL;
	struct file *eventfp, *old_kick = NULL;
	bool pollstart = false, pollstop = false;
	struct vhost_kt_virtqueue *vq;
	struct vhost_vring_state s;
	struct vhost_vring_file f;
	u32 __user *idxp = argp;
	u32 idx;
	long r = 0;

	if (get_user(idx, idxp))
		return -EFAULT;
	if (idx >= dev->nvqs)
		return -ENOBUFS;
	idx = array_index_nospec(idx, dev->nvqs);
	vq = dev->vqs[idx];

	mutex_lock(&vq->mutex);
	switch (ioctl) {
	case VHOST_SET_VRING_NUM:
		r = vkt_set_vring_num(vq, argp);
		break;
	case VHOST_SET_VRING_ADDR:
		r = vkt_set_vring_addr(vq, argp);
		break;
	case VHOST_SET_VRING_BASE:
		/* Moving the base under a running backend loses buffers. */
		if (vq->private_data) {
			r = -EBUSY;
			break;
		}
		if (copy_from_user(&s, argp, sizeof(s))) {
			r = -EFAULT;
			break;
		}
		if (s.num > 0xffff) {
			r = -EINVAL;
			break;
		}
		vq->last_avail_idx = s.num;
		vq->avail_idx = vq->last_avail_idx;
		break;
	case VHOST_GET_VRING_BASE:
		s.index = idx;
		s.num = vq->last_avail_idx;
		if (copy_to_user(argp, &s, sizeof(s)))
			r = -EFAULT;
		break;
	case VHOST_SET_VRING_KICK:
		if (copy_from_user(&f, argp, sizeof(f))) {
			r = -EFAULT;
			break;
		}
		eventfp = f.fd == VHOST_FILE_UNBIND ? NULL : eventfd_fget(f.fd);
		if (IS_ERR(eventfp)) {
			r = PTR_ERR(eventfp);
			break;
		}
		if (eventfp != vq->kick) {
			old_kick = vq->kick;
			pollstop = old_kick;
			vq->kick = eventfp;
			pollstart = eventfp;
		} else {
			/* Same file: drop the reference we just took. */
			old_kick = eventfp;
		}
		break;
	case VHOST_SET_VRING_CALL:
		r = vkt_set_file(&vq->call_ctx, argp, &old_ctx);
		break;
	case VHOST_SET_VRING_ERR:
		r = vkt_set_file(&vq->error_ctx, argp, &old_ctx);
		break;
	case VHOST_SET_VRING_ENDIAN:
		r = vkt_set_vring_endian(vq, argp);
		break;
	case VHOST_GET_VRING_ENDIAN:
		r = vkt_get_vring_endian(vq, idx, argp);
		break;
	case VHOST_SET_VRING_BUSYLOOP_TIMEOUT:
		if (copy_from_user(&s, argp, sizeof(s))) {
			r = -EFAULT;
			break;
		}
		vq->busyloop_timeout = s.num;
		break;
	case VHOST_GET_VRING_BUSYLOOP_TIMEOUT:
		s.index = idx;
		s.num = vq->busyloop_timeout;
		if (copy_to_user(argp, &s, sizeof(s)))
			r = -EFAULT;
		break;
	default:
		r = -ENOIOCTLCMD;
		break;
	}

	if (pollstop && vq->handle_kick)
		vhost_kt_poll_stop(&vq->poll);
	if (old_ctx)
		eventfd_ctx_put(old_ctx);
	if (old_kick)
		fput(old_kick);
	if (pollstart && vq->handle_kick)
		r = vhost_kt_poll_start(&vq->poll, vq->kick);
	mutex_unlock(&vq->mutex);

	/* A kick already queued from the old file may still be running. */
	if (pollstop && vq->handle_kick)
		vhost_kt_dev_flush(dev);
	return r;
}
EXPORT_SYMBOL_GPL(vhost_kt_vring_ioctl);
