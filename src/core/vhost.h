/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-kt core: the objects every backend (net, the test backend) builds on.
 *
 * The shape follows upstream drivers/vhost/vhost.h so that people who know
 * that code find their way, but every type and global function carries the
 * vhost_kt_ prefix: this module is loaded beside the stock vhost.ko and must
 * never be confused with it, in symbols or in a stack trace.
 */
#ifndef _VHOST_KT_CORE_H
#define _VHOST_KT_CORE_H

#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/llist.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/uio.h>
#include <linux/wait.h>
#include <linux/xarray.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <linux/vhost.h>
#include <linux/atomic.h>

#include "../../include/uapi/vhost_kt.h"

struct vhost_kt_work;
struct vhost_kt_worker;
struct vhost_kt_dev;
struct vhost_kt_virtqueue;

typedef void (*vhost_kt_work_fn_t)(struct vhost_kt_work *work);

#define VHOST_KT_WORK_QUEUED 1
struct vhost_kt_work {
	struct llist_node node;
	vhost_kt_work_fn_t fn;
	unsigned long flags;
};

/* Worker threads: see src/worker/worker.h for the backend interface. */
enum vhost_kt_mode {
	VHOST_KT_MODE_KTHREAD = VHOST_FORK_OWNER_KTHREAD,
	VHOST_KT_MODE_TASK = VHOST_FORK_OWNER_TASK,
};

struct vhost_kt_worker_ops;

struct vhost_kt_worker {
	/* Backend-private thread handle (struct vhost_task or task_struct). */
	void *thread;
	const struct vhost_kt_worker_ops *ops;
	struct vhost_kt_dev *dev;
	/* Serialises flushes and vring attach/detach against the worker. */
	struct mutex mutex;
	struct llist_head work_list;
	struct vhost_kt_kcov_handle kcov_handle;
	u32 id;
	/* Number of virtqueues using this worker; guarded by ->mutex. */
	int attachment_cnt;
	/* Set once the owner was SIGKILLed: work is dropped, not queued. */
	bool killed;
	/*
	 * Thread id for admins (debugfs); 0 until the thread exists, and in
	 * task mode until it first runs (SET_OWNER does not wait for that).
	 */
	pid_t tid;
	/* The admin listing reads workers under RCU: freed with kfree_rcu(). */
	struct rcu_head rcu;
};

/* Poll a file (kick eventfd, backend socket) and queue work on wakeup. */
struct vhost_kt_poll {
	poll_table table;
	wait_queue_head_t *wqh;
	wait_queue_entry_t wait;
	struct vhost_kt_work work;
	__poll_t mask;
	struct vhost_kt_dev *dev;
	struct vhost_kt_virtqueue *vq;
};

void vhost_kt_work_init(struct vhost_kt_work *work, vhost_kt_work_fn_t fn);
bool vhost_kt_vq_work_queue(struct vhost_kt_virtqueue *vq,
			    struct vhost_kt_work *work);
void vhost_kt_dev_flush(struct vhost_kt_dev *dev);
bool vhost_kt_vq_has_work(struct vhost_kt_virtqueue *vq);

void vhost_kt_poll_init(struct vhost_kt_poll *poll, vhost_kt_work_fn_t fn,
			__poll_t mask, struct vhost_kt_dev *dev,
			struct vhost_kt_virtqueue *vq);
int vhost_kt_poll_start(struct vhost_kt_poll *poll, struct file *file);
void vhost_kt_poll_stop(struct vhost_kt_poll *poll);
void vhost_kt_poll_queue(struct vhost_kt_poll *poll);

#ifdef VHOST_KT_RACE_WINDOW
void vhost_kt_race_window_begin(void);
void vhost_kt_race_window_end(void);
void vhost_kt_race_window(void);
#else
static inline void vhost_kt_race_window_begin(void) { }
static inline void vhost_kt_race_window_end(void) { }
static inline void vhost_kt_race_window(void) { }
#endif

/* Guest memory: a table of ranges, used for the memory table and IOTLB. */
struct vhost_kt_map {
	struct rb_node rb;
	struct list_head link;
	u64 start;
	u64 last;
	u64 size;
	u64 addr;		/* userspace address */
	u32 perm;		/* VHOST_ACCESS_* */
	u64 __subtree_last;
};

