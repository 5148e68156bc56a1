// SPDX-License-Identifier: GPL-2.0-only
/*
 * Range tables: the memory table (guest physical -> user address) and the
 * device IOTLB (I/O virtual -> user address) share one structure, an
 * interval tree for lookups plus an insertion-ordered list so that the
 * oldest IOTLB entry can be retired when the table is full.
 *
 * Upstream has this as the separate vhost_iotlb module; vhost-kt keeps its
 * own copy so that it loads on kernels built without CONFIG_VHOST_IOTLB and
 * never shares state with the stock driver.
 */
#include <linux/interval_tree_generic.h>
#include <linux/slab.h>
#include <linux/module.h>

#include "vhost.h"

#define VKT_MAP_START(map) ((map)->start)
#define VKT_MAP_LAST(map) ((map)->last)

INTERVAL_TREE_DEFINE(struct vhost_kt_map, rb, u64, __subtree_last,
		     VKT_MAP_START, VKT_MAP_LAST, static inline,
		     vkt_itree);

static void vkt_map_free(struct vhost_kt_iotlb *iotlb,
			 struct vhost_kt_map *map)
{
	vkt_itree_remove(map, &iotlb->root);
	list_del(&map->link);
	kfree(map);
	iotlb->nmaps--;
}

/**
 * vhost_kt_iotlb_alloc - allocate an empty range table
 * @limit: maximum number of entries, 0 for no limit
 * @flags: VHOST_KT_IOTLB_FLAG_RETIRE to drop the oldest entry when full
 *	   instead of failing with -ENOSPC
 *
 * Return: the table or NULL.
 */
struct vhost_kt_iotlb *vhost_kt_iotlb_alloc(unsigned int limit,
					    unsigned int flags)
{
	struct vhost_kt_iotlb *iotlb;

	iotlb = kzalloc(sizeof(*iotlb), GFP_KERNEL_ACCOUNT);
	if (!iotlb)
		return NULL;

	iotlb->root = RB_ROOT_CACHED;
	INIT_LIST_HEAD(&iotlb->list);
	iotlb->limit = limit;
	iotlb->flags = flags;
	return iotlb;
}
EXPORT_SYMBOL_GPL(vhost_kt_iotlb_alloc);

/**
 * vhost_kt_iotlb_add_range - map [@start, @last] to user address @addr
 * @iotlb: the table
 * @start: first address of the range
 * @last: last address of the range (inclusive)
 * @addr: user address that @start maps to
 * @perm: VHOST_ACCESS_RO/WO/RW
 *
 * Ranges are stored as given; overlapping an existing entry is allowed (the
 * device IOTLB relies on it) and lookups see both.
 *
 * Return: 0, -EFAULT if @last < @start or the range covers the whole 64-bit
 * space (its size would not fit in a u64), -ENOMEM, or -ENOSPC if the table
 * is full and not in retire mode.
 */
int vhost_kt_iotlb_add_range(struct vhost_kt_iotlb *iotlb, u64 start, u64 last,
			     u64 addr, unsigned int perm)
{
	struct vhost_kt_map *map;

	if (last < start || (start == 0 && last == U64_MAX))
		return -EFAULT;

	if (iotlb->limit && iotlb->nmaps >= iotlb->limit) {
		if (!(iotlb->flags & VHOST_KT_IOTLB_FLAG_RETIRE))
			return -ENOSPC;
		map = list_first_entry(&iotlb->list, struct vhost_kt_map, link);
		vkt_map_free(iotlb, map);
	}

	map = kmalloc(sizeof(*map), GFP_KERNEL_ACCOUNT);
	if (!map)
		return -ENOMEM;

	map->start = start;
	map->last = last;
	map->size = last - start + 1;
	map->addr = addr;
	map->perm = perm;

	vkt_itree_insert(map, &iotlb->root);
	list_add_tail(&map->link, &iotlb->list);
	iotlb->nmaps++;
	return 0;
}
EXPORT_SYMBOL_GPL(vhost_kt_iotlb_add_range);

/**
 * vhost_kt_iotlb_del_range - remove every entry overlapping [@start, @last]
 * @iotlb: the table
 * @start: first address
 * @last: last address (inclusive)
 *
 * Entries that only partly overlap are removed whole, as upstream does: the
 * owner of the IOTLB re-inserts what it still wants mapped.
 */
