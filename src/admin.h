/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What an admin can see: every open device, its owner, its worker mode and
 * its worker threads, under /sys/kernel/debug/vhost_kt/ and in the fdinfo
 * of each device fd.
 */
#ifndef _VHOST_KT_ADMIN_H
#define _VHOST_KT_ADMIN_H

struct seq_file;
struct vhost_kt_dev;

void vhost_kt_admin_init(void);
void vhost_kt_admin_exit(void);
/*
 * add: once per device, from vhost_kt_dev_init().  del: before the device's
 * memory is freed (release); idempotent, so calling it from a cleanup path
 * that RESET_OWNER also takes is harmless, but the device then drops out of
 * the listing until it is closed.  The listing takes no device lock, so
 * both may be called with dev->mutex held.
 */
void vhost_kt_admin_add(struct vhost_kt_dev *dev);
void vhost_kt_admin_del(struct vhost_kt_dev *dev);
/* The device's lines of /proc/<pid>/fdinfo/<fd>; takes no device lock. */
void vhost_kt_admin_show_fdinfo(struct seq_file *s, struct vhost_kt_dev *dev);

#endif
