// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-kt net backend: device nodes, open/release and the ioctls.
 *
 * The ABI is upstream vhost-net's (Linux 6.12): same ioctls, same feature
 * bits, same errno values, so QEMU and libvirt drive it unchanged.  What
 * differs is only how the device is found: each worker mode has its own
 * node, so a VMM picks a mode by choosing a path.
 *
 *   /dev/vhost-kt-net          mode = module default (inherit_owner_default)
 *   /dev/vhost-kt-net-kthread  always kthread mode
 *   /dev/vhost-kt-net-task     always task mode (kernels with vhost_task)
 *
 * The nodes use dynamic misc minors.  Stock vhost-net owns a reserved minor
 * (VHOST_NET_MINOR) and MODULE_ALIAS("devname:vhost-net"), which lets
 * kmod-static-nodes create /dev/vhost-net at boot and load the module on
 * first open.  That mechanism needs a fixed minor: depmod writes a line to
 * modules.devname only when a module has both a devname: alias and a
 * char-major-10-<minor> alias, so a devname: alias on a dynamic minor would
 * be silently ignored.  We declare none; instead the packaging loads the
 * module at boot (/etc/modules-load.d/vhost-kt.conf) and gives the nodes to
 * group kvm with a udev rule (KERNEL=="vhost-kt-net*", GROUP="kvm",
 * MODE="0660").  Until then the nodes are 0600, root only.
 *
 * Zerocopy transmit is not implemented: upstream keeps it behind
 * experimental_zcopytx, which defaults to off, so the copy path below is
 * what stock vhost-net runs in practice.
 */
#include <linux/compat.h>
#include <linux/file.h>
#include <linux/if_packet.h>
#include <linux/if_tap.h>
#include <linux/if_tun.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/net.h>
#include <linux/sched/clock.h>
#include <linux/sched/signal.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/virtio_net.h>
#include <linux/seq_file.h>
#include <linux/vmalloc.h>
#include <net/sock.h>

#include "../admin.h"
#include "net.h"
#include "internal.h"

/* The feature set of upstream vhost-net in Linux 6.12. */
#define VHOST_KT_NET_FEATURES (VHOST_KT_FEATURES |			\
			       (1ULL << VHOST_NET_F_VIRTIO_NET_HDR) |	\
			       (1ULL << VIRTIO_NET_F_MRG_RXBUF) |	\
			       (1ULL << VIRTIO_F_ACCESS_PLATFORM) |	\
			       (1ULL << VIRTIO_F_RING_RESET))

/* vhost-net offers only v2 IOTLB messages, not the batching flag. */
#define VHOST_KT_NET_BACKEND_FEATURES (1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2)

/* ---- socket polling and used-ring batching, shared by tx.c and rx.c ---- */

int vhost_kt_net_enable_vq(struct vhost_kt_net *n,
			   struct vhost_kt_virtqueue *vq)
{
	struct vhost_kt_net_vq *nvq = vhost_kt_net_vq_of(vq);
	struct socket *sock = vhost_kt_net_sock(vq);

	if (!sock)
		return 0;
	return vhost_kt_poll_start(&n->poll[nvq - n->vqs], sock->file);
}

void vhost_kt_net_disable_vq(struct vhost_kt_net *n,
			     struct vhost_kt_virtqueue *vq)
{
	struct vhost_kt_net_vq *nvq = vhost_kt_net_vq_of(vq);

	if (!vhost_kt_net_sock(vq))
		return;
	vhost_kt_poll_stop(&n->poll[nvq - n->vqs]);
}

void vhost_kt_net_signal_used(struct vhost_kt_net_vq *nvq)
{
	struct vhost_kt_virtqueue *vq = &nvq->vq;

	if (!nvq->done_idx)
		return;
	vhost_kt_add_used_and_signal_n(vq->dev, vq, vq->heads, nvq->done_idx);
	nvq->done_idx = 0;
}

/* Microseconds, roughly: the unit of VHOST_SET_VRING_BUSYLOOP_TIMEOUT. */
static unsigned long busy_clock(void)
{
	return local_clock() >> 10;
}

static bool can_busy_poll(unsigned long endtime)
{
	return likely(!need_resched() && !time_after(busy_clock(), endtime) &&
		      !signal_pending(current));
}

static bool sock_has_rx_data(struct socket *sock)
{
	if (unlikely(!sock))
		return false;
	if (sock->ops->peek_len)
		return sock->ops->peek_len(sock) > 0;
	return !skb_queue_empty_lockless(&sock->sk->sk_receive_queue);
}

