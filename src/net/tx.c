// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-kt net backend, transmit: guest TX ring -> backend socket.
 *
 * Each available chain is one packet.  Towards tun/tap (a socket whose
 * sk_sndbuf is INT_MAX), frames that fit in a page are copied into page
 * fragments laid out the way tun's build_skb() path wants them and handed
 * over VHOST_KT_NET_BATCH at a time in a single sendmsg() carrying a
 * TUN_MSG_PTR control block: one call, one socket lookup and one softirq
 * section per batch instead of per frame.  Larger frames, tiny ones and
 * other sockets (raw packet sockets) go one by one as an iov_iter over
 * guest memory.  Used entries are published after the frames they
 * describe went out: every VHOST_KT_NET_BATCH chains, before each frame
 * that tun/tap takes on its own, and when the handler stops.  It
 * yields after the weight budget so the RX queue on the same worker keeps
 * moving.
 */
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <linux/mm.h>
#include <linux/net.h>
#include <linux/skbuff.h>
#include <linux/socket.h>
#include <linux/uio.h>
#include <linux/virtio_net.h>
#include <net/sock.h>
#include <net/xdp.h>

#include "internal.h"

/*
 * Hand the batched frames to tun/tap.  tun consumes every buffer of the
 * batch, including the ones it drops; only if the call fails as a whole
 * (the device is going away) are they still ours to free.  The chains were
 * used either way.
 */
static void tx_send_batch(struct vhost_kt_net *n, struct socket *sock)
{
	struct tun_msg_ctl ctl = {
		.type = TUN_MSG_PTR,
		.num = n->tx_batched,
		.ptr = n->tx_xdp,
	};
	struct msghdr msg = {
		.msg_control = &ctl,
		.msg_controllen = sizeof(ctl),
		.msg_flags = MSG_DONTWAIT,
	};
	int i, err;

	if (!n->tx_batched)
		return;

	err = sock->ops->sendmsg(sock, &msg, 0);
	if (unlikely(err < 0)) {
		pr_debug("Fail to send a batch of %d packets: err %d\n",
			 n->tx_batched, err);
		for (i = 0; i < n->tx_batched; i++)
			skb_free_frag(n->tx_xdp[i].data_hard_start);
	}
	n->tx_batched = 0;
}

/* Batched frames go out before the guest learns their chains are used. */
static void tx_flush(struct vhost_kt_net *n, struct socket *sock)
{
	tx_send_batch(n, sock);
	vhost_kt_net_signal_used(&n->vqs[VHOST_KT_NET_VQ_TX]);
}

/*
 * Room in front of the frame: tun's header (on older kernels preceded by
 * an int, the buffer length; 8 bytes covers it), then the headroom an skb
 * built around the buffer wants.
 */
static unsigned int tx_xdp_pad(struct vhost_kt_net_vq *nvq,
			       struct socket *sock)
{
	unsigned int headroom = 8 + nvq->sock_hlen + NET_IP_ALIGN + NET_SKB_PAD;

	/* An XDP program on the tap may grow the frame at the front. */
	if (sock_flag(sock->sk, SOCK_XDP))
		headroom += XDP_PACKET_HEADROOM;
	return SKB_DATA_ALIGN(headroom);
}

/*
 * Copy the chain behind @from (socket header + frame, @len bytes) into a
 * page fragment and add it to the batch.  0 on success; -ENOSPC if this
 * frame must take the per-frame path instead (too big or too small for
 * tun's batch path, no memory); -EFAULT if guest memory could not be read,
 * which the per-frame path would fail the same way.
 */
static int tx_build_xdp(struct vhost_kt_net *n, struct vhost_kt_net_vq *nvq,
			struct socket *sock, struct iov_iter *from, size_t len)
{
	struct vhost_kt_virtqueue *vq = &nvq->vq;
	struct xdp_buff *xdp = &n->tx_xdp[n->tx_batched];
	size_t sock_hlen = nvq->sock_hlen;
	unsigned int pad = tx_xdp_pad(nvq, sock);
	struct virtio_net_hdr *gso;
	unsigned int buflen, csum_end;
	void *buf;

	/*
	 * Runts stay on the per-frame path: some kernels' batch path leaks
	 * the buffer of a frame shorter than an Ethernet header.
	 */
	if (len < sock_hlen + ETH_HLEN)
		return -ENOSPC;
	buflen = SKB_DATA_ALIGN(pad + len - sock_hlen) +
		 SKB_DATA_ALIGN(sizeof(struct skb_shared_info));
	if (buflen > PAGE_SIZE)
		return -ENOSPC;

