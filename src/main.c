// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-kt: the vhost core and vhost-net with a choice of worker model,
 * for kernels that do not offer one.
 *
 * This file owns the module-wide settings: which worker mode devices get by
 * default, whether userspace may pick another, and the memory-table limits.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>

#include "core/vhost.h"
#include "net/net.h"
#include "admin.h"

/*
 * Y: task mode (the worker is a thread of the VMM, as since 6.4).
 * N: kthread mode (a kernel thread, as before 6.4).
 * Kernels without vhost_task only have kthread mode, so there the default
 * is N and asking for Y fails the load.
 */
static bool inherit_owner_default;
static bool default_mode_set;

static int mode_param_set(const char *val, const struct kernel_param *kp)
{
	bool task;
	int ret;

	ret = kstrtobool(val, &task);
	if (ret)
		return ret;
	if (task && !vhost_kt_mode_supported(VHOST_KT_MODE_TASK)) {
		pr_err("task mode needs vhost_task, which this kernel lacks\n");
		return -EINVAL;
	}
	inherit_owner_default = task;
	default_mode_set = true;
	return 0;
}

static int mode_param_get(char *buffer, const struct kernel_param *kp)
{
	return sprintf(buffer, "%c\n", inherit_owner_default ? 'Y' : 'N');
}

static const struct kernel_param_ops mode_param_ops = {
	.set = mode_param_set,
	.get = mode_param_get,
};

module_param_cb(inherit_owner_default, &mode_param_ops, NULL, 0444);
MODULE_PARM_DESC(inherit_owner_default,
		 "Default worker mode: Y = vhost_task (thread of the owner), N = kthread");
/* Upstream's name for the same setting (Linux 6.17+ vhost). */
module_param_cb(fork_from_owner_default, &mode_param_ops, NULL, 0444);
MODULE_PARM_DESC(fork_from_owner_default,
		 "Alias of inherit_owner_default, as named by upstream vhost");

bool vhost_kt_mode_locked;
module_param_named(lock_mode, vhost_kt_mode_locked, bool, 0644);
MODULE_PARM_DESC(lock_mode,
		 "Refuse per-device worker modes other than the default (EPERM)");

unsigned int vhost_kt_max_mem_regions = 64;
module_param_named(max_mem_regions, vhost_kt_max_mem_regions, uint, 0444);
MODULE_PARM_DESC(max_mem_regions, "Maximum number of memory regions in a memory table");

unsigned int vhost_kt_max_iotlb_entries = 2048;
module_param_named(max_iotlb_entries, vhost_kt_max_iotlb_entries, uint, 0444);
MODULE_PARM_DESC(max_iotlb_entries, "Maximum number of IOTLB entries per device");

enum vhost_kt_mode vhost_kt_default_mode(void)
{
	return inherit_owner_default ? VHOST_KT_MODE_TASK : VHOST_KT_MODE_KTHREAD;
}
/* For backends outside this module (the test backend in tests/kmod). */
EXPORT_SYMBOL_GPL(vhost_kt_default_mode);

bool vhost_kt_mode_supported(enum vhost_kt_mode mode)
{
	switch (mode) {
	case VHOST_KT_MODE_KTHREAD:
		return true;
	case VHOST_KT_MODE_TASK:
		return vhost_kt_compat_have_vhost_task();
	}
	return false;
}
EXPORT_SYMBOL_GPL(vhost_kt_mode_supported);

static int __init vhost_kt_init(void)
{
	int ret;

	/* The default follows the kernel unless a parameter chose one. */
	if (!default_mode_set)
		inherit_owner_default = vhost_kt_compat_have_vhost_task();

	if (!vhost_kt_max_mem_regions) {
		pr_err("max_mem_regions must be at least 1\n");
		return -EINVAL;
	}

	vhost_kt_admin_init();

	ret = vhost_kt_net_init();
	if (ret)
		goto err_admin;

	pr_info("version %s loaded: default mode %s, vhost_task API %s\n",
		VHOST_KT_VERSION, inherit_owner_default ? "task" : "kthread",
		COMPAT_VHOST_TASK_API);
	return 0;

err_admin:
	vhost_kt_admin_exit();
	return ret;
}

static void __exit vhost_kt_exit(void)
{
	vhost_kt_net_exit();
	vhost_kt_admin_exit();
}

module_init(vhost_kt_init);
module_exit(vhost_kt_exit);

MODULE_VERSION(VHOST_KT_VERSION);
MODULE_LICENSE("GPL");
MODULE_AUTHOR("vhost-kt developers");
MODULE_DESCRIPTION("vhost core and vhost-net with selectable worker mode (vhost_task or kthread)");