static void busy_poll_try_queue(struct vhost_kt_net *n,
				struct vhost_kt_virtqueue *vq)
{
	if (!vhost_kt_vq_avail_empty(&n->dev, vq)) {
		vhost_kt_poll_queue(&vq->poll);
	} else if (unlikely(vhost_kt_enable_notify(&n->dev, vq))) {
		vhost_kt_disable_notify(&n->dev, vq);
		vhost_kt_poll_queue(&vq->poll);
	}
}

/*
 * Spin for up to the queue's busyloop timeout waiting for work on either
 * side of the pair: new TX buffers from the guest, or RX packets on the
 * socket with RX buffers to put them in.  The caller holds the mutex of
 * the queue it serves (RX if @poll_rx); the other one is only trylocked,
 * since the two handlers take them in opposite orders.  On exit the other
 * queue is kicked if it has something to do, so nothing is lost while its
 * notifications were off.
 */
void vhost_kt_net_busy_poll(struct vhost_kt_net *n, bool poll_rx,
			    bool *busyloop_intr)
{
	struct vhost_kt_virtqueue *rvq = &n->vqs[VHOST_KT_NET_VQ_RX].vq;
	struct vhost_kt_virtqueue *tvq = &n->vqs[VHOST_KT_NET_VQ_TX].vq;
	struct vhost_kt_virtqueue *vq = poll_rx ? tvq : rvq;
	unsigned long endtime;
	struct socket *sock;

	if (!mutex_trylock(&vq->mutex))
		return;

	vhost_kt_disable_notify(&n->dev, vq);
	sock = vhost_kt_net_sock(rvq);

	/*
	 * Pinned to this CPU, so that its clock measures the timeout, but
	 * preemptible: the ring reads in the loop may take a page fault, or
	 * under an IOTLB report a miss (which allocates), and either must be
	 * served like anywhere else, not refused as in atomic context.
	 */
	migrate_disable();
	endtime = busy_clock() + (poll_rx ? rvq->busyloop_timeout :
					    tvq->busyloop_timeout);
	while (can_busy_poll(endtime)) {
		if (vhost_kt_vq_has_work(vq)) {
			*busyloop_intr = true;
			break;
		}
		if ((sock_has_rx_data(sock) &&
		     !vhost_kt_vq_avail_empty(&n->dev, rvq)) ||
		    !vhost_kt_vq_avail_empty(&n->dev, tvq))
			break;
		cpu_relax();
	}
	migrate_enable();

	if (poll_rx || sock_has_rx_data(sock))
		busy_poll_try_queue(n, vq);
	else
		vhost_kt_enable_notify(&n->dev, rvq);

	mutex_unlock(&vq->mutex);
}

/* ---- backends ---- */

static struct socket *get_raw_socket(int fd)
{
	struct socket *sock;
	int r;

	sock = sockfd_lookup(fd, &r);
	if (!sock)
		return ERR_PTR(-ENOTSOCK);
	if (sock->sk->sk_type != SOCK_RAW) {
		r = -ESOCKTNOSUPPORT;
		goto err;
	}
	if (sock->sk->sk_family != AF_PACKET) {
		r = -EPFNOSUPPORT;
		goto err;
	}
	return sock;
err:
	sockfd_put(sock);
	return ERR_PTR(r);
}

/* A tun or macvtap/ipvtap fd; the reference is dropped with sockfd_put(). */
static struct socket *get_tap_socket(int fd)
{
	struct file *file = fget(fd);
	struct socket *sock;

	if (!file)
		return ERR_PTR(-EBADF);
	sock = tun_get_socket(file);
	if (!IS_ERR(sock))
		return sock;
	sock = tap_get_socket(file);
	if (IS_ERR(sock))
		fput(file);
	return sock;
}

static struct socket *get_socket(int fd)
{
	struct socket *sock;

	/* -1 detaches the backend. */
	if (fd == -1)
		return NULL;
	sock = get_raw_socket(fd);
	if (!IS_ERR(sock))
		return sock;
	sock = get_tap_socket(fd);
	if (!IS_ERR(sock))
		return sock;
	return ERR_PTR(-ENOTSOCK);
}

static struct ptr_ring *get_tap_ptr_ring(struct file *file)
{
	struct ptr_ring *ring;

