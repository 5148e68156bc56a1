// SPDX-License-Identifier: GPL-2.0-only
/*
 * Device lifecycle: init, ownership, reset and teardown, and the device-wide
 * ioctls every backend shares.
 *
 * Ownership ties a device to the address space of the process that called
 * VHOST_SET_OWNER: guest memory is that process's memory, and the workers
 * run in it.  How the mm is held depends on the worker mode: a kthread
 * worker borrows the mm with kthread_use_mm() and needs it alive (a users
 * reference), while a vhost_task worker is a thread of the owner and shares
 * its mm anyway, so the device only keeps the struct (mmgrab) for the
 * owner check.  Holding a users reference there would keep the owner's
 * mappings, and with them possibly this very file, alive after it exits.
 */
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/module.h>

#include "internal.h"
#include "../worker/worker.h"
#include "../admin.h"

void vhost_kt_dev_lock_vqs(struct vhost_kt_dev *dev)
{
	int i;

	for (i = 0; i < dev->nvqs; i++)
		mutex_lock_nested(&dev->vqs[i]->mutex, i);
}

void vhost_kt_dev_unlock_vqs(struct vhost_kt_dev *dev)
{
	int i;

	for (i = 0; i < dev->nvqs; i++)
		mutex_unlock(&dev->vqs[i]->mutex);
}

/**
 * vhost_kt_dev_init - initialise a device and its virtqueues
 * @dev: the device, embedded in the backend's private struct
 * @vqs: the queues; each needs handle_kick set (or NULL) beforehand
 * @nvqs: number of queues
 * @iov_limit: entries of vq->log and vq->heads (allocated at SET_OWNER)
 * @weight: requests per handler run, see vhost_kt_exceeds_weight()
 * @byte_weight: bytes per handler run, 0 for no limit
 * @use_worker: run kick handlers in a worker thread
 * @default_mode: worker mode for this device node (and after RESET_OWNER)
 * @mode_fixed: the node allows no other mode
 * @msg_handler: IOTLB message handler, NULL for vhost_kt_process_iotlb_msg
 *
 * Also lists the device for admins (debugfs); vhost_kt_dev_cleanup()
 * removes it.
 */
void vhost_kt_dev_init(struct vhost_kt_dev *dev,
		       struct vhost_kt_virtqueue **vqs, int nvqs,
		       int iov_limit, int weight, int byte_weight,
		       bool use_worker, enum vhost_kt_mode default_mode,
		       bool mode_fixed,
		       int (*msg_handler)(struct vhost_kt_dev *dev, u32 asid,
					  struct vhost_iotlb_msg *msg))
{
	int i;

	dev->vqs = vqs;
	dev->nvqs = nvqs;
	mutex_init(&dev->mutex);
	dev->log_ctx = NULL;
	dev->umem = NULL;
	dev->iotlb = NULL;
	dev->mm = NULL;
	dev->mm_users_ref = false;
	dev->iov_limit = iov_limit;
	dev->weight = weight;
	dev->byte_weight = byte_weight;
	dev->use_worker = use_worker;
	dev->msg_handler = msg_handler;
	dev->default_mode = default_mode;
	dev->mode = default_mode;
	dev->mode_fixed = mode_fixed;
	dev->owner_pid = 0;
	init_waitqueue_head(&dev->wait);
	INIT_LIST_HEAD(&dev->read_list);
	INIT_LIST_HEAD(&dev->pending_list);
	spin_lock_init(&dev->iotlb_lock);
	xa_init_flags(&dev->worker_xa, XA_FLAGS_ALLOC);
	INIT_LIST_HEAD(&dev->admin_link);

	for (i = 0; i < nvqs; i++) {
		struct vhost_kt_virtqueue *vq = vqs[i];

		vq->dev = dev;
		vq->indirect = NULL;
		vq->log = NULL;
		vq->heads = NULL;
		RCU_INIT_POINTER(vq->worker, NULL);
		mutex_init(&vq->mutex);
		vhost_kt_vq_reset(vq);
		if (vq->handle_kick)
			vhost_kt_poll_init(&vq->poll, vq->handle_kick, EPOLLIN,
					   dev, vq);
	}

	vhost_kt_admin_add(dev);
}
EXPORT_SYMBOL_GPL(vhost_kt_dev_init);