	/*
	 * A cache of our own, as stock vhost-net keeps: the worker may
	 * sleep here, so GFP_KERNEL, and no per-CPU cache to reach with
	 * bottom halves off for every frame.
	 */
	buf = page_frag_alloc(&n->tx_frags, buflen, GFP_KERNEL);
	if (unlikely(!buf))
		return -ENOSPC;

	gso = vhost_kt_compat_tun_xdp_hdr(buf, buflen);
	if (sock_hlen) {
		if (copy_from_iter(gso, sock_hlen, from) != sock_hlen)
			goto err_fault;
		/*
		 * tun builds the skb around the buffer and trusts hdr_len to
		 * cover the checksum field, as its per-frame path makes
		 * sure of; do the same here.
		 */
		if (gso->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
			csum_end = vhost16_to_cpu(vq, gso->csum_start) +
				   vhost16_to_cpu(vq, gso->csum_offset) + 2;
			if (csum_end > vhost16_to_cpu(vq, gso->hdr_len)) {
				if (csum_end > len) {
					/* Let tun reject it as it would. */
					iov_iter_revert(from, sock_hlen);
					skb_free_frag(buf);
					return -ENOSPC;
				}
				gso->hdr_len = cpu_to_vhost16(vq, csum_end);
			}
		}
	} else {
		/* vhost strips the header: tun must see "no offloads". */
		memset(gso, 0, sizeof(*gso));
	}

	len -= sock_hlen;
	if (copy_from_iter(buf + pad, len, from) != len)
		goto err_fault;

	xdp_init_buff(xdp, buflen, NULL);
	xdp_prepare_buff(xdp, buf, pad, len, true);
	n->tx_batched++;
	return 0;

err_fault:
	skb_free_frag(buf);
	return -EFAULT;
}

static int tx_get_vq_desc(struct vhost_kt_net *n, struct vhost_kt_net_vq *nvq,
			  unsigned int *out, unsigned int *in,
			  bool *busyloop_intr)
{
	struct vhost_kt_virtqueue *vq = &nvq->vq;
	int r;

	r = vhost_kt_get_vq_desc(vq, vq->iov, UIO_MAXIOV, out, in,
				 NULL, NULL);
	if (r == vq->num && vq->busyloop_timeout) {
		/* Let the guest see what we did before we spin. */
		tx_flush(n, vhost_kt_net_sock(vq));
		vhost_kt_net_busy_poll(n, false, busyloop_intr);
		r = vhost_kt_get_vq_desc(vq, vq->iov, UIO_MAXIOV,
					 out, in, NULL, NULL);
	}
	return r;
}

/*
 * Fetch the next chain and aim msg->msg_iter at its payload, past the
 * virtio-net header if vhost (not the socket) consumes it.  Returns the
 * head, vq->num if the ring is empty, or -errno.
 */
static int get_tx_bufs(struct vhost_kt_net *n, struct vhost_kt_net_vq *nvq,
		       struct msghdr *msg, size_t *len, bool *busyloop_intr)
{
	struct vhost_kt_virtqueue *vq = &nvq->vq;
	unsigned int out, in;
	int head;

	head = tx_get_vq_desc(n, nvq, &out, &in, busyloop_intr);
	if (head < 0 || head == vq->num)
		return head;

	if (in) {
		vq_err(vq, "Unexpected descriptor format for TX: out %u, in %u\n",
		       out, in);
		return -EFAULT;
	}

	iov_iter_init(&msg->msg_iter, ITER_SOURCE, vq->iov, out,
		      iov_length(vq->iov, out));
	iov_iter_advance(&msg->msg_iter, nvq->vhost_hlen);
	*len = iov_iter_count(&msg->msg_iter);
	if (!*len) {
		vq_err(vq, "Unexpected header len for TX: %zu expected %zu\n",
		       *len, nvq->vhost_hlen);
		return -EFAULT;
	}
	return head;
}

/* Tell the socket more is coming while the budget and the ring allow. */
static bool tx_can_batch(struct vhost_kt_virtqueue *vq, size_t total_len)
{
	return total_len < VHOST_KT_NET_WEIGHT &&
	       !vhost_kt_vq_avail_empty(vq->dev, vq);
}

