// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-kt workers: creation, queueing, flushing, vring attachment and the
 * worker ioctls.  Nothing here depends on the worker mode; the thread itself
 * comes from the backend table (task.c, kthread.c) chosen at creation.
 *
 * Locking, outermost first: dev->mutex (ioctls, SET/RESET_OWNER),
 * worker->mutex (flushes, attachment changes, the SIGKILL handler),
 * vq->mutex (vq->worker updates).  Queueing takes none of them: it finds the
 * worker through RCU (see src/core/work.c).
 */
#include <linux/completion.h>
#include <linux/kcov.h>
#include <linux/module.h>
#include <linux/nospec.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "worker.h"

const struct vhost_kt_worker_ops *
vhost_kt_worker_ops_for(enum vhost_kt_mode mode)
{
	return mode == VHOST_KT_MODE_TASK ? &vhost_kt_task_ops :
					    &vhost_kt_kthread_ops;
}

bool vhost_kt_worker_run_work(struct vhost_kt_worker *worker)
{
	struct vhost_kt_work *work, *next;
	struct llist_node *node;

	node = llist_del_all(&worker->work_list);
	if (!node)
		return false;

	__set_current_state(TASK_RUNNING);
	/* Producers push at the head; run the items in the order queued. */
	node = llist_reverse_order(node);
	/*
	 * The items must be off the list before anyone can see QUEUED clear,
	 * or a concurrent vhost_kt_worker_queue() would re-add a node that is
	 * still linked here.
	 */
	smp_wmb();
	llist_for_each_entry_safe(work, next, node, node) {
		/*
		 * Cleared before fn runs so that fn (or a wakeup during it)
		 * can queue the item again; next was read already, and a
		 * flush item may be gone once fn returns.
		 */
		clear_bit(VHOST_KT_WORK_QUEUED, &work->flags);
		kcov_remote_start_common(worker->kcov_handle.id);
		work->fn(work);
		kcov_remote_stop();
		cond_resched();
	}

	return true;
}

void vhost_kt_worker_queue(struct vhost_kt_worker *worker,
			   struct vhost_kt_work *work)
{
	/*
	 * test_and_set_bit() is a full barrier: the item is only linked once
	 * we own it, and the worker sees the link after the bit.
	 */
	if (!test_and_set_bit(VHOST_KT_WORK_QUEUED, &work->flags)) {
		llist_add(&work->node, &worker->work_list);
		worker->ops->wakeup(worker);
	}
}

struct vhost_kt_worker_sync {
	struct vhost_kt_work work;
	struct completion done;
};

static void vhost_kt_worker_sync_fn(struct vhost_kt_work *work)
{
	struct vhost_kt_worker_sync *sync;

	sync = container_of(work, struct vhost_kt_worker_sync, work);
	complete(&sync->done);
}

/*
 * Called with worker->mutex held.  A worker with no vq cannot have work
 * queued through RCU, and a killed one ran its list in the SIGKILL handler
 * and will not run anything else: neither is waited for.  The mutex is
 * dropped while waiting because that handler needs it to finish the work
 * we are waiting on.
 */
static void __vhost_kt_worker_flush(struct vhost_kt_worker *worker)
{
	struct vhost_kt_worker_sync flush;

	if (!worker->attachment_cnt || worker->killed)
		return;

	init_completion(&flush.done);
	vhost_kt_work_init(&flush.work, vhost_kt_worker_sync_fn);
	vhost_kt_worker_queue(worker, &flush.work);

	mutex_unlock(&worker->mutex);
	wait_for_completion(&flush.done);
	mutex_lock(&worker->mutex);
}

void vhost_kt_worker_flush(struct vhost_kt_worker *worker)
{
	mutex_lock(&worker->mutex);
	__vhost_kt_worker_flush(worker);
	mutex_unlock(&worker->mutex);
}

/*
 * The owner got SIGKILL and the task backend's thread is about to exit.
 * Unhook the worker from every vq so nothing new is queued, wait until
 * in-flight queueing (under RCU) is over, then run what is left so pending
 * flushes complete.  Later flushes see ->killed and do not wait; FREE_WORKER
 * refuses the worker; the device's release frees it.
 */
