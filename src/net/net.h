/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _VHOST_KT_NET_H
#define _VHOST_KT_NET_H

/* Registers /dev/vhost-kt-net and the per-mode nodes. */
int vhost_kt_net_init(void);
void vhost_kt_net_exit(void);

#endif
