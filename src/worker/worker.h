/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Worker backends.
 *
 * A vhost-kt worker drains a device's llist of vhost_kt_work items in a
 * thread.  How that thread comes to exist is the only thing that differs
 * between the modes, so it sits behind one small table chosen once, when
 * the worker is created; the queueing and flushing code never tests the
 * mode.
 *
 *   task mode:    a vhost_task, i.e. a thread of the owner process that
 *                 inherits its cgroups, namespaces and RLIMIT_NPROC (6.4+).
 *   kthread mode: a kthread named vhost-<owner pid> that adopts the owner's
 *                 mm and joins all of the owner's cgroups (pre-6.4 style).
 */
#ifndef _VHOST_KT_WORKER_H
#define _VHOST_KT_WORKER_H

#include "../core/vhost.h"

/*
 * The worker lifecycle's shared pointers, and what keeps each valid.
 *
 * vq->worker       Written under vq->mutex: by attach (ATTACH_VRING_WORKER
 *                  and SET_OWNER, with dev->mutex and the new worker's
 *                  mutex held), by vhost_kt_dev_workers_free() (RESET_OWNER
 *                  under dev->mutex, or release) and by the SIGKILL
 *                  handler (with that worker's mutex).  Read under RCU by
 *                  every queueing path, under vq->mutex by GET_VRING_WORKER.
 *                  The queueing paths are: the kick and socket wait-queue
 *                  callbacks (stopped by vhost_kt_poll_stop(), which waits
 *                  them out); vhost_kt_poll_start() acting on events
 *                  already pending (SET_VRING_KICK and SET_BACKEND under
 *                  dev->mutex, or a handler re-enabling its own vq); the
 *                  handlers on a worker requeueing their own or the other
 *                  vq (flushed with the backends detached); and the IOTLB
 *                  write path (answered misses, queued with dev->mutex
 *                  held).
 * worker (memory)  Freed by kfree_rcu() in vhost_kt_worker_destroy(), so an
 *                  RCU reader may always dereference a worker it found.
 * worker->thread   Set by ops->create() and cleared by ops->stop(), both in
 *                  create/destroy: under dev->mutex, or at release with no
 *                  other user of the device.  Used by ops->wakeup() from
 *                  queueing, so a worker is only destroyed when no queueing
 *                  can reach it: every vq->worker that pointed at it was
 *                  cleared and then either a grace period passed (attach,
 *                  SIGKILL) or every queueing path was stopped or excluded
 *                  by dev->mutex (workers_free).  FREE_WORKER takes only
 *                  workers with no vq attached, which attach left after a
 *                  grace period.
 * worker->work_list  An llist: any number of producers (who first win the
 *                  item's QUEUED bit), one consumer, the worker thread, or
 *                  the SIGKILL handler once the thread no longer runs work;
 *                  destroy empties it after the thread stopped.
 */

struct vhost_kt_worker_ops {
	/* Create and start the thread for @worker; 0 or -errno. */
	int (*create)(struct vhost_kt_worker *worker, struct vhost_kt_dev *dev,
		      const char *name);
	/* Make the thread run its work list. */
	void (*wakeup)(struct vhost_kt_worker *worker);
	/* Stop the thread and wait for it; the work list must be empty. */
	void (*stop)(struct vhost_kt_worker *worker);
};

extern const struct vhost_kt_worker_ops vhost_kt_task_ops;
extern const struct vhost_kt_worker_ops vhost_kt_kthread_ops;

/*
 * Runs every queued work item once; returns true if there was any.
 * Shared by both backends' thread loops.
 */
bool vhost_kt_worker_run_work(struct vhost_kt_worker *worker);

/* Called by the task backend when the owner got SIGKILL. */
void vhost_kt_worker_killed(struct vhost_kt_worker *worker);

const struct vhost_kt_worker_ops *vhost_kt_worker_ops_for(enum vhost_kt_mode);

/*
 * Worker lifecycle, used by the core (src/core/dev.c).  create() returns an
 * ERR_PTR on failure (never NULL) and must run in the owner's context with
 * dev->mutex held; destroy() stops the thread and frees the worker after an
 * RCU grace period (the debugfs listing reads workers under RCU).
 */
struct vhost_kt_worker *vhost_kt_worker_create(struct vhost_kt_dev *dev);
void vhost_kt_worker_destroy(struct vhost_kt_dev *dev,
			     struct vhost_kt_worker *worker);
void vhost_kt_worker_queue(struct vhost_kt_worker *worker,
			   struct vhost_kt_work *work);
void vhost_kt_worker_flush(struct vhost_kt_worker *worker);

/*
 * At VHOST_SET_OWNER: create the default worker and attach it to every vq
 * (if dev->use_worker).  At RESET_OWNER/cleanup: detach and free them all.
 * workers_start() runs in the owner's context with dev->mutex held, after
 * dev->mode is final and dev->mm is set (kthread mode borrows it); returns
 * 0 or -errno with nothing left behind.  workers_free() must come after
 * polling stopped and before dev->mm is released; it may sleep (RCU grace
 * period, thread exit).
 */
int vhost_kt_dev_workers_start(struct vhost_kt_dev *dev);
void vhost_kt_dev_workers_free(struct vhost_kt_dev *dev);

/*
 * VHOST_SET/GET_FORK_FROM_OWNER and the older numbers.  Called by the core's
 * device ioctl before the owner check, with dev->mutex held (the backend's
 * ioctl takes it around vhost_kt_dev_ioctl()); -ENOIOCTLCMD for anything
 * else.  Errors are listed in src/worker/mode.c.
 */
long vhost_kt_mode_ioctl(struct vhost_kt_dev *dev, unsigned int ioctl,
			 void __user *argp);

#endif /* _VHOST_KT_WORKER_H */
