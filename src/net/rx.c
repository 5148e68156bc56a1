// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-kt net backend, receive: backend socket -> guest RX ring.
 *
 * The handler learns the next packet's length first, gathers enough guest
 * buffers for it (several chains with VIRTIO_NET_F_MRG_RXBUF, one without),
 * and only then receives it, straight into guest memory.  For tun and tap
 * the length comes from skbs pulled off the device's ptr_ring in batches;
 * the pulled skb is then handed to recvmsg() through msg_control, which is
 * how tun/tap let a consumer receive a packet it already dequeued.  Raw
 * packet sockets are peeked through their receive queue.
 */
#include <linux/if_tun.h>
#include <linux/if_vlan.h>
#include <linux/net.h>
#include <linux/ptr_ring.h>
#include <linux/skb_array.h>
#include <linux/skbuff.h>
#include <linux/uio.h>
#include <linux/virtio_net.h>
#include <net/sock.h>
#include <net/xdp.h>

#include "internal.h"

/* ---- packets pulled from tun/tap's ring ---- */

static bool rxbuf_empty(struct vhost_kt_net_rxbuf *rxq)
{
	return rxq->head == rxq->tail;
}

static void *rxbuf_consume(struct vhost_kt_net_rxbuf *rxq)
{
	if (rxbuf_empty(rxq))
		return NULL;
	return rxq->queue[rxq->head++];
}

static int rxbuf_produce(struct vhost_kt_net_vq *nvq)
{
	struct vhost_kt_net_rxbuf *rxq = &nvq->rxq;

	rxq->head = 0;
	rxq->tail = ptr_ring_consume_batched(nvq->rx_ring, rxq->queue,
					     VHOST_KT_NET_BATCH);
	return rxq->tail;
}

/*
 * Packets we dequeued belong back in the ring, in order, before the ring
 * changes hands (backend switch, stop); tun frees what does not fit.
 */
void vhost_kt_net_rxbuf_unproduce(struct vhost_kt_net_vq *nvq)
{
	struct vhost_kt_net_rxbuf *rxq = &nvq->rxq;

	if (nvq->rx_ring && !rxbuf_empty(rxq)) {
		ptr_ring_unconsume(nvq->rx_ring, rxq->queue + rxq->head,
				   rxq->tail - rxq->head, tun_ptr_free);
		rxq->head = 0;
		rxq->tail = 0;
	}
}

static int rxbuf_ptr_len(void *ptr)
{
	if (tun_is_xdp_frame(ptr))
		return tun_ptr_to_xdp(ptr)->len;
	return __skb_array_len_with_tag(ptr);
}

/* Inlined: it runs once per packet, and stock pays a call for it. */
static __always_inline int rxbuf_peek_len(struct vhost_kt_net_vq *nvq)
{
	struct vhost_kt_net_rxbuf *rxq = &nvq->rxq;

	if (rxbuf_empty(rxq) && !rxbuf_produce(nvq))
		return 0;
	return rxbuf_ptr_len(rxq->queue[rxq->head]);
}

/* ---- receive ---- */

/* Raw packet sockets: peek at the receive queue. */
static int sock_peek_head_len(struct sock *sk)
{
	struct sk_buff *skb;
	unsigned long flags;
	int len = 0;

	spin_lock_irqsave(&sk->sk_receive_queue.lock, flags);
	skb = skb_peek(&sk->sk_receive_queue);
	if (likely(skb)) {
		len = skb->len;
		/* The tag is put back into the frame on receive. */
		if (skb_vlan_tag_present(skb))
			len += VLAN_HLEN;
	}
	spin_unlock_irqrestore(&sk->sk_receive_queue.lock, flags);
	return len;
}

static __always_inline int peek_head_len(struct vhost_kt_net_vq *rnvq,
					 struct sock *sk)
{
	if (rnvq->rx_ring)
		return rxbuf_peek_len(rnvq);
	return sock_peek_head_len(sk);
}

static int rx_peek_head_len(struct vhost_kt_net *n, struct sock *sk,
			    bool *busyloop_intr)
{
	struct vhost_kt_net_vq *rnvq = &n->vqs[VHOST_KT_NET_VQ_RX];
	int len;

	len = peek_head_len(rnvq, sk);
	if (!len && rnvq->vq.busyloop_timeout) {
		/* Publish what we batched before spinning. */
		vhost_kt_net_signal_used(rnvq);
		vhost_kt_net_busy_poll(n, true, busyloop_intr);
		len = peek_head_len(rnvq, sk);
	}
	return len;
}