void vhost_kt_worker_killed(struct vhost_kt_worker *worker)
{
	struct vhost_kt_dev *dev = worker->dev;
	struct vhost_kt_virtqueue *vq;
	int i, detached = 0;

	mutex_lock(&worker->mutex);
	WRITE_ONCE(worker->killed, true);

	for (i = 0; i < dev->nvqs; i++) {
		vq = dev->vqs[i];

		mutex_lock(&vq->mutex);
		if (rcu_dereference_protected(vq->worker,
					      lockdep_is_held(&vq->mutex)) ==
		    worker) {
			RCU_INIT_POINTER(vq->worker, NULL);
			detached++;
		}
		mutex_unlock(&vq->mutex);
	}

	worker->attachment_cnt -= detached;
	/*
	 * Even with nothing detached here: ATTACH_VRING_WORKER may have just
	 * moved a vq away from us while a wakeup, having read the old
	 * vq->worker, is still queueing on us; its item must be on our list
	 * before we run it, or its QUEUED bit would stay set for ever.
	 */
	synchronize_rcu();

	vhost_kt_worker_run_work(worker);
	mutex_unlock(&worker->mutex);
}

/*
 * Returns the new worker, registered in dev->worker_xa, or an ERR_PTR:
 * -ENOMEM, -EOPNOTSUPP (task mode without vhost_task), whatever creating
 * the thread failed with (e.g. -EAGAIN at RLIMIT_NPROC in task mode), or
 * the cgroup attach error in kthread mode.  Called with dev->mutex held, in
 * the context of the owner (SET_OWNER or NEW_WORKER).
 */
struct vhost_kt_worker *vhost_kt_worker_create(struct vhost_kt_dev *dev)
{
	struct vhost_kt_worker *worker;
	char name[TASK_COMM_LEN];
	u32 id;
	int ret;

	worker = kzalloc(sizeof(*worker), GFP_KERNEL_ACCOUNT);
	if (!worker)
		return ERR_PTR(-ENOMEM);

	worker->dev = dev;
	worker->ops = vhost_kt_worker_ops_for(dev->mode);
	mutex_init(&worker->mutex);
	init_llist_head(&worker->work_list);
	worker->kcov_handle.id = kcov_common_handle();
	snprintf(name, sizeof(name), "vhost-%d", current->pid);

	ret = worker->ops->create(worker, dev, name);
	if (ret)
		goto err_free;

	/*
	 * Registered last, once the thread runs in its final cgroups: no
	 * failure can follow, so an allocated id is never left behind.
	 */
	ret = xa_alloc(&dev->worker_xa, &id, worker, xa_limit_32b, GFP_KERNEL);
	if (ret < 0)
		goto err_stop;
	worker->id = id;

	return worker;

err_stop:
	worker->ops->stop(worker);
err_free:
	mutex_destroy(&worker->mutex);
	kfree(worker);
	return ERR_PTR(ret);
}

void vhost_kt_worker_destroy(struct vhost_kt_dev *dev,
			     struct vhost_kt_worker *worker)
{
	struct vhost_kt_work *work, *next;
	struct llist_node *node;

	if (!worker)
		return;

	xa_erase(&dev->worker_xa, worker->id);
	worker->ops->stop(worker);

	/*
	 * Callers detach and flush first, so nothing should be left.  If
	 * something is, it can no longer run; make the items queueable again
	 * rather than leave them marked forever.
	 */
	node = llist_del_all(&worker->work_list);
	if (node) {
		pr_warn_once("worker %u stopped with work pending\n",
			     worker->id);
		llist_for_each_entry_safe(work, next, node, node)
			clear_bit(VHOST_KT_WORK_QUEUED, &work->flags);
	}

	mutex_destroy(&worker->mutex);
	/* The debugfs listing may still be looking at it under RCU. */
	kfree_rcu(worker, rcu);
}

/*
 * Points @vq at @worker.  If the vq had another worker, wait until nobody
 * can still queue on the old one and run what they queued, so the vq's work
 * never runs on two threads at once and the old worker may be freed.
 */