	ring = tun_get_tx_ring(file);
	if (!IS_ERR(ring))
		return ring;
	ring = tap_get_ptr_ring(file);
	if (!IS_ERR(ring))
		return ring;
	return NULL;
}

static long vhost_kt_net_set_backend(struct vhost_kt_net *n,
				     unsigned int index, int fd)
{
	struct socket *sock, *oldsock;
	struct vhost_kt_net_vq *nvq;
	struct vhost_kt_virtqueue *vq;
	long r;

	mutex_lock(&n->dev.mutex);
	r = vhost_kt_dev_check_owner(&n->dev);
	if (r)
		goto err;

	if (index >= VHOST_KT_NET_VQ_MAX) {
		r = -ENOBUFS;
		goto err;
	}
	nvq = &n->vqs[index];
	vq = &nvq->vq;
	mutex_lock(&vq->mutex);

	if (fd == -1)
		vhost_kt_clear_msg(&n->dev);

	if (!vhost_kt_vq_access_ok(vq)) {
		r = -EFAULT;
		goto err_vq;
	}
	sock = get_socket(fd);
	if (IS_ERR(sock)) {
		r = PTR_ERR(sock);
		goto err_vq;
	}

	oldsock = vhost_kt_net_sock(vq);
	if (sock != oldsock) {
		vhost_kt_net_disable_vq(n, vq);
		rcu_assign_pointer(vq->private_data, sock);
		vhost_kt_net_rxbuf_unproduce(nvq);
		r = vhost_kt_vq_init_access(vq);
		if (r)
			goto err_used;
		r = vhost_kt_net_enable_vq(n, vq);
		if (r)
			goto err_used;
		if (index == VHOST_KT_NET_VQ_RX)
			nvq->rx_ring = sock ? get_tap_ptr_ring(sock->file) :
					      NULL;
	}
	mutex_unlock(&vq->mutex);

	/*
	 * Re-attaching the same socket took a second reference above, which
	 * this put drops; otherwise it releases the old backend once no work
	 * can be using it any more.
	 */
	if (oldsock) {
		vhost_kt_dev_flush(&n->dev);
		sockfd_put(oldsock);
	}
	mutex_unlock(&n->dev.mutex);
	return 0;

err_used:
	rcu_assign_pointer(vq->private_data, oldsock);
	vhost_kt_net_enable_vq(n, vq);
	if (sock)
		sockfd_put(sock);
err_vq:
	mutex_unlock(&vq->mutex);
err:
	mutex_unlock(&n->dev.mutex);
	return r;
}

static struct socket *vhost_kt_net_stop_vq(struct vhost_kt_net *n,
					   struct vhost_kt_net_vq *nvq)
{
	struct vhost_kt_virtqueue *vq = &nvq->vq;
	struct socket *sock;

	mutex_lock(&vq->mutex);
	sock = vhost_kt_net_sock(vq);
	vhost_kt_net_disable_vq(n, vq);
	RCU_INIT_POINTER(vq->private_data, NULL);
	vhost_kt_net_rxbuf_unproduce(nvq);
	nvq->rx_ring = NULL;
	mutex_unlock(&vq->mutex);
	return sock;
}

static void vhost_kt_net_stop(struct vhost_kt_net *n, struct socket **tx_sock,
			      struct socket **rx_sock)
{
	*tx_sock = vhost_kt_net_stop_vq(n, &n->vqs[VHOST_KT_NET_VQ_TX]);
	*rx_sock = vhost_kt_net_stop_vq(n, &n->vqs[VHOST_KT_NET_VQ_RX]);
}

static void vhost_kt_net_vq_reset(struct vhost_kt_net *n)
{
	int i;

	for (i = 0; i < VHOST_KT_NET_VQ_MAX; i++) {
		n->vqs[i].done_idx = 0;
		n->vqs[i].vhost_hlen = 0;
		n->vqs[i].sock_hlen = 0;
		n->vqs[i].rxq.head = 0;
		n->vqs[i].rxq.tail = 0;
	}
}

/* ---- owner and features ---- */

static long vhost_kt_net_set_owner(struct vhost_kt_net *n)
{
	long r;

	mutex_lock(&n->dev.mutex);
	if (vhost_kt_dev_has_owner(&n->dev)) {
		r = -EBUSY;
		goto out;
	}
	r = vhost_kt_dev_set_owner(&n->dev);
	vhost_kt_dev_flush(&n->dev);
out:
	mutex_unlock(&n->dev.mutex);
	return r;
}