/**
 * vhost_kt_dev_check_owner - may the caller configure this device?
 * @dev: the device (caller holds dev->mutex)
 *
 * As upstream, only the owner's address space may; before VHOST_SET_OWNER
 * nobody may (beyond the worker-mode ioctls).
 *
 * Return: 0 or -EPERM.
 */
long vhost_kt_dev_check_owner(struct vhost_kt_dev *dev)
{
	return dev->mm == current->mm ? 0 : -EPERM;
}
EXPORT_SYMBOL_GPL(vhost_kt_dev_check_owner);

/**
 * vhost_kt_dev_has_owner - has VHOST_SET_OWNER been done?
 * @dev: the device (caller holds dev->mutex)
 */
bool vhost_kt_dev_has_owner(struct vhost_kt_dev *dev)
{
	return dev->mm;
}
EXPORT_SYMBOL_GPL(vhost_kt_dev_has_owner);

static void vkt_vq_free_iovecs(struct vhost_kt_virtqueue *vq)
{
	kfree(vq->iov);
	vq->iov = NULL;
	kfree(vq->indirect);
	vq->indirect = NULL;
	kfree(vq->log);
	vq->log = NULL;
	kfree(vq->heads);
	vq->heads = NULL;
}

static int vkt_dev_alloc_iovecs(struct vhost_kt_dev *dev)
{
	int i;

	for (i = 0; i < dev->nvqs; i++) {
		struct vhost_kt_virtqueue *vq = dev->vqs[i];

		vq->iov = kmalloc_array(UIO_MAXIOV, sizeof(*vq->iov),
					GFP_KERNEL_ACCOUNT);
		vq->indirect = kmalloc_array(UIO_MAXIOV, sizeof(*vq->indirect),
					     GFP_KERNEL_ACCOUNT);
		vq->log = kmalloc_array(dev->iov_limit, sizeof(*vq->log),
					GFP_KERNEL_ACCOUNT);
		vq->heads = kmalloc_array(dev->iov_limit, sizeof(*vq->heads),
					  GFP_KERNEL_ACCOUNT);
		if (!vq->iov || !vq->indirect || !vq->log || !vq->heads)
			goto err;
	}
	return 0;
err:
	for (; i >= 0; i--)
		vkt_vq_free_iovecs(dev->vqs[i]);
	return -ENOMEM;
}

static void vkt_dev_free_iovecs(struct vhost_kt_dev *dev)
{
	int i;

	for (i = 0; i < dev->nvqs; i++)
		vkt_vq_free_iovecs(dev->vqs[i]);
}

static void vkt_detach_mm(struct vhost_kt_dev *dev)
{
	if (!dev->mm)
		return;
	if (dev->mm_users_ref)
		mmput(dev->mm);
	else
		mmdrop(dev->mm);
	dev->mm = NULL;
	dev->mm_users_ref = false;
	dev->owner_pid = 0;
}

/**
 * vhost_kt_dev_set_owner - make the caller's process the owner
 * @dev: the device (caller holds dev->mutex)
 *
 * Takes the owner's mm as the worker mode needs it, allocates the per-vq
 * buffers and starts the default worker (if dev->use_worker).
 *
 * Return: 0, -EBUSY if already owned, -EINVAL if the caller has no mm,
 * -ENOMEM, -EPERM if the device's mode is not the default while the admin
 * locked modes (lock_mode=Y), or the worker creation error.
 */
long vhost_kt_dev_set_owner(struct vhost_kt_dev *dev)
{
	long err;

	if (vhost_kt_dev_has_owner(dev))
		return -EBUSY;
	if (!current->mm)
		return -EINVAL;

	if (dev->mode == VHOST_KT_MODE_KTHREAD) {
		dev->mm = get_task_mm(current);
		if (!dev->mm)
			return -EINVAL;
		dev->mm_users_ref = true;
	} else {
		dev->mm = current->mm;
		mmgrab(dev->mm);
		dev->mm_users_ref = false;
	}
	dev->owner_pid = current->tgid;

	err = vkt_dev_alloc_iovecs(dev);
	if (err)
		goto err_mm;

	/* Last: once a worker runs, kick work may be queued to it. */
	if (dev->use_worker) {
		err = vhost_kt_dev_workers_start(dev);
		if (err)
			goto err_iovecs;
	}
	return 0;

err_iovecs:
	vkt_dev_free_iovecs(dev);
err_mm:
	vkt_detach_mm(dev);
	return err;
}
EXPORT_SYMBOL_GPL(vhost_kt_dev_set_owner);