/*
 * Collect write-only chains into vq->iov until they hold @datalen bytes or
 * @quota chains were taken, recording each chain in @heads with the bytes
 * it will receive.  Returns the number of chains; 0 if the ring ran dry
 * (nothing is consumed then); UIO_MAXIOV + 1 if the packet does not fit
 * even in @quota chains (the caller drops it; the chains are given back);
 * or -errno for a malformed ring.
 */
static int get_rx_bufs(struct vhost_kt_virtqueue *vq,
		       struct vring_used_elem *heads, int datalen,
		       unsigned int *iovcount, struct vhost_kt_log *log,
		       unsigned int *log_num, unsigned int quota)
{
	unsigned int out, in, nlogs = 0;
	int seg = 0, headcount = 0;
	u32 len = 0;
	int r;

	while (datalen > 0 && headcount < quota) {
		if (unlikely(seg >= UIO_MAXIOV)) {
			r = -ENOBUFS;
			goto err;
		}
		r = vhost_kt_get_vq_desc(vq, vq->iov + seg,
					 UIO_MAXIOV - seg, &out, &in,
					 log, log_num);
		if (unlikely(r < 0))
			goto err;
		if (r == vq->num) {
			r = 0;
			goto err;
		}
		if (unlikely(out || !in)) {
			vq_err(vq, "unexpected descriptor format for RX: out %u, in %u\n",
			       out, in);
			r = -EINVAL;
			goto err;
		}
		if (unlikely(log)) {
			nlogs += *log_num;
			log += *log_num;
		}
		heads[headcount].id = cpu_to_vhost32(vq, r);
		len = iov_length(vq->iov + seg, in);
		heads[headcount].len = cpu_to_vhost32(vq, len);
		datalen -= len;
		headcount++;
		seg += in;
	}
	/* The last chain only receives what is left of the packet. */
	heads[headcount - 1].len = cpu_to_vhost32(vq, len + datalen);
	*iovcount = seg;
	if (unlikely(log))
		*log_num = nlogs;

	if (unlikely(datalen > 0)) {
		r = UIO_MAXIOV + 1;
		goto err;
	}
	return headcount;
err:
	vhost_kt_discard_vq_desc(vq, headcount);
	return r;
}