static long vhost_kt_net_reset_owner(struct vhost_kt_net *n)
{
	struct socket *tx_sock = NULL, *rx_sock = NULL;
	struct vhost_kt_iotlb *umem;
	long err;

	mutex_lock(&n->dev.mutex);
	err = vhost_kt_dev_check_owner(&n->dev);
	if (err)
		goto done;
	umem = vhost_kt_dev_reset_owner_prepare();
	if (!umem) {
		err = -ENOMEM;
		goto done;
	}
	vhost_kt_net_stop(n, &tx_sock, &rx_sock);
	vhost_kt_dev_flush(&n->dev);
	vhost_kt_dev_stop(&n->dev);
	vhost_kt_dev_reset_owner(&n->dev, umem);
	vhost_kt_net_vq_reset(n);
done:
	mutex_unlock(&n->dev.mutex);
	if (tx_sock)
		sockfd_put(tx_sock);
	if (rx_sock)
		sockfd_put(rx_sock);
	return err;
}

static long vhost_kt_net_set_features(struct vhost_kt_net *n, u64 features)
{
	size_t vhost_hlen, sock_hlen, hdr_len;
	int i;

	/* Version 1 always has the num_buffers field. */
	if (features & ((1ULL << VIRTIO_NET_F_MRG_RXBUF) |
			(1ULL << VIRTIO_F_VERSION_1)))
		hdr_len = sizeof(struct virtio_net_hdr_mrg_rxbuf);
	else
		hdr_len = sizeof(struct virtio_net_hdr);

	/*
	 * VHOST_NET_F_VIRTIO_NET_HDR: the socket knows nothing of virtio
	 * headers (tap without IFF_VNET_HDR, packet sockets), so vhost strips
	 * them on TX and writes an empty one on RX.  Otherwise the socket
	 * reads and writes them in place.
	 */
	if (features & (1ULL << VHOST_NET_F_VIRTIO_NET_HDR)) {
		vhost_hlen = hdr_len;
		sock_hlen = 0;
	} else {
		vhost_hlen = 0;
		sock_hlen = hdr_len;
	}

	mutex_lock(&n->dev.mutex);
	if ((features & (1ULL << VHOST_F_LOG_ALL)) &&
	    !vhost_kt_log_access_ok(&n->dev))
		goto out_unlock;
	if ((features & (1ULL << VIRTIO_F_ACCESS_PLATFORM)) &&
	    vhost_kt_init_device_iotlb(&n->dev))
		goto out_unlock;

	for (i = 0; i < VHOST_KT_NET_VQ_MAX; i++) {
		mutex_lock(&n->vqs[i].vq.mutex);
		n->vqs[i].vq.acked_features = features;
		n->vqs[i].vhost_hlen = vhost_hlen;
		n->vqs[i].sock_hlen = sock_hlen;
		mutex_unlock(&n->vqs[i].vq.mutex);
	}
	mutex_unlock(&n->dev.mutex);
	return 0;

out_unlock:
	mutex_unlock(&n->dev.mutex);
	return -EFAULT;
}

static long vhost_kt_net_ioctl(struct file *f, unsigned int ioctl,
			       unsigned long arg)
{
	struct vhost_kt_net *n = f->private_data;
	void __user *argp = (void __user *)arg;
	u64 __user *featurep = argp;
	struct vhost_vring_file backend;
	u64 features;
	long r;

	switch (ioctl) {
	case VHOST_NET_SET_BACKEND:
		if (copy_from_user(&backend, argp, sizeof(backend)))
			return -EFAULT;
		return vhost_kt_net_set_backend(n, backend.index, backend.fd);
	case VHOST_GET_FEATURES:
		features = VHOST_KT_NET_FEATURES;
		if (copy_to_user(featurep, &features, sizeof(features)))
			return -EFAULT;
		return 0;
	case VHOST_SET_FEATURES:
		if (copy_from_user(&features, featurep, sizeof(features)))
			return -EFAULT;
		if (features & ~VHOST_KT_NET_FEATURES)
			return -EOPNOTSUPP;
		return vhost_kt_net_set_features(n, features);
	case VHOST_KT_GET_FEATURES_ARRAY:
		return vhost_kt_get_features_array(argp, VHOST_KT_NET_FEATURES);
	case VHOST_KT_SET_FEATURES_ARRAY:
		r = vhost_kt_set_features_array(argp, VHOST_KT_NET_FEATURES,
						&features);
		if (r)
			return r;
		return vhost_kt_net_set_features(n, features);
	case VHOST_GET_BACKEND_FEATURES:
		features = VHOST_KT_NET_BACKEND_FEATURES;
		if (copy_to_user(featurep, &features, sizeof(features)))
			return -EFAULT;
		return 0;
	case VHOST_SET_BACKEND_FEATURES:
		if (copy_from_user(&features, featurep, sizeof(features)))
			return -EFAULT;
		if (features & ~VHOST_KT_NET_BACKEND_FEATURES)
			return -EOPNOTSUPP;
		vhost_kt_set_backend_features(&n->dev, features);
		return 0;
	case VHOST_RESET_OWNER:
		return vhost_kt_net_reset_owner(n);
	case VHOST_SET_OWNER:
		return vhost_kt_net_set_owner(n);
	default:
		mutex_lock(&n->dev.mutex);
		r = vhost_kt_dev_ioctl(&n->dev, ioctl, argp);
		if (r == -ENOIOCTLCMD)
			r = vhost_kt_vring_ioctl(&n->dev, ioctl, argp);
		else
			vhost_kt_dev_flush(&n->dev);
		mutex_unlock(&n->dev.mutex);
		return r;
	}
}