/**
 * vhost_kt_dev_reset_owner_prepare - allocate the empty memory table that
 * vhost_kt_dev_reset_owner() installs, so that the reset itself cannot fail
 *
 * Return: the table, or NULL (the backend then fails with -ENOMEM).
 */
struct vhost_kt_iotlb *vhost_kt_dev_reset_owner_prepare(void)
{
	return vhost_kt_iotlb_alloc(0, 0);
}
EXPORT_SYMBOL_GPL(vhost_kt_dev_reset_owner_prepare);

/**
 * vhost_kt_dev_stop - stop polling the kick files and flush pending work
 * @dev: the device
 *
 * Backends call it before tearing down their own state; calling it twice
 * is harmless.
 */
void vhost_kt_dev_stop(struct vhost_kt_dev *dev)
{
	int i;

	for (i = 0; i < dev->nvqs; i++) {
		struct vhost_kt_virtqueue *vq = dev->vqs[i];

		if (vq->kick && vq->handle_kick)
			vhost_kt_poll_stop(&vq->poll);
	}
	vhost_kt_dev_flush(dev);
}
EXPORT_SYMBOL_GPL(vhost_kt_dev_stop);

/* Everything SET_OWNER and the configuration ioctls built, undone. */
static void vkt_dev_release(struct vhost_kt_dev *dev)
{
	int i;

	vhost_kt_dev_stop(dev);

	for (i = 0; i < dev->nvqs; i++) {
		struct vhost_kt_virtqueue *vq = dev->vqs[i];

		if (vq->error_ctx)
			eventfd_ctx_put(vq->error_ctx);
		if (vq->kick)
			fput(vq->kick);
		if (vq->call_ctx)
			eventfd_ctx_put(vq->call_ctx);
		vhost_kt_vq_reset(vq);
	}
	vkt_dev_free_iovecs(dev);
	if (dev->log_ctx)
		eventfd_ctx_put(dev->log_ctx);
	dev->log_ctx = NULL;

	/* The queues are stopped: nobody translates any more. */
	vhost_kt_iotlb_free(dev->umem);
	dev->umem = NULL;
	vhost_kt_iotlb_free(dev->iotlb);
	dev->iotlb = NULL;
	vhost_kt_clear_msg(dev);
	/* Readers blocked for IOTLB messages now get -EBADFD. */
	wake_up_interruptible_poll(&dev->wait, EPOLLIN | EPOLLRDNORM);

	/* Before the mm goes: a kthread worker still uses it. */
	vhost_kt_dev_workers_free(dev);
	vkt_detach_mm(dev);
}

/**
 * vhost_kt_dev_reset_owner - VHOST_RESET_OWNER: back to a fresh device
 * @dev: the device (caller holds dev->mutex, backend already stopped)
 * @umem: from vhost_kt_dev_reset_owner_prepare(), becomes the memory table
 *
 * The worker mode returns to the device's default.
 */
void vhost_kt_dev_reset_owner(struct vhost_kt_dev *dev,
			      struct vhost_kt_iotlb *umem)
{
	vkt_dev_release(dev);
	dev->mode = dev->default_mode;
	dev->umem = umem;
}
EXPORT_SYMBOL_GPL(vhost_kt_dev_reset_owner);

/**
 * vhost_kt_dev_cleanup - release everything, at close
 * @dev: the device (backend already stopped and flushed)
 *
 * Stops polling, frees the workers, drops eventfds, kick files, memory
 * tables, queued IOTLB messages and the owner's mm, and unlists the device
 * for admins.  The device must not be used afterwards except by
 * vhost_kt_dev_init().
 */
void vhost_kt_dev_cleanup(struct vhost_kt_dev *dev)
{
	vkt_dev_release(dev);
	vhost_kt_admin_del(dev);
}
EXPORT_SYMBOL_GPL(vhost_kt_dev_cleanup);

/**
 * vhost_kt_set_backend_features - VHOST_SET_BACKEND_FEATURES for all vqs
 * @dev: the device (takes dev->mutex and each vq mutex)
 * @features: already checked against what the backend offers
 */