struct vhost_kt_iotlb {
	struct rb_root_cached root;
	struct list_head list;
	unsigned int limit;
	unsigned int nmaps;
	unsigned int flags;
};

#define VHOST_KT_IOTLB_FLAG_RETIRE 0x1

struct vhost_kt_iotlb *vhost_kt_iotlb_alloc(unsigned int limit,
					    unsigned int flags);
void vhost_kt_iotlb_free(struct vhost_kt_iotlb *iotlb);
void vhost_kt_iotlb_reset(struct vhost_kt_iotlb *iotlb);
int vhost_kt_iotlb_add_range(struct vhost_kt_iotlb *iotlb, u64 start, u64 last,
			     u64 addr, unsigned int perm);
void vhost_kt_iotlb_del_range(struct vhost_kt_iotlb *iotlb, u64 start,
			      u64 last);
struct vhost_kt_map *vhost_kt_iotlb_itree_first(struct vhost_kt_iotlb *iotlb,
						u64 start, u64 last);
int vhost_kt_iotlb_translate(struct vhost_kt_iotlb *table, u64 addr, u32 len,
			     struct iovec iov[], int iov_size, int access,
			     u64 *miss, const struct vhost_kt_map **last);
struct vhost_kt_map *vhost_kt_iotlb_itree_next(struct vhost_kt_map *map,
					       u64 start, u64 last);

/* Metadata pieces of a split ring, indexes into vq->meta_iotlb. */
enum vhost_kt_uaddr_type {
	VHOST_KT_ADDR_DESC = 0,
	VHOST_KT_ADDR_AVAIL = 1,
	VHOST_KT_ADDR_USED = 2,
	VHOST_KT_NUM_ADDRS = 3,
};

struct vhost_kt_log {
	u64 addr;
	u64 len;
};

/* One virtqueue; everything below `mutex` is guarded by it. */
struct vhost_kt_virtqueue {
	struct vhost_kt_dev *dev;
	struct vhost_kt_worker __rcu *worker;

	struct mutex mutex;
	unsigned int num;
	vring_desc_t __user *desc;
	vring_avail_t __user *avail;
	vring_used_t __user *used;
	/*
	 * The three rings passed access_ok() for the current num (done when
	 * a backend is attached): the datapath then skips the check, as stock
	 * vhost does.  Cleared whenever an address or num changes.
	 */
	bool rings_checked;
	const struct vhost_kt_map *meta_iotlb[VHOST_KT_NUM_ADDRS];
	/*
	 * The map (memory region or IOTLB entry) of the last buffer
	 * translated: a queue's buffers nearly always come from the region
	 * its last one did, and checking one entry is a fraction of a tree
	 * walk.  Cleared with meta_iotlb, under this mutex, before any change
	 * to the tables can free the map.
	 */
	const struct vhost_kt_map *last_map;
	struct file *kick;
	struct eventfd_ctx *call_ctx;
	struct eventfd_ctx *error_ctx;
	struct eventfd_ctx *log_ctx;

	struct vhost_kt_poll poll;

	/* The routine to call when the guest kicks this queue. */
	vhost_kt_work_fn_t handle_kick;

	/* Last avail index we consumed, and the guest's last known one. */
	u16 last_avail_idx;
	u16 avail_idx;
	/* Last used index we published. */
	u16 last_used_idx;
	u16 used_flags;
	/* Last used index at which we signalled the guest (event_idx). */
	u16 signalled_used;
	bool signalled_used_valid;

	bool log_used;
	u64 log_addr;

	/*
	 * UIO_MAXIOV entries each, allocated at SET_OWNER.  Kept out of the
	 * structure: with the 16 KiB of iov inline, a net device's
	 * structure was a 64 KiB page block, not a slab object.
	 */
	struct iovec *iov;
	struct iovec iotlb_iov[64];
	struct iovec *indirect;
	struct vring_used_elem *heads;

	/* Backend private data; written under mutex, read by the worker. */
	void __rcu *private_data;
	u64 acked_features;
	u64 acked_backend_features;
	/* Log write descriptors */
	void __user *log_base;
	struct vhost_kt_log *log;
	struct iovec log_iov[64];

	/* Ring endianness (legacy): true if the guest is big-endian. */
	bool is_le;
#ifdef CONFIG_VHOST_CROSS_ENDIAN_LEGACY
	bool user_be;
#endif
	u32 busyloop_timeout;
};