/* ---- the character device ---- */

/* One device node; misc_open() leaves &misc in file->private_data. */
struct vhost_kt_net_node {
	struct miscdevice misc;
	/* The node's mode; ignored unless @fixed. */
	enum vhost_kt_mode mode;
	bool fixed;
	bool registered;
};

static int vhost_kt_net_open(struct inode *inode, struct file *f)
{
	struct vhost_kt_net_node *node =
		container_of(f->private_data, struct vhost_kt_net_node, misc);
	enum vhost_kt_mode def = vhost_kt_default_mode();
	enum vhost_kt_mode mode = node->fixed ? node->mode : def;
	struct vhost_kt_virtqueue **vqs;
	struct vhost_kt_net *n;
	struct xdp_buff *xdp;
	void **queue;

	/* lock_mode: the admin wants every device in the default mode. */
	if (vhost_kt_mode_locked && mode != def)
		return -EPERM;

	n = kvzalloc(sizeof(*n), GFP_KERNEL | __GFP_RETRY_MAYFAIL);
	if (!n)
		return -ENOMEM;
	vqs = kmalloc_array(VHOST_KT_NET_VQ_MAX, sizeof(*vqs), GFP_KERNEL);
	if (!vqs)
		goto err_vqs;
	queue = kmalloc_array(VHOST_KT_NET_BATCH, sizeof(*queue), GFP_KERNEL);
	if (!queue)
		goto err_queue;
	n->vqs[VHOST_KT_NET_VQ_RX].rxq.queue = queue;
	xdp = kmalloc_array(VHOST_KT_NET_BATCH, sizeof(*xdp), GFP_KERNEL);
	if (!xdp)
		goto err_xdp;
	n->tx_xdp = xdp;

	vqs[VHOST_KT_NET_VQ_RX] = &n->vqs[VHOST_KT_NET_VQ_RX].vq;
	vqs[VHOST_KT_NET_VQ_TX] = &n->vqs[VHOST_KT_NET_VQ_TX].vq;
	n->vqs[VHOST_KT_NET_VQ_RX].vq.handle_kick = vhost_kt_net_handle_rx_kick;
	n->vqs[VHOST_KT_NET_VQ_TX].vq.handle_kick = vhost_kt_net_handle_tx_kick;

	/*
	 * RX may batch VHOST_KT_NET_BATCH heads and then need up to
	 * UIO_MAXIOV more for one mergeable packet, hence the iov limit.
	 */
	vhost_kt_dev_init(&n->dev, vqs, VHOST_KT_NET_VQ_MAX,
			  UIO_MAXIOV + VHOST_KT_NET_BATCH,
			  VHOST_KT_NET_PKT_WEIGHT, VHOST_KT_NET_WEIGHT, true,
			  mode, node->fixed, NULL);

	vhost_kt_poll_init(&n->poll[VHOST_KT_NET_VQ_TX],
			   vhost_kt_net_handle_tx_sock, EPOLLOUT, &n->dev,
			   vqs[VHOST_KT_NET_VQ_TX]);
	vhost_kt_poll_init(&n->poll[VHOST_KT_NET_VQ_RX],
			   vhost_kt_net_handle_rx_sock, EPOLLIN, &n->dev,
			   vqs[VHOST_KT_NET_VQ_RX]);

	f->private_data = n;
	return 0;

err_xdp:
	kfree(queue);
err_queue:
	kfree(vqs);
err_vqs:
	kvfree(n);
	return -ENOMEM;
}