void vhost_kt_set_backend_features(struct vhost_kt_dev *dev, u64 features)
{
	int i;

	mutex_lock(&dev->mutex);
	for (i = 0; i < dev->nvqs; i++) {
		struct vhost_kt_virtqueue *vq = dev->vqs[i];

		mutex_lock(&vq->mutex);
		vq->acked_backend_features = features;
		mutex_unlock(&vq->mutex);
	}
	mutex_unlock(&dev->mutex);
}
EXPORT_SYMBOL_GPL(vhost_kt_set_backend_features);

/**
 * vhost_kt_get_features_array - VHOST_GET_FEATURES_ARRAY
 * @argp: user struct { __u64 count; __u64 features[count]; }
 * @features: the backend's feature bits (vhost-kt offers none above 63)
 *
 * Writes min(count, 1) words of features and zeroes the rest of the
 * caller's array, as upstream.
 *
 * Return: 0 or -EFAULT.
 */
long vhost_kt_get_features_array(void __user *argp, u64 features)
{
	u64 __user *words = (u64 __user *)argp + 1;
	u64 count;

	if (copy_from_user(&count, argp, sizeof(count)))
		return -EFAULT;
	if (!count)
		return 0;
	if (copy_to_user(words, &features, sizeof(features)))
		return -EFAULT;
	if (count > 1 && clear_user(words + 1,
				    size_mul(count - 1, sizeof(u64))))
		return -EFAULT;
	return 0;
}
EXPORT_SYMBOL_GPL(vhost_kt_get_features_array);

/**
 * vhost_kt_set_features_array - read a VHOST_SET_FEATURES_ARRAY argument
 * @argp: user struct { __u64 count; __u64 features[count]; }
 * @supported: the bits the backend offers
 * @features: set to the requested bits on success
 *
 * The backend then applies *@features as for VHOST_SET_FEATURES.
 *
 * Return: 0, -EFAULT, or -EOPNOTSUPP if a bit outside @supported (or any
 * bit above 63) is set.
 */
long vhost_kt_set_features_array(void __user *argp, u64 supported,
				 u64 *features)
{
	u64 __user *words = (u64 __user *)argp + 1;
	u64 count, i, w, val = 0;

	if (copy_from_user(&count, argp, sizeof(count)))
		return -EFAULT;
	if (count && copy_from_user(&val, words, sizeof(val)))
		return -EFAULT;
	for (i = 1; i < count; i++) {
		if (get_user(w, words + i))
			return -EFAULT;
		if (w)
			return -EOPNOTSUPP;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	if (val & ~supported)
		return -EOPNOTSUPP;
	*features = val;
	return 0;
}
EXPORT_SYMBOL_GPL(vhost_kt_set_features_array);

/**
 * vhost_kt_dev_ioctl - device-wide ioctls shared by all backends
 * @dev: the device (caller holds dev->mutex)
 * @ioctl: the command
 * @argp: user argument
 *
 * Order: worker-mode ioctls (any opener, before SET_OWNER), SET_OWNER, then
 * the worker ioctls (which check the owner as upstream does), then the owner
 * check for VHOST_SET_MEM_TABLE, VHOST_SET_LOG_BASE and VHOST_SET_LOG_FD.  VHOST_RESET_OWNER and the
 * feature ioctls belong to the backend.
 *
 * Return: 0, -errno, or -ENOIOCTLCMD for commands it does not handle (the
 * backend then tries vhost_kt_vring_ioctl()).
 */
long vhost_kt_dev_ioctl(struct vhost_kt_dev *dev, unsigned int ioctl,
			void __user *argp)
{
	long r;

	r = vhost_kt_mode_ioctl(dev, ioctl, argp);
	if (r != -ENOIOCTLCMD)
		return r;

	if (ioctl == VHOST_SET_OWNER)
		return vhost_kt_dev_set_owner(dev);

	/* Worker ioctls check the owner themselves: -EINVAL before one exists. */
	r = vhost_kt_worker_ioctl(dev, ioctl, argp);
	if (r != -ENOIOCTLCMD)
		return r;

	r = vhost_kt_dev_check_owner(dev);
	if (r)
		return r;

	switch (ioctl) {
	case VHOST_SET_MEM_TABLE:
		return vhost_kt_set_memory(dev, argp);
	case VHOST_SET_LOG_BASE:
		return vhost_kt_set_log_base(dev, argp);
	case VHOST_SET_LOG_FD:
		return vhost_kt_set_log_fd(dev, argp);
	default:
		return -ENOIOCTLCMD;
	}
}
EXPORT_SYMBOL_GPL(vhost_kt_dev_ioctl);