void vhost_kt_iotlb_del_range(struct vhost_kt_iotlb *iotlb, u64 start,
			      u64 last)
{
	struct vhost_kt_map *map;

	while ((map = vkt_itree_iter_first(&iotlb->root, start, last)))
		vkt_map_free(iotlb, map);
}
EXPORT_SYMBOL_GPL(vhost_kt_iotlb_del_range);

/**
 * vhost_kt_iotlb_reset - remove all entries
 * @iotlb: the table
 */
void vhost_kt_iotlb_reset(struct vhost_kt_iotlb *iotlb)
{
	struct vhost_kt_map *map, *tmp;

	list_for_each_entry_safe(map, tmp, &iotlb->list, link)
		vkt_map_free(iotlb, map);
}
EXPORT_SYMBOL_GPL(vhost_kt_iotlb_reset);

/**
 * vhost_kt_iotlb_free - remove all entries and free the table
 * @iotlb: the table, may be NULL
 */
void vhost_kt_iotlb_free(struct vhost_kt_iotlb *iotlb)
{
	if (!iotlb)
		return;
	vhost_kt_iotlb_reset(iotlb);
	kfree(iotlb);
}
EXPORT_SYMBOL_GPL(vhost_kt_iotlb_free);

/**
 * vhost_kt_iotlb_itree_first - first entry overlapping [@start, @last]
 * @iotlb: the table
 * @start: first address
 * @last: last address (inclusive)
 *
 * Return: the entry with the lowest start that overlaps, or NULL.
 */
struct vhost_kt_map *vhost_kt_iotlb_itree_first(struct vhost_kt_iotlb *iotlb,
						u64 start, u64 last)
{
	return vkt_itree_iter_first(&iotlb->root, start, last);
}
EXPORT_SYMBOL_GPL(vhost_kt_iotlb_itree_first);

/**
 * vhost_kt_iotlb_translate - map a range through a table to user iovecs
 * @table: memory table or device IOTLB, may be NULL (nothing mapped)
 * @addr: first address of the range
 * @len: its length in bytes
 * @iov: output array
 * @iov_size: entries available in @iov
 * @access: VHOST_ACCESS_RO or VHOST_ACCESS_WO
 * @miss: set to the first address not mapped, for -ENOENT
 * @last: set to the map of the last chunk, on success
 *
 * Here rather than next to the IOTLB miss handling in memory.c so that the
 * tree walk is inlined: this runs for every buffer that the queue's last
 * map does not cover (vhost_kt_translate()).
 *
 * Return: number of iovecs used, -ENOBUFS if @iov is too small, -EFAULT if
 * the range wraps or there is no table, -EPERM if a mapping lacks @access,
 * -ENOENT if part of the range is not mapped.
 */
int vhost_kt_iotlb_translate(struct vhost_kt_iotlb *table, u64 addr, u32 len,
			     struct iovec iov[], int iov_size, int access,
			     u64 *miss, const struct vhost_kt_map **last)
{
	const struct vhost_kt_map *map = NULL;
	u64 left = len, end;
	int n = 0;

	if (!len)
		return 0;
	end = addr + len - 1;
	if (end < addr || !table)
		return -EFAULT;

	while (left) {
		u64 chunk;

		if (unlikely(n >= iov_size))
			return -ENOBUFS;
		map = vkt_itree_iter_first(&table->root, addr, end);
		if (unlikely(!map || map->start > addr)) {
			*miss = addr;
			return -ENOENT;
		}
		if (unlikely(!(map->perm & access)))
			return -EPERM;

		/* min() on "last byte" offsets cannot overflow, sizes can. */
		chunk = min(left - 1, map->last - addr) + 1;
		iov[n].iov_base = (void __user *)(uintptr_t)
				  (map->addr + (addr - map->start));
		iov[n].iov_len = chunk;
		n++;
		left -= chunk;
		addr += chunk;
	}
	*last = map;
	return n;
}
EXPORT_SYMBOL_GPL(vhost_kt_iotlb_translate);

/**
 * vhost_kt_iotlb_itree_next - next entry overlapping [@start, @last]
 * @map: the previous result
 * @start: first address
 * @last: last address (inclusive)
 */
struct vhost_kt_map *vhost_kt_iotlb_itree_next(struct vhost_kt_map *map,
					       u64 start, u64 last)
{
	return vkt_itree_iter_next(map, start, last);
}
EXPORT_SYMBOL_GPL(vhost_kt_iotlb_itree_next);
