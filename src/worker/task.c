// SPDX-License-Identifier: GPL-2.0-only
/*
 * Task mode: the worker is a vhost_task, a thread of the owner process
 * (Linux 6.4+).  It is counted in the owner's RLIMIT_NPROC, lives in its
 * cgroups and namespaces, shows up in /proc/<owner>/task and is frozen and
 * killed with it.
 *
 * Kernels without vhost_task (or with CONFIG_VHOST_TASK=n) get a table whose
 * create() fails with -EOPNOTSUPP; the mode ioctl refuses task mode there
 * before it can get that far.
 */
#include <linux/completion.h>
#include <linux/sched.h>

#include "worker.h"

#ifdef COMPAT_HAVE_VHOST_TASK

static bool vhost_kt_task_fn(void *data)
{
	return vhost_kt_worker_run_work(data);
}

/* The owner got SIGKILL: our thread is exiting (6.10+ only). */
static void vhost_kt_task_sigkill(void *data)
{
	vhost_kt_worker_killed(data);
}

struct vhost_kt_task_probe {
	struct vhost_kt_work work;
	struct vhost_kt_worker *worker;
	struct completion done;
};

static void vhost_kt_task_probe_fn(struct vhost_kt_work *work)
{
	struct vhost_kt_task_probe *probe;

	probe = container_of(work, struct vhost_kt_task_probe, work);
	WRITE_ONCE(probe->worker->tid, task_pid_nr(current));
	complete(&probe->done);
}

static int vhost_kt_task_create(struct vhost_kt_worker *worker,
				struct vhost_kt_dev *dev, const char *name)
{
	struct vhost_kt_task_probe probe;
	struct vhost_task *vtsk;

	vtsk = vhost_kt_compat_task_create(vhost_kt_task_fn,
					   vhost_kt_task_sigkill, worker, name);
	if (IS_ERR(vtsk))
		return PTR_ERR(vtsk);
	worker->thread = vtsk;

	/*
	 * struct vhost_task is opaque, so the thread reports its own id, once,
	 * before the worker is published: admins never see tid 0.  The item
	 * is on the list before the thread first runs, so it runs even if a
	 * SIGKILL for the owner makes the thread exit at once (the SIGKILL
	 * handler drains the list); queueing it later could wake a thread that
	 * is already gone and wait forever.
	 */
	probe.worker = worker;
	init_completion(&probe.done);
	vhost_kt_work_init(&probe.work, vhost_kt_task_probe_fn);
	set_bit(VHOST_KT_WORK_QUEUED, &probe.work.flags);
	llist_add(&probe.work.node, &worker->work_list);

	vhost_task_start(vtsk);
	wait_for_completion(&probe.done);

	return 0;
}

static void vhost_kt_task_wakeup(struct vhost_kt_worker *worker)
{
	vhost_task_wake(worker->thread);
}

static void vhost_kt_task_stop(struct vhost_kt_worker *worker)
{
	vhost_task_stop(worker->thread);
	worker->thread = NULL;
}

#else /* !COMPAT_HAVE_VHOST_TASK */

static int vhost_kt_task_create(struct vhost_kt_worker *worker,
				struct vhost_kt_dev *dev, const char *name)
{
	return -EOPNOTSUPP;
}

/* Never reached: no task-mode worker can exist on such a kernel. */
static void vhost_kt_task_wakeup(struct vhost_kt_worker *worker)
{
}

static void vhost_kt_task_stop(struct vhost_kt_worker *worker)
{
}

#endif /* COMPAT_HAVE_VHOST_TASK */

const struct vhost_kt_worker_ops vhost_kt_task_ops = {
	.create = vhost_kt_task_create,
	.wakeup = vhost_kt_task_wakeup,
	.stop = vhost_kt_task_stop,
};