struct vhost_kt_msg_node {
	union {
		struct vhost_msg msg;
		struct vhost_msg_v2 msg_v2;
	};
	struct vhost_kt_virtqueue *vq;
	struct list_head node;
};

struct vhost_kt_dev {
	/*
	 * The owner's mm, NULL before VHOST_SET_OWNER.  Kthread mode holds a
	 * users reference (mmget, the worker runs kthread_use_mm), task mode
	 * only mmgrab: mm_users_ref says which one to drop.
	 */
	struct mm_struct *mm;
	bool mm_users_ref;
	struct mutex mutex;
	struct vhost_kt_virtqueue **vqs;
	int nvqs;
	struct eventfd_ctx *log_ctx;
	struct vhost_kt_iotlb *umem;
	struct vhost_kt_iotlb *iotlb;
	spinlock_t iotlb_lock;
	struct list_head read_list;
	struct list_head pending_list;
	wait_queue_head_t wait;
	int iov_limit;
	int weight;
	int byte_weight;
	struct xarray worker_xa;
	bool use_worker;

	/* Worker mode: chosen before SET_OWNER, reset by RESET_OWNER. */
	enum vhost_kt_mode mode;
	/* The mode this device returns to on RESET_OWNER (node or param). */
	enum vhost_kt_mode default_mode;
	/* Per-node restriction: if set, mode may never differ from it. */
	bool mode_fixed;
	pid_t owner_pid;
	struct list_head admin_link;	/* debugfs listing */

	int (*msg_handler)(struct vhost_kt_dev *dev, u32 asid,
			   struct vhost_iotlb_msg *msg);
};

/*
 * Device lifecycle, called by backends (see src/core/dev.c for details).
 *
 * Locking: dev->mutex serialises configuration; it is taken by the backend
 * around vhost_kt_dev_ioctl()/vhost_kt_vring_ioctl(), set_owner, reset_owner
 * and cleanup.  vq->mutex guards a queue's ring state and is held by the
 * worker while it runs the queue's handler.  Order: dev->mutex, then vq
 * mutexes in index order.  The memory table and IOTLB are only replaced or
 * changed with every vq mutex held, so ring accessors need only vq->mutex.
 * (Holding them all uses lockdep subclasses, which lockdep tracks for up
 * to 8 vqs per device.)
 *
 * Typical backend flow: dev_init at open; SET_OWNER via vhost_kt_dev_ioctl
 * (takes the owner mm, starts the default worker); the VMM configures the
 * rings; the backend, on attaching its socket, checks
 * vhost_kt_vq_access_ok() and calls vhost_kt_vq_init_access() with
 * private_data set; at close: vhost_kt_dev_stop(), backend teardown,
 * vhost_kt_dev_cleanup().
 */
void vhost_kt_dev_init(struct vhost_kt_dev *dev,
		       struct vhost_kt_virtqueue **vqs, int nvqs,
		       int iov_limit, int weight, int byte_weight,
		       bool use_worker, enum vhost_kt_mode default_mode,
		       bool mode_fixed,
		       int (*msg_handler)(struct vhost_kt_dev *dev, u32 asid,
					  struct vhost_iotlb_msg *msg));
long vhost_kt_dev_set_owner(struct vhost_kt_dev *dev);
bool vhost_kt_dev_has_owner(struct vhost_kt_dev *dev);
long vhost_kt_dev_check_owner(struct vhost_kt_dev *dev);
struct vhost_kt_iotlb *vhost_kt_dev_reset_owner_prepare(void);
void vhost_kt_dev_reset_owner(struct vhost_kt_dev *dev,
			      struct vhost_kt_iotlb *umem);
void vhost_kt_dev_cleanup(struct vhost_kt_dev *dev);
void vhost_kt_dev_stop(struct vhost_kt_dev *dev);
/*
 * Added for vhost-net (H3), as upstream vhost_init_device_iotlb() and
 * vhost_clear_msg(): set up dev->iotlb when VIRTIO_F_ACCESS_PLATFORM is
 * negotiated (0 or -ENOMEM), and drop pending IOTLB messages when a backend
 * is detached.  Both called with dev->mutex held.
 */
int vhost_kt_init_device_iotlb(struct vhost_kt_dev *dev);
void vhost_kt_clear_msg(struct vhost_kt_dev *dev);

