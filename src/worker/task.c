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
#include <linux/sched.h>

#include "worker.h"

#ifdef COMPAT_HAVE_VHOST_TASK

/*
 * struct vhost_task is private to kernel/vhost_task.c and its layout changes
 * between releases, so the thread's id cannot be read from the handle.  The
 * thread records it itself the first time it runs; until then the admin
 * listing shows tid 0.  Waiting for that first run in SET_OWNER, as earlier
 * versions did, cost a scheduling round trip per device that stock vhost
 * does not pay.
 */
static void vhost_kt_task_note_tid(struct vhost_kt_worker *worker)
{
	if (unlikely(!READ_ONCE(worker->tid)))
		WRITE_ONCE(worker->tid, task_pid_nr(current));
}

static bool vhost_kt_task_fn(void *data)
{
	struct vhost_kt_worker *worker = data;

	vhost_kt_task_note_tid(worker);
	return vhost_kt_worker_run_work(worker);
}

/*
 * The owner got SIGKILL: our thread is exiting (6.10+ only).  It may not
 * have run any work yet, hence the tid.
 */
static void vhost_kt_task_sigkill(void *data)
{
	struct vhost_kt_worker *worker = data;

	vhost_kt_task_note_tid(worker);
	vhost_kt_worker_killed(worker);
}

static int vhost_kt_task_create(struct vhost_kt_worker *worker,
				struct vhost_kt_dev *dev, const char *name)
{
	struct vhost_task *vtsk;

	vtsk = vhost_kt_compat_task_create(vhost_kt_task_fn,
					   vhost_kt_task_sigkill, worker, name);
	if (IS_ERR(vtsk))
		return PTR_ERR(vtsk);
	worker->thread = vtsk;
	vhost_task_start(vtsk);

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