static void handle_tx_copy(struct vhost_kt_net *n, struct socket *sock)
{
	struct vhost_kt_net_vq *nvq = &n->vqs[VHOST_KT_NET_VQ_TX];
	struct vhost_kt_virtqueue *vq = &nvq->vq;
	struct msghdr msg = {
		.msg_flags = MSG_DONTWAIT,
	};
	/* tun and tap take batches; see their TUN_MSG_PTR handling. */
	bool can_batch = READ_ONCE(sock->sk->sk_sndbuf) == INT_MAX;
	size_t len, total_len = 0;
	int sent_pkts = 0;
	int head, err;

	do {
		bool busyloop_intr = false;

		if (nvq->done_idx == VHOST_KT_NET_BATCH)
			tx_flush(n, sock);

		head = get_tx_bufs(n, nvq, &msg, &len, &busyloop_intr);
		/* A broken chain: stop until the next kick. */
		if (unlikely(head < 0))
			break;
		if (head == vq->num) {
			if (unlikely(busyloop_intr)) {
				vhost_kt_poll_queue(&vq->poll);
			} else if (unlikely(vhost_kt_enable_notify(&n->dev,
								   vq))) {
				/* The guest added buffers meanwhile. */
				vhost_kt_disable_notify(&n->dev, vq);
				continue;
			}
			break;
		}

		total_len += len;
		if (can_batch) {
			err = tx_build_xdp(n, nvq, sock, &msg.msg_iter, len);
			if (likely(!err))
				goto used;
			if (err == -EFAULT) {
				pr_debug("Fault copying TX packet of %zu bytes\n",
					 len);
				goto used;
			}
			/*
			 * Per-frame path; the batch goes first, in order,
			 * and the guest gets its finished chains back now,
			 * not after a run of large frames: a guest's TCP
			 * stops sending while too many of its bytes wait
			 * for TX completions (stock vhost-net does the same).
			 */
			tx_flush(n, sock);
		}

		/* tun/tap ignore MSG_MORE unless rx_batched is set. */
		if (!can_batch && tx_can_batch(vq, total_len))
			msg.msg_flags |= MSG_MORE;
		else
			msg.msg_flags &= ~MSG_MORE;

		err = sock->ops->sendmsg(sock, &msg, len);
		if (unlikely(err < 0)) {
			/*
			 * Transient shortage: give the chain back and let
			 * the socket's EPOLLOUT wake us.  Any other error
			 * means this packet can never be sent; drop it so
			 * it does not block the ring.
			 */
			if (err == -EAGAIN || err == -ENOMEM ||
			    err == -ENOBUFS) {
				vhost_kt_discard_vq_desc(vq, 1);
				vhost_kt_net_enable_vq(n, vq);
				break;
			}
			pr_debug("Fail to send packet: err %d\n", err);
		} else if (unlikely(err != len)) {
			pr_debug("Truncated TX packet: len %d != %zu\n",
				 err, len);
		}
used:
		vq->heads[nvq->done_idx].id = cpu_to_vhost32(vq, head);
		vq->heads[nvq->done_idx].len = 0;
		nvq->done_idx++;
	} while (likely(!vhost_kt_exceeds_weight(vq, ++sent_pkts, total_len)));

	tx_flush(n, sock);
}

/* Runs on the worker, which serialises it against the RX handler's work. */
static void handle_tx(struct vhost_kt_net *n)
{
	struct vhost_kt_virtqueue *vq = &n->vqs[VHOST_KT_NET_VQ_TX].vq;
	struct socket *sock;

	mutex_lock_nested(&vq->mutex, VHOST_KT_NET_VQ_TX);
	sock = vhost_kt_net_sock(vq);
	if (!sock)
		goto out;
	if (!vhost_kt_vq_meta_prefetch(vq))
		goto out;

	vhost_kt_disable_notify(&n->dev, vq);
	vhost_kt_net_disable_vq(n, vq);
	handle_tx_copy(n, sock);
out:
	mutex_unlock(&vq->mutex);
}

/* The guest kicked the TX queue. */
void vhost_kt_net_handle_tx_kick(struct vhost_kt_work *work)
{
	struct vhost_kt_virtqueue *vq =
		container_of(work, struct vhost_kt_virtqueue, poll.work);

	handle_tx(vhost_kt_net_of(vq->dev));
}

/* The socket has room again after an -EAGAIN. */
void vhost_kt_net_handle_tx_sock(struct vhost_kt_work *work)
{
	struct vhost_kt_poll *poll =
		container_of(work, struct vhost_kt_poll, work);

	handle_tx(vhost_kt_net_of(poll->dev));
}
