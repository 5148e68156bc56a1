/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-kt compat layer.
 *
 * This is the only file that knows how kernels differ.  It is force-included
 * in every object (see Kbuild), so the rest of the code is written against
 * the newest kernel API and never tests versions itself.
 *
 * Facts that a header alone cannot reveal are probed by Kbuild against the
 * target tree (include/compat/Kbuild.include) and arrive here as
 * COMPAT_* macros.  LINUX_VERSION_CODE is only a fallback.
 */
#ifndef _VHOST_KT_COMPAT_H
#define _VHOST_KT_COMPAT_H

#include <linux/version.h>
#include <linux/kconfig.h>
#include <linux/types.h>
#include <linux/err.h>

/*
 * vhost_task: the API that makes a worker a thread of its owner.
 *   absent       < 6.4, or CONFIG_VHOST_TASK=n: only kthread mode exists.
 *   three-arg    6.4 - 6.9: vhost_task_create(fn, arg, name).
 *   four-arg     6.10+: vhost_task_create(fn, handle_sigkill, arg, name).
 * Failure is NULL up to 6.13 and ERR_PTR from 6.14 (and in some stable
 * kernels before that), so the wrapper below turns both into ERR_PTR.
 */
#if defined(COMPAT_HAVE_VHOST_TASK_H) && IS_ENABLED(CONFIG_VHOST_TASK)
#define COMPAT_HAVE_VHOST_TASK 1
#include <linux/sched/vhost_task.h>

#ifdef COMPAT_VHOST_TASK_HANDLE_SIGKILL
#define COMPAT_VHOST_TASK_API "four-argument (fn, handle_sigkill, arg, name)"
static inline struct vhost_task *
vhost_kt_compat_task_create(bool (*fn)(void *), void (*sigkill)(void *),
			    void *arg, const char *name)
{
	struct vhost_task *vtsk = vhost_task_create(fn, sigkill, arg, name);

	if (IS_ERR_OR_NULL(vtsk))
		return vtsk ? vtsk : ERR_PTR(-ENOMEM);
	return vtsk;
}
#else
#define COMPAT_VHOST_TASK_API "three-argument (fn, arg, name)"
/*
 * Without handle_sigkill the task just stops running its fn after the
 * owner is killed; the core learns about it when it stops the worker.
 */
static inline struct vhost_task *
vhost_kt_compat_task_create(bool (*fn)(void *), void (*sigkill)(void *),
			    void *arg, const char *name)
{
	struct vhost_task *vtsk = vhost_task_create(fn, arg, name);

	if (IS_ERR_OR_NULL(vtsk))
		return vtsk ? vtsk : ERR_PTR(-ENOMEM);
	return vtsk;
}
#endif
#else
#define COMPAT_VHOST_TASK_API "absent"
#endif

static inline bool vhost_kt_compat_have_vhost_task(void)
{
#ifdef COMPAT_HAVE_VHOST_TASK
	return true;
#else
	return false;
#endif
}

/* eventfd_signal() lost its count argument in 6.8. */
#include <linux/eventfd.h>
#ifdef COMPAT_EVENTFD_SIGNAL_HAS_COUNT
#define vhost_kt_eventfd_signal(ctx) eventfd_signal((ctx), 1)
#else
#define vhost_kt_eventfd_signal(ctx) eventfd_signal(ctx)
#endif

/*
 * cgroup_attach_task_all() puts a kthread-mode worker into its owner's
 * cgroups.  It has been exported for vhost since 2.6.36 and is still there
 * in 6.17; should a kernel drop it, kthread mode must fail rather than run
 * workers outside the owner's limits.  (A macro, so that only users need
 * <linux/cgroup.h>.)
 */
#ifndef COMPAT_NO_CGROUP_ATTACH_TASK_ALL
#define vhost_kt_cgroup_attach_task_all(from, to) \
	cgroup_attach_task_all((from), (to))
#else
struct task_struct;
static inline int vhost_kt_cgroup_attach_task_all(struct task_struct *from,
						  struct task_struct *to)
{
	return -EOPNOTSUPP;
}
#endif

/* The kcov remote handle that workers carry: a u64, or a struct in 7.x. */
#include <linux/kcov.h>
struct vhost_kt_kcov_handle {
#ifdef COMPAT_KCOV_HANDLE_STRUCT
	struct kcov_common_handle_id id;
#else
	u64 id;
#endif
};

/*
 * A TX frame handed to tun/tap as an xdp_buff (TUN_MSG_PTR batches) has its
 * virtio-net header at data_hard_start.  Older kernels (6.1, 6.12) wrap it
 * in a struct tun_xdp_hdr that also carries the buffer length; newer ones
 * (7.2) read the bare header there and take the length from frame_sz.
 * Returns where the header goes in @buf, which must have room for it.
 */
#ifdef COMPAT_HAVE_TUN_XDP_HDR
#include <linux/if_tun.h>
static inline void *vhost_kt_compat_tun_xdp_hdr(void *buf, int buflen)
{
	struct tun_xdp_hdr *hdr = buf;

	hdr->buflen = buflen;
	return &hdr->gso;
}
#else
static inline void *vhost_kt_compat_tun_xdp_hdr(void *buf, int buflen)
{
	return buf;
}
#endif

/* Give back what a page_frag_cache still holds (6.8 added the helper). */
#include <linux/gfp.h>
#include <linux/mm.h>
#ifdef COMPAT_HAVE_PAGE_FRAG_CACHE_H
#include <linux/page_frag_cache.h>
#endif
#ifdef COMPAT_HAVE_PAGE_FRAG_CACHE_DRAIN
static inline void vhost_kt_compat_page_frag_cache_drain(struct page_frag_cache *nc)
{
	page_frag_cache_drain(nc);
}
#else
static inline void vhost_kt_compat_page_frag_cache_drain(struct page_frag_cache *nc)
{
	if (!nc->va)
		return;
	__page_frag_cache_drain(virt_to_head_page(nc->va), nc->pagecnt_bias);
	nc->va = NULL;
}
#endif

#endif /* _VHOST_KT_COMPAT_H */
