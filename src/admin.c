// SPDX-License-Identifier: GPL-2.0-only
/*
 * What an admin can see of a device: its owner, its worker mode and its
 * worker threads.
 *
 * /proc/<pid>/fdinfo/<fd> of a vhost-kt fd (no debugfs needed):
 *
 *   vhost-mode:	<task|kthread>
 *   vhost-owner:	<tgid>
 *   vhost-workers:	<id>:<tid>[,<id>:<tid>...]
 *
 * /sys/kernel/debug/vhost_kt/devices: one line per open device,
 *
 *   owner=<tgid> mode=<task|kthread> workers=<id>:<tid>[,<id>:<tid>...]
 *
 * owner is 0 before VHOST_SET_OWNER and after RESET_OWNER; workers is "-"
 * when the device has none; a worker whose owner was SIGKILLed (task mode)
 * shows as <id>:<tid>(killed) until the device is closed.  Pids are those
 * of the initial pid namespace.  A task-mode worker's tid is 0 until its
 * thread first runs: SET_OWNER does not wait for that (see task.c).
 *
 * Without CONFIG_DEBUG_FS the debugfs part compiles to no-ops (fdinfo
 * stays); without debugfs mounted the file simply is not visible.
 */
#include <linux/debugfs.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/seq_file.h>

#include "core/vhost.h"
#include "admin.h"

static const char *vhost_kt_admin_mode(struct vhost_kt_dev *dev)
{
	return READ_ONCE(dev->mode) == VHOST_KT_MODE_TASK ? "task" : "kthread";
}

/*
 * Neither dev->mutex nor the worker mutexes: a flush can hold those for as
 * long as the worker is busy.  Workers are freed with kfree_rcu() after
 * leaving the xarray, so RCU is enough here.
 */
static void vhost_kt_admin_show_workers(struct seq_file *s,
					struct vhost_kt_dev *dev)
{
	struct vhost_kt_worker *worker;
	unsigned long id;
	bool first = true;

	rcu_read_lock();
	xa_for_each(&dev->worker_xa, id, worker) {
		seq_printf(s, "%s%lu:%d%s", first ? "" : ",", id,
			   READ_ONCE(worker->tid),
			   READ_ONCE(worker->killed) ? "(killed)" : "");
		first = false;
	}
	rcu_read_unlock();

	seq_puts(s, first ? "-\n" : "\n");
}

/* For a backend's file_operations.show_fdinfo. */
void vhost_kt_admin_show_fdinfo(struct seq_file *s, struct vhost_kt_dev *dev)
{
	seq_printf(s, "vhost-mode:\t%s\n", vhost_kt_admin_mode(dev));
	seq_printf(s, "vhost-owner:\t%d\n", READ_ONCE(dev->owner_pid));
	seq_puts(s, "vhost-workers:\t");
	vhost_kt_admin_show_workers(s, dev);
}

#if IS_ENABLED(CONFIG_DEBUG_FS)

/* Every device between vhost_kt_admin_add() and vhost_kt_admin_del(). */
static LIST_HEAD(vhost_kt_admin_devs);
static DEFINE_MUTEX(vhost_kt_admin_lock);
static struct dentry *vhost_kt_admin_dir;

static void vhost_kt_admin_show_dev(struct seq_file *s,
				    struct vhost_kt_dev *dev)
{
	seq_printf(s, "owner=%d mode=%s workers=", READ_ONCE(dev->owner_pid),
		   vhost_kt_admin_mode(dev));
	vhost_kt_admin_show_workers(s, dev);
}

static int vhost_kt_admin_devices_show(struct seq_file *s, void *unused)
{
	struct vhost_kt_dev *dev;

	mutex_lock(&vhost_kt_admin_lock);
	list_for_each_entry(dev, &vhost_kt_admin_devs, admin_link)
		vhost_kt_admin_show_dev(s, dev);
	mutex_unlock(&vhost_kt_admin_lock);

	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vhost_kt_admin_devices);

void vhost_kt_admin_init(void)
{
	/* debugfs failures are not fatal and need no checking. */
	vhost_kt_admin_dir = debugfs_create_dir("vhost_kt", NULL);
	debugfs_create_file("devices", 0444, vhost_kt_admin_dir, NULL,
			    &vhost_kt_admin_devices_fops);
}

void vhost_kt_admin_exit(void)
{
	debugfs_remove_recursive(vhost_kt_admin_dir);
	vhost_kt_admin_dir = NULL;
}

void vhost_kt_admin_add(struct vhost_kt_dev *dev)
{
	mutex_lock(&vhost_kt_admin_lock);
	list_add_tail(&dev->admin_link, &vhost_kt_admin_devs);
	mutex_unlock(&vhost_kt_admin_lock);
}

void vhost_kt_admin_del(struct vhost_kt_dev *dev)
{
	mutex_lock(&vhost_kt_admin_lock);
	/* Idempotent: safe on a device that was never added or is gone. */
	if (dev->admin_link.next && !list_empty(&dev->admin_link))
		list_del_init(&dev->admin_link);
	mutex_unlock(&vhost_kt_admin_lock);
}

#else /* !CONFIG_DEBUG_FS */

void vhost_kt_admin_init(void)
{
}

void vhost_kt_admin_exit(void)
{
}

void vhost_kt_admin_add(struct vhost_kt_dev *dev)
{
}

void vhost_kt_admin_del(struct vhost_kt_dev *dev)
{
}

#endif /* CONFIG_DEBUG_FS */