/*
 * ioctl layers: the backend handles its own commands, then calls
 * vhost_kt_dev_ioctl(), which returns -ENOIOCTLCMD for anything it does not
 * know, then vhost_kt_vring_ioctl() (same convention).
 */
long vhost_kt_dev_ioctl(struct vhost_kt_dev *dev, unsigned int ioctl,
			void __user *argp);
long vhost_kt_vring_ioctl(struct vhost_kt_dev *dev, unsigned int ioctl,
			  void __user *argp);
long vhost_kt_worker_ioctl(struct vhost_kt_dev *dev, unsigned int ioctl,
			   void __user *argp);

/* VHOST_SET_BACKEND_FEATURES: stores @features in every vq (takes locks). */
void vhost_kt_set_backend_features(struct vhost_kt_dev *dev, u64 features);

/*
 * VHOST_GET_FEATURES_ARRAY / VHOST_SET_FEATURES_ARRAY argument handling
 * ({ __u64 count; __u64 features[count]; }).  GET writes @features as word
 * 0 and zeroes the rest.  SET reads the words into *@features: -EOPNOTSUPP
 * if a bit outside @supported or any bit above 63 is set; the backend then
 * applies *@features exactly as for VHOST_SET_FEATURES.
 */
long vhost_kt_get_features_array(void __user *argp, u64 features);
long vhost_kt_set_features_array(void __user *argp, u64 supported,
				 u64 *features);

/* Default IOTLB message handler; a custom msg_handler may delegate to it. */
int vhost_kt_process_iotlb_msg(struct vhost_kt_dev *dev, u32 asid,
			       struct vhost_iotlb_msg *msg);

/*
 * Ring access, called from the worker with vq->mutex held.
 *
 * vhost_kt_vq_meta_prefetch(): call first in every kick handler; returns 0
 * if the device IOTLB does not map the rings yet (misses were queued, the
 * queue is kicked again when userspace answers): just return then.
 * vhost_kt_get_vq_desc(): returns the head (>= 0), vq->num when the ring is
 * empty, or -errno (-EAGAIN: IOTLB miss, retried after the UPDATE; other
 * errors: malformed ring, the error eventfd was signalled).
 * vhost_kt_add_used*(): @len is the number of bytes written to the guest.
 * vhost_kt_vq_access_ok()/vhost_kt_log_access_ok() return true when OK.
 */
int vhost_kt_vq_meta_prefetch(struct vhost_kt_virtqueue *vq);
bool vhost_kt_vq_access_ok(struct vhost_kt_virtqueue *vq);
/*
 * Added for vhost-net (H3), as upstream: translate and cache the ring
 * metadata through the IOTLB before a handler runs; 0 means a miss was
 * reported to userspace and the handler must return and wait for a kick.
 * Returns 1 without an IOTLB.
 */
int vhost_kt_vq_meta_prefetch(struct vhost_kt_virtqueue *vq);
int vhost_kt_get_vq_desc(struct vhost_kt_virtqueue *vq,
			 struct iovec iov[], unsigned int iov_size,
			 unsigned int *out_num, unsigned int *in_num,
			 struct vhost_kt_log *log, unsigned int *log_num);
void vhost_kt_discard_vq_desc(struct vhost_kt_virtqueue *vq, int n);
bool vhost_kt_vq_is_setup(struct vhost_kt_virtqueue *vq);
int vhost_kt_vq_init_access(struct vhost_kt_virtqueue *vq);
int vhost_kt_add_used(struct vhost_kt_virtqueue *vq, unsigned int head,
		      int len);
int vhost_kt_add_used_n(struct vhost_kt_virtqueue *vq,
			struct vring_used_elem *heads, unsigned int count);
void vhost_kt_add_used_and_signal(struct vhost_kt_dev *dev,
				  struct vhost_kt_virtqueue *vq,
				  unsigned int head, int len);
void vhost_kt_add_used_and_signal_n(struct vhost_kt_dev *dev,
				    struct vhost_kt_virtqueue *vq,
				    struct vring_used_elem *heads,
				    unsigned int count);
void vhost_kt_signal(struct vhost_kt_dev *dev, struct vhost_kt_virtqueue *vq);
void vhost_kt_disable_notify(struct vhost_kt_dev *dev,
			     struct vhost_kt_virtqueue *vq);
bool vhost_kt_enable_notify(struct vhost_kt_dev *dev,
			    struct vhost_kt_virtqueue *vq);
