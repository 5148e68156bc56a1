// SPDX-License-Identifier: GPL-2.0-only
/*
 * Kthread mode: the worker is a kernel thread named vhost-<owner pid>, a
 * child of kthreadd, as before Linux 6.4.  It borrows the owner's address
 * space (kthread_use_mm) and is moved into every cgroup of the owner, so
 * CPU, memory and I/O limits still apply to it; it is not counted in the
 * owner's RLIMIT_NPROC (which is why NEW_WORKER is refused in this mode),
 * ignores signals and is not frozen with the owner.
 */
#include <linux/cgroup.h>
#include <linux/kthread.h>
#include <linux/sched.h>

#include "worker.h"

static int vhost_kt_kthread_fn(void *data)
{
	struct vhost_kt_worker *worker = data;
	/* Stays valid: the core drops dev->mm only after stopping us. */
	struct mm_struct *mm = worker->dev->mm;

	kthread_use_mm(mm);

	for (;;) {
		/* Pairs with the barrier in kthread_stop()/wake_up_process(). */
		set_current_state(TASK_INTERRUPTIBLE);

		if (kthread_should_stop()) {
			__set_current_state(TASK_RUNNING);
			break;
		}

		if (!vhost_kt_worker_run_work(worker))
			schedule();
	}

	kthread_unuse_mm(mm);
	return 0;
}

struct vhost_kt_kthread_attach {
	struct vhost_kt_work work;
	struct task_struct *owner;
	struct completion done;
	int ret;
};

static void vhost_kt_kthread_attach_fn(struct vhost_kt_work *work)
{
	struct vhost_kt_kthread_attach *attach;

	attach = container_of(work, struct vhost_kt_kthread_attach, work);
	attach->ret = vhost_kt_cgroup_attach_task_all(attach->owner, current);
	complete(&attach->done);
}

/*
 * Called in the owner's context (SET_OWNER).  The cgroup move is done by the
 * new thread itself, as pre-6.4 vhost did: controllers check the mover
 * against the moved task (cpuset asks the LSM and cap_safe_nice() whether
 * current may change the task's scheduling), and an unprivileged owner may
 * not do that to a kthread holding full capabilities, while a thread may
 * always move itself.
 */
static int vhost_kt_kthread_create(struct vhost_kt_worker *worker,
				   struct vhost_kt_dev *dev, const char *name)
{
	struct vhost_kt_kthread_attach attach;
	struct task_struct *task;

	/* Kthread mode is only possible with the owner's mm pinned. */
	if (!dev->mm)
		return -EINVAL;

	task = kthread_create(vhost_kt_kthread_fn, worker, "%s", name);
	if (IS_ERR(task))
		return PTR_ERR(task);

	worker->thread = task;
	worker->tid = task_pid_nr(task);

	/* Queued before the first wakeup: the thread's first job. */
	attach.owner = current;
	init_completion(&attach.done);
	vhost_kt_work_init(&attach.work, vhost_kt_kthread_attach_fn);
	set_bit(VHOST_KT_WORK_QUEUED, &attach.work.flags);
	llist_add(&attach.work.node, &worker->work_list);

	wake_up_process(task);
	wait_for_completion(&attach.done);
	if (attach.ret)
		goto err_stop;

	return 0;

err_stop:
	kthread_stop(task);
	worker->thread = NULL;
	worker->tid = 0;
	return attach.ret;
}

static void vhost_kt_kthread_wakeup(struct vhost_kt_worker *worker)
{
	wake_up_process(worker->thread);
}

static void vhost_kt_kthread_stop(struct vhost_kt_worker *worker)
{
	kthread_stop(worker->thread);
	worker->thread = NULL;
}

const struct vhost_kt_worker_ops vhost_kt_kthread_ops = {
	.create = vhost_kt_kthread_create,
	.wakeup = vhost_kt_kthread_wakeup,
	.stop = vhost_kt_kthread_stop,
};
