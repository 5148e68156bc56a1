// SPDX-License-Identifier: GPL-2.0-only
/*
 * Per-device worker mode: VHOST_SET/GET_FORK_FROM_OWNER.
 *
 * Same numbers, argument (__u8: VHOST_FORK_OWNER_KTHREAD 0,
 * VHOST_FORK_OWNER_TASK 1) and errors as upstream Linux 6.17, plus the
 * numbers of the first merged version (SET 0x4001af83, GET 0x8001af84),
 * which some 6.12.y/6.16.y stable kernels shipped.
 *
 * Like upstream these are served before the owner check, to any opener, and
 * SET only works before VHOST_SET_OWNER.  Errors, in the order checked:
 *   SET  -EBUSY       the device has an owner already
 *        -EFAULT      bad pointer
 *        -EINVAL      value other than 0 or 1
 *        -EOPNOTSUPP  VHOST_FORK_OWNER_TASK on a kernel without vhost_task
 *                     (Linux < 6.4 or CONFIG_VHOST_TASK=n)
 *        -EPERM       value differs from the device's default mode while
 *                     the admin locked modes (lock_mode=Y) or the device was
 *                     opened through a per-mode node (/dev/vhost-kt-net-*);
 *                     setting the default mode itself always succeeds
 *   GET  -EFAULT      bad pointer
 * Where upstream gates the ioctls behind a Kconfig option, vhost-kt gates
 * them behind the lock_mode parameter: a process must not escape its
 * container's RLIMIT_NPROC just by asking for kthreads if the admin says
 * no.
 */
#include <linux/uaccess.h>

#include "worker.h"

static long vhost_kt_set_mode(struct vhost_kt_dev *dev, u8 __user *argp)
{
	enum vhost_kt_mode mode;
	u8 val;

	if (vhost_kt_dev_has_owner(dev))
		return -EBUSY;
	if (get_user(val, argp))
		return -EFAULT;

	switch (val) {
	case VHOST_FORK_OWNER_KTHREAD:
		mode = VHOST_KT_MODE_KTHREAD;
		break;
	case VHOST_FORK_OWNER_TASK:
		mode = VHOST_KT_MODE_TASK;
		break;
	default:
		return -EINVAL;
	}

	if (!vhost_kt_mode_supported(mode))
		return -EOPNOTSUPP;
	if ((READ_ONCE(vhost_kt_mode_locked) || dev->mode_fixed) &&
	    mode != dev->default_mode)
		return -EPERM;

	WRITE_ONCE(dev->mode, mode);
	return 0;
}

/* Caller holds dev->mutex, which orders us against SET/RESET_OWNER. */
long vhost_kt_mode_ioctl(struct vhost_kt_dev *dev, unsigned int ioctl,
			 void __user *argp)
{
	u8 val;

	switch (ioctl) {
	case VHOST_KT_SET_FORK_FROM_OWNER:
	case VHOST_KT_SET_FORK_FROM_OWNER_OLD:
		return vhost_kt_set_mode(dev, argp);
	case VHOST_KT_GET_FORK_FROM_OWNER:
	case VHOST_KT_GET_FORK_FROM_OWNER_OLD:
		val = dev->mode == VHOST_KT_MODE_TASK ?
		      VHOST_FORK_OWNER_TASK : VHOST_FORK_OWNER_KTHREAD;
		if (put_user(val, (u8 __user *)argp))
			return -EFAULT;
		return 0;
	default:
		return -ENOIOCTLCMD;
	}
}