bool vhost_kt_vq_avail_empty(struct vhost_kt_dev *dev,
			     struct vhost_kt_virtqueue *vq);
bool vhost_kt_exceeds_weight(struct vhost_kt_virtqueue *vq, int pkts,
			     int total_len);

int vhost_kt_log_write(struct vhost_kt_virtqueue *vq,
		       struct vhost_kt_log *log, unsigned int log_num, u64 len,
		       struct iovec *iov, int count);
bool vhost_kt_log_access_ok(struct vhost_kt_dev *dev);

/* IOTLB message path (read/write/poll on the device fd). */
ssize_t vhost_kt_chr_write_iter(struct vhost_kt_dev *dev,
				struct iov_iter *from);
ssize_t vhost_kt_chr_read_iter(struct vhost_kt_dev *dev, struct iov_iter *to,
			       int noblock);
__poll_t vhost_kt_chr_poll(struct file *file, struct vhost_kt_dev *dev,
			   poll_table *wait);

#define vq_err(vq, fmt, ...) do {                                  \
		pr_debug(fmt, ##__VA_ARGS__);                      \
		if ((vq)->error_ctx)                               \
			vhost_kt_eventfd_signal((vq)->error_ctx);  \
	} while (0)

enum {
	VHOST_KT_FEATURES = (1ULL << VIRTIO_F_NOTIFY_ON_EMPTY) |
			    (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |
			    (1ULL << VIRTIO_RING_F_EVENT_IDX) |
			    (1ULL << VHOST_F_LOG_ALL) |
			    (1ULL << VIRTIO_F_ANY_LAYOUT) |
			    (1ULL << VIRTIO_F_VERSION_1)
};

/* What upstream vhost-net offers for VHOST_GET_BACKEND_FEATURES. */
enum {
	VHOST_KT_BACKEND_FEATURES = (1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2),
};

static inline bool vhost_kt_has_feature(struct vhost_kt_virtqueue *vq, int bit)
{
	return vq->acked_features & (1ULL << bit);
}

static inline bool vhost_kt_backend_has_feature(struct vhost_kt_virtqueue *vq,
						int bit)
{
	return vq->acked_backend_features & (1ULL << bit);
}

/*
 * Without cross-endian support a little-endian host only ever has
 * little-endian rings: the test folds to a constant and the conversions in
 * the datapath cost nothing, as they do in stock vhost.  Reading is_le
 * there cost a load and a branch per ring field.
 */
static inline bool vhost_kt_is_little_endian(struct vhost_kt_virtqueue *vq)
{
#ifdef CONFIG_VHOST_CROSS_ENDIAN_LEGACY
	return vq->is_le;
#else
	return virtio_legacy_is_little_endian() || vq->is_le;
#endif
}

static inline u16 vhost16_to_cpu(struct vhost_kt_virtqueue *vq, __virtio16 val)
{
	return __virtio16_to_cpu(vhost_kt_is_little_endian(vq), val);
}

static inline __virtio16 cpu_to_vhost16(struct vhost_kt_virtqueue *vq, u16 val)
{
	return __cpu_to_virtio16(vhost_kt_is_little_endian(vq), val);
}

static inline u32 vhost32_to_cpu(struct vhost_kt_virtqueue *vq, __virtio32 val)
{
	return __virtio32_to_cpu(vhost_kt_is_little_endian(vq), val);
}

static inline __virtio32 cpu_to_vhost32(struct vhost_kt_virtqueue *vq, u32 val)
{
	return __cpu_to_virtio32(vhost_kt_is_little_endian(vq), val);
}

static inline u64 vhost64_to_cpu(struct vhost_kt_virtqueue *vq, __virtio64 val)
{
	return __virtio64_to_cpu(vhost_kt_is_little_endian(vq), val);
}

static inline __virtio64 cpu_to_vhost64(struct vhost_kt_virtqueue *vq, u64 val)
{
	return __cpu_to_virtio64(vhost_kt_is_little_endian(vq), val);
}

/* Module-wide settings (src/main.c). */
extern unsigned int vhost_kt_max_mem_regions;
extern unsigned int vhost_kt_max_iotlb_entries;
extern bool vhost_kt_mode_locked;
enum vhost_kt_mode vhost_kt_default_mode(void);
bool vhost_kt_mode_supported(enum vhost_kt_mode mode);

#endif /* _VHOST_KT_CORE_H */
