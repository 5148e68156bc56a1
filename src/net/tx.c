// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-kt net backend, transmit: guest TX ring -> backend socket.
 *
 * Each available chain is one packet.  Its out-buffers are handed to the
 * socket's sendmsg() as an iov_iter over guest memory, so the only copy is
 * the one the socket makes into its skb.  Used entries are published in
 * batches of VHOST_KT_NET_BATCH, and the handler yields after the weight
 * budget so the RX queue on the same worker keeps moving.
 */
#include <linux/net.h>
#include <linux/socket.h>
#include <linux/uio.h>
#include <net/sock.h>

#include "internal.h"

static int tx_get_vq_desc(struct vhost_kt_net *n, struct vhost_kt_net_vq *nvq,
			  unsigned int *out, unsigned int *in,
			  bool *busyloop_intr)
{
	struct vhost_kt_virtqueue *vq = &nvq->vq;
	int r;

	r = vhost_kt_get_vq_desc(vq, vq->iov, ARRAY_SIZE(vq->iov), out, in,
				 NULL, NULL);
	if (r == vq->num && vq->busyloop_timeout) {
		/* Let the guest see what we did before we spin. */
		vhost_kt_net_signal_used(nvq);
		vhost_kt_net_busy_poll(n, false, busyloop_intr);
		r = vhost_kt_get_vq_desc(vq, vq->iov, ARRAY_SIZE(vq->iov),
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
	size_t len, total_len = 0;
	int sent_pkts = 0;
	int head, err;

	do {
		bool busyloop_intr = false;

		if (nvq->done_idx == VHOST_KT_NET_BATCH)
			vhost_kt_net_signal_used(nvq);

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
		if (tx_can_batch(vq, total_len))
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

		vq->heads[nvq->done_idx].id = cpu_to_vhost32(vq, head);
		vq->heads[nvq->done_idx].len = 0;
		nvq->done_idx++;
	} while (likely(!vhost_kt_exceeds_weight(vq, ++sent_pkts, total_len)));

	vhost_kt_net_signal_used(nvq);
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
