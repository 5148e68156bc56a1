/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-kt net backend, shared between the control path (net.c) and the
 * data path (tx.c, rx.c).  Nothing here is used outside src/net/.
 */
#ifndef _VHOST_KT_NET_INTERNAL_H
#define _VHOST_KT_NET_INTERNAL_H

#include <linux/lockdep.h>
#include <linux/net.h>
#include <linux/ptr_ring.h>
#include <linux/rcupdate.h>
#include <net/xdp.h>

#include "../core/vhost.h"

/* Queue order as in virtio-net: receive queue first. */
enum {
	VHOST_KT_NET_VQ_RX = 0,
	VHOST_KT_NET_VQ_TX = 1,
	VHOST_KT_NET_VQ_MAX = 2,
};

/*
 * Bytes and packets a handler may move before it yields the worker, so
 * that one busy queue cannot starve the other queues sharing the worker.
 * Same budget as upstream vhost-net.
 */
#define VHOST_KT_NET_WEIGHT	0x80000
#define VHOST_KT_NET_PKT_WEIGHT	256

/*
 * Used-ring updates are published in batches of this many heads, and the
 * receive side pulls this many packets at a time from tun's ring.
 */
#define VHOST_KT_NET_BATCH	64

/* Packets taken from tun/tap's ptr_ring but not yet received. */
struct vhost_kt_net_rxbuf {
	void **queue;
	int head;
	int tail;
};

struct vhost_kt_net_vq {
	struct vhost_kt_virtqueue vq;
	/* Header length added/stripped by vhost and by the socket. */
	size_t vhost_hlen;
	size_t sock_hlen;
	/* Heads in vq->heads waiting to be published to the used ring. */
	int done_idx;
	/* RX only: tun/tap's skb ring, NULL for raw packet sockets. */
	struct ptr_ring *rx_ring;
	struct vhost_kt_net_rxbuf rxq;
};

struct vhost_kt_net {
	struct vhost_kt_dev dev;
	struct vhost_kt_net_vq vqs[VHOST_KT_NET_VQ_MAX];
	/* Socket readiness: EPOLLIN drives RX, EPOLLOUT drives TX. */
	struct vhost_kt_poll poll[VHOST_KT_NET_VQ_MAX];
	/*
	 * TX frames already copied out of the guest into page fragments,
	 * waiting to go to tun/tap in one sendmsg() (see tx.c).  Only used
	 * with the TX vq mutex held, and always empty when it is dropped.
	 * VHOST_KT_NET_BATCH entries, allocated apart for the reason given
	 * at vhost_kt_virtqueue.iov.
	 */
	struct xdp_buff *tx_xdp;
	int tx_batched;
	/* Buffers of the batched frames; used under the TX queue mutex. */
	struct page_frag_cache tx_frags;
};

static inline struct vhost_kt_net_vq *
vhost_kt_net_vq_of(struct vhost_kt_virtqueue *vq)
{
	return container_of(vq, struct vhost_kt_net_vq, vq);
}

static inline struct vhost_kt_net *vhost_kt_net_of(struct vhost_kt_dev *dev)
{
	return container_of(dev, struct vhost_kt_net, dev);
}

/* The backend socket; only ever touched with vq->mutex held. */
static inline struct socket *vhost_kt_net_sock(struct vhost_kt_virtqueue *vq)
{
	return rcu_dereference_protected(vq->private_data,
					 lockdep_is_held(&vq->mutex));
}

/* net.c */
int vhost_kt_net_enable_vq(struct vhost_kt_net *n,
			   struct vhost_kt_virtqueue *vq);
void vhost_kt_net_disable_vq(struct vhost_kt_net *n,
			     struct vhost_kt_virtqueue *vq);
void vhost_kt_net_signal_used(struct vhost_kt_net_vq *nvq);
void vhost_kt_net_busy_poll(struct vhost_kt_net *n, bool poll_rx,
			    bool *busyloop_intr);

/* tx.c, rx.c: work functions for guest kicks and socket wakeups. */
void vhost_kt_net_handle_tx_kick(struct vhost_kt_work *work);
void vhost_kt_net_handle_tx_sock(struct vhost_kt_work *work);
void vhost_kt_net_handle_rx_kick(struct vhost_kt_work *work);
void vhost_kt_net_handle_rx_sock(struct vhost_kt_work *work);

/* rx.c: give packets pulled from tun's ring back before a detach. */
void vhost_kt_net_rxbuf_unproduce(struct vhost_kt_net_vq *nvq);

#endif /* _VHOST_KT_NET_INTERNAL_H */