static void handle_rx(struct vhost_kt_net *n)
{
	struct vhost_kt_net_vq *nvq = &n->vqs[VHOST_KT_NET_VQ_RX];
	struct vhost_kt_virtqueue *vq = &nvq->vq;
	struct msghdr msg = {
		.msg_flags = MSG_DONTWAIT,
	};
	/* What a socket without vnet headers gets: no offloads. */
	struct virtio_net_hdr hdr = {
		.flags = 0,
		.gso_type = VIRTIO_NET_HDR_GSO_NONE,
	};
	size_t vhost_hlen, sock_hlen, vhost_len, sock_len = 0;
	bool mergeable, set_num_buffers, busyloop_intr = false;
	struct vhost_kt_log *vq_log;
	unsigned int in, log;
	struct iov_iter fixup;
	__virtio16 num_buffers;
	size_t total_len = 0;
	int recv_pkts = 0;
	struct socket *sock;
	int headcount, err;

	mutex_lock_nested(&vq->mutex, VHOST_KT_NET_VQ_RX);
	sock = vhost_kt_net_sock(vq);
	if (!sock)
		goto out;
	if (!vhost_kt_vq_meta_prefetch(vq))
		goto out;

	vhost_kt_disable_notify(&n->dev, vq);
	vhost_kt_net_disable_vq(n, vq);

	vhost_hlen = nvq->vhost_hlen;
	sock_hlen = nvq->sock_hlen;
	vq_log = unlikely(vhost_kt_has_feature(vq, VHOST_F_LOG_ALL)) ?
		 vq->log : NULL;
	mergeable = vhost_kt_has_feature(vq, VIRTIO_NET_F_MRG_RXBUF);
	/* Version 1 headers carry num_buffers even without MRG_RXBUF. */
	set_num_buffers = mergeable ||
			  vhost_kt_has_feature(vq, VIRTIO_F_VERSION_1);

	do {
		sock_len = rx_peek_head_len(n, sock->sk, &busyloop_intr);
		if (!sock_len)
			break;
		sock_len += sock_hlen;
		vhost_len = sock_len + vhost_hlen;
		headcount = get_rx_bufs(vq, vq->heads + nvq->done_idx,
					vhost_len, &in, vq_log, &log,
					likely(mergeable) ? UIO_MAXIOV : 1);
		/* A malformed ring: stop until the next kick. */
		if (unlikely(headcount < 0))
			goto out;
		if (!headcount) {
			if (unlikely(busyloop_intr)) {
				vhost_kt_poll_queue(&vq->poll);
			} else if (unlikely(vhost_kt_enable_notify(&n->dev,
								   vq))) {
				/* The guest added buffers meanwhile. */
				vhost_kt_disable_notify(&n->dev, vq);
				continue;
			}
			/* Wait for the guest to refill the ring. */
			goto out;
		}
		busyloop_intr = false;
		if (nvq->rx_ring)
			msg.msg_control = rxbuf_consume(&nvq->rxq);

		/* Too big for the guest's buffers: receive 1 byte, drop. */
		if (unlikely(headcount > UIO_MAXIOV)) {
			iov_iter_init(&msg.msg_iter, ITER_DEST, vq->iov, 1, 1);
			err = sock->ops->recvmsg(sock, &msg, 1,
						 MSG_DONTWAIT | MSG_TRUNC);
			pr_debug("Discarded rx packet: len %zu\n", sock_len);
			continue;
		}

		iov_iter_init(&msg.msg_iter, ITER_DEST, vq->iov, in, vhost_len);
		fixup = msg.msg_iter;
		if (unlikely(vhost_hlen))
			iov_iter_advance(&msg.msg_iter, vhost_hlen);

		err = sock->ops->recvmsg(sock, &msg, sock_len,
					 MSG_DONTWAIT | MSG_TRUNC);
		/*
		 * Someone else (the tap's own reader) may have taken the
		 * packet after we peeked it.  Give the buffers back.
		 */
		if (unlikely(err != sock_len)) {
			pr_debug("Discarded rx packet: len %d, expected %zu\n",
				 err, sock_len);
			vhost_kt_discard_vq_desc(vq, headcount);
			continue;
		}

		if (unlikely(vhost_hlen)) {
			if (copy_to_iter(&hdr, sizeof(hdr), &fixup) !=
			    sizeof(hdr)) {
				vq_err(vq, "Unable to write vnet_hdr at addr %p\n",
				       vq->iov->iov_base);
				goto out;
			}
		} else {
			/* The socket wrote the header; skip to num_buffers. */
			iov_iter_advance(&fixup, sizeof(hdr));
		}

		num_buffers = cpu_to_vhost16(vq, headcount);
		if (likely(set_num_buffers) &&
		    copy_to_iter(&num_buffers, sizeof(num_buffers), &fixup) !=
		    sizeof(num_buffers)) {
			vq_err(vq, "Failed num_buffers write\n");
			vhost_kt_discard_vq_desc(vq, headcount);
			goto out;
		}

		nvq->done_idx += headcount;
		if (nvq->done_idx > VHOST_KT_NET_BATCH)
			vhost_kt_net_signal_used(nvq);
		if (unlikely(vq_log))
			vhost_kt_log_write(vq, vq_log, log, vhost_len, vq->iov,
					   in);
		total_len += vhost_len;
	} while (likely(!vhost_kt_exceeds_weight(vq, ++recv_pkts, total_len)));

	if (unlikely(busyloop_intr))
		vhost_kt_poll_queue(&vq->poll);
	else if (!sock_len)
		vhost_kt_net_enable_vq(n, vq);
out:
	vhost_kt_net_signal_used(nvq);
	mutex_unlock(&vq->mutex);
}

/* The guest added RX buffers. */
void vhost_kt_net_handle_rx_kick(struct vhost_kt_work *work)
{
	struct vhost_kt_virtqueue *vq =
		container_of(work, struct vhost_kt_virtqueue, poll.work);

	handle_rx(vhost_kt_net_of(vq->dev));
}

/* The socket has packets. */
void vhost_kt_net_handle_rx_sock(struct vhost_kt_work *work)
{
	struct vhost_kt_poll *poll =
		container_of(work, struct vhost_kt_poll, work);

	handle_rx(vhost_kt_net_of(poll->dev));
}
