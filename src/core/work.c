// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-kt work items, flushes and file polling.
 *
 * A virtqueue reaches its worker through vq->worker, an RCU pointer: queueing
 * happens from wait-queue callbacks (eventfd and socket wakeups, i.e. atomic
 * context) and must never take a lock that ATTACH_VRING_WORKER or the
 * SIGKILL handler holds while they swap the pointer.  Which lock or grace
 * period keeps the worker found that way alive is set out in
 * src/worker/worker.h.
 */
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/rcupdate.h>

#include "vhost.h"
#include "../worker/worker.h"

void vhost_kt_work_init(struct vhost_kt_work *work, vhost_kt_work_fn_t fn)
{
	clear_bit(VHOST_KT_WORK_QUEUED, &work->flags);
	work->fn = fn;
}
EXPORT_SYMBOL_GPL(vhost_kt_work_init);

/*
 * Returns false when the vq has no worker (no owner yet, after RESET_OWNER,
 * or after the owner was killed): the caller's work will not run, and a
 * caller that waits for it must not.
 */
bool vhost_kt_vq_work_queue(struct vhost_kt_virtqueue *vq,
			    struct vhost_kt_work *work)
{
	struct vhost_kt_worker *worker;
	bool queued = false;

	rcu_read_lock();
	worker = rcu_dereference(vq->worker);
	if (worker && !READ_ONCE(worker->killed)) {
		vhost_kt_race_window();
		vhost_kt_worker_queue(worker, work);
		queued = true;
	}
	rcu_read_unlock();

	return queued;
}
EXPORT_SYMBOL_GPL(vhost_kt_vq_work_queue);

/*
 * Flushes every worker of the device.  The worker xarray is walked without
 * RCU protection of the workers themselves, so the caller holds dev->mutex,
 * which keeps NEW/FREE_WORKER and RESET_OWNER away.
 */
void vhost_kt_dev_flush(struct vhost_kt_dev *dev)
{
	struct vhost_kt_worker *worker;
	unsigned long i;

	xa_for_each(&dev->worker_xa, i, worker)
		vhost_kt_worker_flush(worker);
}
EXPORT_SYMBOL_GPL(vhost_kt_dev_flush);

/* A lockless hint for busy-polling loops that other work is waiting. */
bool vhost_kt_vq_has_work(struct vhost_kt_virtqueue *vq)
{
	struct vhost_kt_worker *worker;
	bool has_work = false;

	rcu_read_lock();
	worker = rcu_dereference(vq->worker);
	if (worker && !llist_empty(&worker->work_list))
		has_work = true;
	rcu_read_unlock();

	return has_work;
}
EXPORT_SYMBOL_GPL(vhost_kt_vq_has_work);

static void vhost_kt_poll_func(struct file *file, wait_queue_head_t *wqh,
			       poll_table *pt)
{
	struct vhost_kt_poll *poll = container_of(pt, struct vhost_kt_poll,
						  table);

	poll->wqh = wqh;
	add_wait_queue(wqh, &poll->wait);
}

/* Runs under the polled file's wait-queue lock: queue, never sleep. */
static int vhost_kt_poll_wakeup(wait_queue_entry_t *wait, unsigned int mode,
				int sync, void *key)
{
	struct vhost_kt_poll *poll = container_of(wait, struct vhost_kt_poll,
						  wait);
	struct vhost_kt_work *work = &poll->work;

	if (!(key_to_poll(key) & poll->mask))
		return 0;

	if (!poll->dev->use_worker)
		work->fn(work);
	else
		vhost_kt_poll_queue(poll);

	return 0;
}

void vhost_kt_poll_init(struct vhost_kt_poll *poll, vhost_kt_work_fn_t fn,
			__poll_t mask, struct vhost_kt_dev *dev,
			struct vhost_kt_virtqueue *vq)
{
	init_waitqueue_func_entry(&poll->wait, vhost_kt_poll_wakeup);
	init_poll_funcptr(&poll->table, vhost_kt_poll_func);
	poll->mask = mask;
	poll->dev = dev;
	poll->vq = vq;
	poll->wqh = NULL;

	vhost_kt_work_init(&poll->work, fn);
}
EXPORT_SYMBOL_GPL(vhost_kt_poll_init);

/*
 * Starts polling @file.  The caller keeps a reference to the file until after
 * vhost_kt_poll_stop().  Events already pending are acted on at once, as a
 * kick sent before SET_VRING_KICK must not be lost.  A file that reports
 * EPOLLERR (e.g. a socket in error state) is refused with -EINVAL.
 */
int vhost_kt_poll_start(struct vhost_kt_poll *poll, struct file *file)
{
	__poll_t mask;

	if (poll->wqh)
		return 0;

	mask = vfs_poll(file, &poll->table);
	if (mask)
		vhost_kt_poll_wakeup(&poll->wait, 0, 0, poll_to_key(mask));
	if (mask & EPOLLERR) {
		vhost_kt_poll_stop(poll);
		return -EINVAL;
	}

	return 0;
}
EXPORT_SYMBOL_GPL(vhost_kt_poll_start);

/*
 * After this returns the file may be released; work it queued may still be
 * pending, so callers flush afterwards.
 */
void vhost_kt_poll_stop(struct vhost_kt_poll *poll)
{
	if (poll->wqh) {
		remove_wait_queue(poll->wqh, &poll->wait);
		poll->wqh = NULL;
	}
}
EXPORT_SYMBOL_GPL(vhost_kt_poll_stop);

void vhost_kt_poll_queue(struct vhost_kt_poll *poll)
{
	vhost_kt_vq_work_queue(poll->vq, &poll->work);
}
EXPORT_SYMBOL_GPL(vhost_kt_poll_queue);

#ifdef VHOST_KT_RACE_WINDOW
/*
 * Test builds only (Kbuild: VKT_RACE_WINDOW=y), never shipped: stall the
 * IOTLB write path between finding a vq's worker and queueing on it.  With
 * the queueing outside dev->mutex, as it once was, the racing fuzzer then
 * destroys that worker inside the stall within seconds; with it inside, the
 * stall only delays RESET_OWNER and FREE_WORKER.  race_window_hits counts
 * the stalls, so a run shows that the window was really entered.  One
 * marked task at a time is enough.
 */
static struct task_struct *vkt_race_task;
static unsigned int race_window_ms = 20;
module_param(race_window_ms, uint, 0644);
MODULE_PARM_DESC(race_window_ms, "Test builds: stall of the race window (default 20 ms)");
static unsigned int race_window_hits;
module_param(race_window_hits, uint, 0444);
MODULE_PARM_DESC(race_window_hits, "Test builds: stalls so far");

void vhost_kt_race_window_begin(void)
{
	WRITE_ONCE(vkt_race_task, current);
}

void vhost_kt_race_window_end(void)
{
	WRITE_ONCE(vkt_race_task, NULL);
}

void vhost_kt_race_window(void)
{
	/*
	 * Not in an interrupt that happens to arrive in the marked task; once
	 * per message, however many queues it restarts.
	 */
	if (in_task() && READ_ONCE(vkt_race_task) == current) {
		WRITE_ONCE(vkt_race_task, NULL);
		WRITE_ONCE(race_window_hits, race_window_hits + 1);
		mdelay(READ_ONCE(race_window_ms));
	}
}
/* modinfo and the kernel's TAINT_TEST say that this is no product build. */
MODULE_INFO(test, "Y");
#endif