static void vhost_kt_vq_attach_worker(struct vhost_kt_virtqueue *vq,
				      struct vhost_kt_worker *worker)
{
	struct vhost_kt_worker *old;

	mutex_lock(&worker->mutex);
	if (worker->killed) {
		mutex_unlock(&worker->mutex);
		return;
	}

	mutex_lock(&vq->mutex);
	old = rcu_dereference_protected(vq->worker,
					lockdep_is_held(&vq->mutex));
	rcu_assign_pointer(vq->worker, worker);
	worker->attachment_cnt++;
	mutex_unlock(&vq->mutex);
	mutex_unlock(&worker->mutex);

	if (!old)
		return;

	/*
	 * Serialise with device-wide flushes, which do not use RCU.  A killed
	 * old worker already waited out its readers and ran its list (see
	 * vhost_kt_worker_killed()).  Otherwise a full grace period, even for
	 * a vq that looks idle: a wakeup or the worker of another vq may have
	 * read vq->worker just before the swap, and once attachment_cnt drops
	 * FREE_WORKER may stop the thread that reader is about to wake.
	 */
	mutex_lock(&old->mutex);
	if (!old->killed) {
		synchronize_rcu();
		__vhost_kt_worker_flush(old);
	}
	old->attachment_cnt--;
	mutex_unlock(&old->mutex);
}

int vhost_kt_dev_workers_start(struct vhost_kt_dev *dev)
{
	struct vhost_kt_worker *worker;
	int i;

	if (!dev->use_worker)
		return 0;

	/*
	 * lock_mode may have been set after this device was opened through a
	 * per-mode node or given its mode: it still gets no other worker.
	 */
	if (READ_ONCE(vhost_kt_mode_locked) &&
	    dev->mode != vhost_kt_default_mode())
		return -EPERM;

	worker = vhost_kt_worker_create(dev);
	if (IS_ERR(worker))
		return PTR_ERR(worker);

	for (i = 0; i < dev->nvqs; i++)
		vhost_kt_vq_attach_worker(dev->vqs[i], worker);

	return 0;
}

void vhost_kt_dev_workers_free(struct vhost_kt_dev *dev)
{
	struct vhost_kt_worker *worker;
	unsigned long i;

	/*
	 * No grace period before the workers go, because no queueing can be
	 * in flight (worker.h lists the queueing paths): the callers stopped
	 * every poll first (remove_wait_queue waits out a wakeup callback
	 * that is queueing work), flushed with the backends detached so no
	 * handler requeues itself, and hold dev->mutex (RESET_OWNER) or the
	 * last reference to the file (release), which keeps out ioctls and
	 * the IOTLB write path.  This keeps close and RESET_OWNER at no grace
	 * period when SET_OWNER in kthread mode already costs one.
	 */
	for (i = 0; i < dev->nvqs; i++) {
		struct vhost_kt_virtqueue *vq = dev->vqs[i];

		/* The SIGKILL handler may be detaching the same worker. */
		mutex_lock(&vq->mutex);
		RCU_INIT_POINTER(vq->worker, NULL);
		mutex_unlock(&vq->mutex);
	}

	/* The default worker plus any that userspace created and left. */
	xa_for_each(&dev->worker_xa, i, worker)
		vhost_kt_worker_destroy(dev, worker);
	xa_destroy(&dev->worker_xa);
}

static int vhost_kt_new_worker(struct vhost_kt_dev *dev,
			       struct vhost_worker_state *state)
{
	struct vhost_kt_worker *worker;

	worker = vhost_kt_worker_create(dev);
	if (IS_ERR(worker))
		return PTR_ERR(worker);

	state->worker_id = worker->id;
	return 0;
}

static int vhost_kt_free_worker(struct vhost_kt_dev *dev,
				struct vhost_worker_state *state)
{
	struct vhost_kt_worker *worker;

	worker = xa_load(&dev->worker_xa, state->worker_id);
	if (!worker)
		return -ENODEV;