static int vhost_kt_net_release(struct inode *inode, struct file *f)
{
	struct vhost_kt_net *n = f->private_data;
	struct socket *tx_sock, *rx_sock;

	vhost_kt_net_stop(n, &tx_sock, &rx_sock);
	vhost_kt_dev_flush(&n->dev);
	vhost_kt_dev_stop(&n->dev);
	vhost_kt_dev_cleanup(&n->dev);
	vhost_kt_net_vq_reset(n);
	if (tx_sock)
		sockfd_put(tx_sock);
	if (rx_sock)
		sockfd_put(rx_sock);
	vhost_kt_compat_page_frag_cache_drain(&n->tx_frags);
	kfree(n->tx_xdp);
	kfree(n->vqs[VHOST_KT_NET_VQ_RX].rxq.queue);
	kfree(n->dev.vqs);
	kvfree(n);
	return 0;
}

/* Which mode this VM's datapath is in, for admins without debugfs. */
static void vhost_kt_net_show_fdinfo(struct seq_file *m, struct file *f)
{
	struct vhost_kt_net *n = f->private_data;

	vhost_kt_admin_show_fdinfo(m, &n->dev);
}

static ssize_t vhost_kt_net_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct file *file = iocb->ki_filp;
	struct vhost_kt_net *n = file->private_data;

	return vhost_kt_chr_read_iter(&n->dev, to, file->f_flags & O_NONBLOCK);
}

static ssize_t vhost_kt_net_write_iter(struct kiocb *iocb,
				       struct iov_iter *from)
{
	struct vhost_kt_net *n = iocb->ki_filp->private_data;

	return vhost_kt_chr_write_iter(&n->dev, from);
}

static __poll_t vhost_kt_net_poll(struct file *file, poll_table *wait)
{
	struct vhost_kt_net *n = file->private_data;

	return vhost_kt_chr_poll(file, &n->dev, wait);
}

static const struct file_operations vhost_kt_net_fops = {
	.owner		= THIS_MODULE,
	.open		= vhost_kt_net_open,
	.release	= vhost_kt_net_release,
	.read_iter	= vhost_kt_net_read_iter,
	.write_iter	= vhost_kt_net_write_iter,
	.poll		= vhost_kt_net_poll,
	.unlocked_ioctl	= vhost_kt_net_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
	.show_fdinfo	= vhost_kt_net_show_fdinfo,
};

#define VHOST_KT_NET_NODE(_name, _mode, _fixed) {			\
	.misc = {							\
		.minor	= MISC_DYNAMIC_MINOR,				\
		.name	= _name,					\
		.fops	= &vhost_kt_net_fops,				\
		.mode	= 0600,						\
	},								\
	.mode	= _mode,						\
	.fixed	= _fixed,						\
}

static struct vhost_kt_net_node vhost_kt_net_nodes[] = {
	VHOST_KT_NET_NODE("vhost-kt-net", VHOST_KT_MODE_KTHREAD, false),
	VHOST_KT_NET_NODE("vhost-kt-net-kthread", VHOST_KT_MODE_KTHREAD, true),
	VHOST_KT_NET_NODE("vhost-kt-net-task", VHOST_KT_MODE_TASK, true),
};

void vhost_kt_net_exit(void)
{
	int i;

	for (i = ARRAY_SIZE(vhost_kt_net_nodes) - 1; i >= 0; i--) {
		struct vhost_kt_net_node *node = &vhost_kt_net_nodes[i];

		if (!node->registered)
			continue;
		misc_deregister(&node->misc);
		node->registered = false;
	}
}

int vhost_kt_net_init(void)
{
	int i, ret;

	for (i = 0; i < ARRAY_SIZE(vhost_kt_net_nodes); i++) {
		struct vhost_kt_net_node *node = &vhost_kt_net_nodes[i];

		/* No task node where the kernel lacks vhost_task. */
		if (node->fixed && !vhost_kt_mode_supported(node->mode))
			continue;
		ret = misc_register(&node->misc);
		if (ret) {
			pr_err("cannot register /dev/%s: %d\n",
			       node->misc.name, ret);
			vhost_kt_net_exit();
			return ret;
		}
		node->registered = true;
	}
	return 0;
}