	mutex_lock(&worker->mutex);
	if (worker->attachment_cnt || worker->killed) {
		mutex_unlock(&worker->mutex);
		return -EBUSY;
	}
	mutex_unlock(&worker->mutex);

	vhost_kt_worker_destroy(dev, worker);
	return 0;
}

static int vhost_kt_attach_vring_worker(struct vhost_kt_dev *dev,
					struct vhost_kt_virtqueue *vq,
					struct vhost_vring_worker *info)
{
	struct vhost_kt_worker *worker;

	worker = xa_load(&dev->worker_xa, info->worker_id);
	if (!worker)
		return -ENODEV;

	vhost_kt_vq_attach_worker(vq, worker);
	return 0;
}

static int vhost_kt_get_vq_from_user(struct vhost_kt_dev *dev,
				     void __user *argp,
				     struct vhost_kt_virtqueue **vq, u32 *idx)
{
	u32 i;

	if (get_user(i, (u32 __user *)argp))
		return -EFAULT;
	if (i >= dev->nvqs)
		return -ENOBUFS;

	i = array_index_nospec(i, dev->nvqs);
	*vq = dev->vqs[i];
	*idx = i;
	return 0;
}

/*
 * NEW_WORKER, FREE_WORKER, ATTACH_VRING_WORKER, GET_VRING_WORKER, with
 * upstream's errors: -EINVAL without workers or owner, -EPERM for a caller
 * that is not the owner, -EFAULT for NEW_WORKER in kthread mode (kthreads
 * escape the owner's RLIMIT_NPROC, so userspace may not multiply them),
 * -ENODEV for an unknown worker id, -EBUSY to free a worker still attached
 * to a vq or killed, -ENOBUFS for a vring index out of range, -EINVAL for
 * GET_VRING_WORKER on a vq without worker.  Caller holds dev->mutex.
 */
long vhost_kt_worker_ioctl(struct vhost_kt_dev *dev, unsigned int ioctl,
			   void __user *argp)
{
	struct vhost_vring_worker ring_worker;
	struct vhost_worker_state state;
	struct vhost_kt_virtqueue *vq;
	struct vhost_kt_worker *worker;
	long ret;
	u32 idx;

	switch (ioctl) {
	case VHOST_NEW_WORKER:
	case VHOST_FREE_WORKER:
	case VHOST_ATTACH_VRING_WORKER:
	case VHOST_GET_VRING_WORKER:
		break;
	default:
		return -ENOIOCTLCMD;
	}

	if (!dev->use_worker || !vhost_kt_dev_has_owner(dev))
		return -EINVAL;
	ret = vhost_kt_dev_check_owner(dev);
	if (ret)
		return ret;

	switch (ioctl) {
	case VHOST_NEW_WORKER:
		if (dev->mode != VHOST_KT_MODE_TASK)
			return -EFAULT;

		ret = vhost_kt_new_worker(dev, &state);
		if (!ret && copy_to_user(argp, &state, sizeof(state)))
			ret = -EFAULT;
		return ret;
	case VHOST_FREE_WORKER:
		if (copy_from_user(&state, argp, sizeof(state)))
			return -EFAULT;
		return vhost_kt_free_worker(dev, &state);
	}

	ret = vhost_kt_get_vq_from_user(dev, argp, &vq, &idx);
	if (ret)
		return ret;

	if (ioctl == VHOST_ATTACH_VRING_WORKER) {
		if (copy_from_user(&ring_worker, argp, sizeof(ring_worker)))
			return -EFAULT;
		return vhost_kt_attach_vring_worker(dev, vq, &ring_worker);
	}

	/* The SIGKILL handler clears vq->worker under vq->mutex only. */
	mutex_lock(&vq->mutex);
	worker = rcu_dereference_protected(vq->worker,
					   lockdep_is_held(&vq->mutex));
	ring_worker.index = idx;
	ring_worker.worker_id = worker ? worker->id : 0;
	mutex_unlock(&vq->mutex);
	if (!worker)
		return -EINVAL;

	if (copy_to_user(argp, &ring_worker, sizeof(ring_worker)))
		return -EFAULT;
	return 0;
}
