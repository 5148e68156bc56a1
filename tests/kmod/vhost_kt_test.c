// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost_kt_test: a test-only vhost backend on top of the vhost-kt core.
 *
 * /dev/vhost-kt-test has two virtqueues.  For every descriptor chain the
 * guest (tests/drivers/vring_test.c) makes available, the handler reads the
 * device-readable buffers and writes them back, XORed with
 * VHOST_KT_TEST_XOR, into the device-writable ones, so the driver can check
 * every byte and every used length.  With VHOST_F_LOG_ALL it logs the pages
 * it wrote, as vhost-net's RX does (tests/drivers/dirty_log.c checks the
 * bitmap).  Nothing here is ever packaged: it only exists so that the core
 * (rings, memory table, IOTLB, dirty log, workers in both modes) can be
 * driven from userspace without a network.
 *
 * Worker modes are those of /dev/vhost-kt-net: the module default, or what
 * VHOST_SET_FORK_FROM_OWNER chose before VHOST_SET_OWNER.
 */
#include <linux/compat.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

#include "core/vhost.h"
#include "vhost_kt_test.h"

/* Chains and bytes per handler run before the work is requeued. */
#define VHOST_KT_TEST_PKT_WEIGHT	256
#define VHOST_KT_TEST_BYTE_WEIGHT	0x80000
#define VHOST_KT_TEST_BOUNCE		PAGE_SIZE

#define VHOST_KT_TEST_FEATURES	(VHOST_KT_FEATURES |			\
				 (1ULL << VIRTIO_F_ACCESS_PLATFORM))

struct vhost_kt_test_vq {
	struct vhost_kt_virtqueue vq;
	/* Bounce buffer between the readable and the writable iovecs. */
	u8 *bounce;
};

struct vhost_kt_test {
	struct vhost_kt_dev dev;
	struct vhost_kt_test_vq vqs[VHOST_KT_TEST_NVQS];
	atomic64_t chains;
	atomic64_t bytes;
	atomic64_t errors;
	atomic_t worker_tid;
};

static void *vkt_test_backend(struct vhost_kt_virtqueue *vq)
{
	return rcu_dereference_protected(vq->private_data,
					 lockdep_is_held(&vq->mutex));
}

/*
 * Copy min(out, in) bytes from the readable iovecs to the writable ones,
 * transformed.  Returns the count, or -EFAULT if the guest memory behind a
 * buffer vanished.
 */
static int vkt_test_echo(struct vhost_kt_test_vq *tvq, unsigned int out,
			 unsigned int in)
{
	struct vhost_kt_virtqueue *vq = &tvq->vq;
	struct iov_iter from, to;
	size_t len, done = 0;

	iov_iter_init(&from, WRITE, vq->iov, out, iov_length(vq->iov, out));
	iov_iter_init(&to, READ, vq->iov + out, in,
		      iov_length(vq->iov + out, in));
	len = min(iov_iter_count(&from), iov_iter_count(&to));

	while (done < len) {
		size_t n = min_t(size_t, len - done, VHOST_KT_TEST_BOUNCE);
		size_t i;

		if (copy_from_iter(tvq->bounce, n, &from) != n)
			return -EFAULT;
		for (i = 0; i < n; i++)
			tvq->bounce[i] ^= VHOST_KT_TEST_XOR;
		if (copy_to_iter(tvq->bounce, n, &to) != n)
			return -EFAULT;
		done += n;
	}
	return len;
}

static void vkt_test_handle_vq(struct vhost_kt_test *t,
			       struct vhost_kt_test_vq *tvq)
{
	struct vhost_kt_virtqueue *vq = &tvq->vq;
	struct vhost_kt_log *vq_log;
	unsigned int out, in, log_num = 0;
	int head, len, pkts = 0;
	size_t total = 0;

	mutex_lock(&vq->mutex);
	if (!vkt_test_backend(vq))
		goto out;
	if (!vhost_kt_vq_meta_prefetch(vq))
		goto out;

	/* As vhost-net's RX: log what we write while migration runs. */
	vq_log = unlikely(vhost_kt_has_feature(vq, VHOST_F_LOG_ALL)) ?
		 vq->log : NULL;
	atomic_set(&t->worker_tid, task_pid_nr(current));
	vhost_kt_disable_notify(&t->dev, vq);
	for (;;) {
		head = vhost_kt_get_vq_desc(vq, vq->iov, UIO_MAXIOV,
					    &out, &in, vq_log, &log_num);
		/* IOTLB miss: the UPDATE from userspace kicks us again. */
		if (head == -EAGAIN)
			break;
		/* Malformed chain: the core signalled the error eventfd. */
		if (head < 0) {
			atomic64_inc(&t->errors);
			break;
		}
		if (head == vq->num) {
			if (unlikely(vhost_kt_enable_notify(&t->dev, vq))) {
				vhost_kt_disable_notify(&t->dev, vq);
				continue;
			}
			break;
		}
		len = vkt_test_echo(tvq, out, in);
		if (len < 0) {
			vq_err(vq, "vhost_kt_test: guest buffer fault\n");
			vhost_kt_discard_vq_desc(vq, 1);
			atomic64_inc(&t->errors);
			break;
		}
		if (unlikely(vq_log))
			vhost_kt_log_write(vq, vq_log, log_num, len,
					   vq->iov + out, in);
		vhost_kt_add_used_and_signal(&t->dev, vq, head, len);
		atomic64_inc(&t->chains);
		atomic64_add(len, &t->bytes);
		total += len;
		if (unlikely(vhost_kt_exceeds_weight(vq, ++pkts, total)))
			break;
	}
out:
	mutex_unlock(&vq->mutex);
}

static void vkt_test_handle_kick(struct vhost_kt_work *work)
{
	struct vhost_kt_virtqueue *vq =
		container_of(work, struct vhost_kt_virtqueue, poll.work);
	struct vhost_kt_test *t = container_of(vq->dev, struct vhost_kt_test,
					       dev);

	vkt_test_handle_vq(t, container_of(vq, struct vhost_kt_test_vq, vq));
}

static int vkt_test_open(struct inode *inode, struct file *f)
{
	struct vhost_kt_virtqueue **vqs;
	struct vhost_kt_test *t;
	int i;

	t = kvzalloc(sizeof(*t), GFP_KERNEL);
	if (!t)
		return -ENOMEM;
	vqs = kmalloc_array(VHOST_KT_TEST_NVQS, sizeof(*vqs), GFP_KERNEL);
	if (!vqs)
		goto err_vqs;
	for (i = 0; i < VHOST_KT_TEST_NVQS; i++) {
		t->vqs[i].bounce = kmalloc(VHOST_KT_TEST_BOUNCE, GFP_KERNEL);
		if (!t->vqs[i].bounce)
			goto err_bounce;
		vqs[i] = &t->vqs[i].vq;
		vqs[i]->handle_kick = vkt_test_handle_kick;
	}

	vhost_kt_dev_init(&t->dev, vqs, VHOST_KT_TEST_NVQS, UIO_MAXIOV,
			  VHOST_KT_TEST_PKT_WEIGHT, VHOST_KT_TEST_BYTE_WEIGHT,
			  true, vhost_kt_default_mode(), false, NULL);
	f->private_data = t;
	return 0;

err_bounce:
	while (i--)
		kfree(t->vqs[i].bounce);
	kfree(vqs);
err_vqs:
	kvfree(t);
	return -ENOMEM;
}

/* Detach the backend from every queue; caller holds dev->mutex or owns t. */
static void vkt_test_stop(struct vhost_kt_test *t)
{
	int i;

	for (i = 0; i < VHOST_KT_TEST_NVQS; i++) {
		struct vhost_kt_virtqueue *vq = &t->vqs[i].vq;

		mutex_lock(&vq->mutex);
		RCU_INIT_POINTER(vq->private_data, NULL);
		mutex_unlock(&vq->mutex);
	}
}

static int vkt_test_release(struct inode *inode, struct file *f)
{
	struct vhost_kt_test *t = f->private_data;
	int i;

	vkt_test_stop(t);
	vhost_kt_dev_flush(&t->dev);
	vhost_kt_dev_stop(&t->dev);
	vhost_kt_dev_cleanup(&t->dev);
	for (i = 0; i < VHOST_KT_TEST_NVQS; i++)
		kfree(t->vqs[i].bounce);
	kfree(t->dev.vqs);
	kvfree(t);
	return 0;
}

static long vkt_test_run(struct vhost_kt_test *t, int mask)
{
	long r;
	int i;

	if (mask < 0 || mask >= (1 << VHOST_KT_TEST_NVQS))
		return -EINVAL;

	mutex_lock(&t->dev.mutex);
	r = vhost_kt_dev_check_owner(&t->dev);
	if (r)
		goto out;
	if (mask && !vhost_kt_dev_has_owner(&t->dev)) {
		r = -EINVAL;
		goto out;
	}
	for (i = 0; i < VHOST_KT_TEST_NVQS; i++) {
		struct vhost_kt_virtqueue *vq = &t->vqs[i].vq;

		if (!(mask & (1 << i)))
			continue;
		mutex_lock(&vq->mutex);
		r = vhost_kt_vq_access_ok(vq) ? 0 : -EFAULT;
		mutex_unlock(&vq->mutex);
		if (r)
			goto out;
	}

	for (i = 0; i < VHOST_KT_TEST_NVQS; i++) {
		struct vhost_kt_virtqueue *vq = &t->vqs[i].vq;
		bool on = mask & (1 << i);

		mutex_lock(&vq->mutex);
		if (on) {
			rcu_assign_pointer(vq->private_data, t);
			r = vhost_kt_vq_init_access(vq);
			if (r)
				RCU_INIT_POINTER(vq->private_data, NULL);
		} else {
			RCU_INIT_POINTER(vq->private_data, NULL);
		}
		mutex_unlock(&vq->mutex);
		if (r)
			break;
		/* Buffers made available before the start are served now. */
		if (on && vq->kick)
			vhost_kt_poll_queue(&vq->poll);
	}
	vhost_kt_dev_flush(&t->dev);
out:
	mutex_unlock(&t->dev.mutex);
	return r;
}

static long vkt_test_reset_owner(struct vhost_kt_test *t)
{
	struct vhost_kt_iotlb *umem;
	long r;

	mutex_lock(&t->dev.mutex);
	r = vhost_kt_dev_check_owner(&t->dev);
	if (r)
		goto out;
	umem = vhost_kt_dev_reset_owner_prepare();
	if (!umem) {
		r = -ENOMEM;
		goto out;
	}
	vkt_test_stop(t);
	vhost_kt_dev_flush(&t->dev);
	vhost_kt_dev_stop(&t->dev);
	vhost_kt_dev_reset_owner(&t->dev, umem);
out:
	mutex_unlock(&t->dev.mutex);
	return r;
}

static long vkt_test_set_features(struct vhost_kt_test *t, u64 features)
{
	long r = 0;
	int i;

	if (features & ~VHOST_KT_TEST_FEATURES)
		return -EOPNOTSUPP;

	mutex_lock(&t->dev.mutex);
	if ((features & (1ULL << VHOST_F_LOG_ALL)) &&
	    !vhost_kt_log_access_ok(&t->dev)) {
		r = -EFAULT;
		goto out;
	}
	if ((features & (1ULL << VIRTIO_F_ACCESS_PLATFORM)) &&
	    vhost_kt_init_device_iotlb(&t->dev)) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < VHOST_KT_TEST_NVQS; i++) {
		struct vhost_kt_virtqueue *vq = &t->vqs[i].vq;

		mutex_lock(&vq->mutex);
		vq->acked_features = features;
		mutex_unlock(&vq->mutex);
	}
out:
	mutex_unlock(&t->dev.mutex);
	return r;
}

static long vkt_test_get_stats(struct vhost_kt_test *t, void __user *argp)
{
	struct vhost_kt_test_stats s = {
		.chains = atomic64_read(&t->chains),
		.bytes = atomic64_read(&t->bytes),
		.errors = atomic64_read(&t->errors),
		.worker_tid = atomic_read(&t->worker_tid),
	};

	return copy_to_user(argp, &s, sizeof(s)) ? -EFAULT : 0;
}

static long vkt_test_ioctl(struct file *f, unsigned int ioctl,
			   unsigned long arg)
{
	struct vhost_kt_test *t = f->private_data;
	void __user *argp = (void __user *)arg;
	u64 features;
	long r;
	int val;

	switch (ioctl) {
	case VHOST_KT_TEST_RUN:
		if (get_user(val, (int __user *)argp))
			return -EFAULT;
		return vkt_test_run(t, val);
	case VHOST_KT_TEST_GET_STATS:
		return vkt_test_get_stats(t, argp);
	case VHOST_GET_FEATURES:
		features = VHOST_KT_TEST_FEATURES;
		return copy_to_user(argp, &features, sizeof(features)) ?
		       -EFAULT : 0;
	case VHOST_SET_FEATURES:
		if (copy_from_user(&features, argp, sizeof(features)))
			return -EFAULT;
		return vkt_test_set_features(t, features);
	case VHOST_GET_BACKEND_FEATURES:
		features = VHOST_KT_BACKEND_FEATURES;
		return copy_to_user(argp, &features, sizeof(features)) ?
		       -EFAULT : 0;
	case VHOST_SET_BACKEND_FEATURES:
		if (copy_from_user(&features, argp, sizeof(features)))
			return -EFAULT;
		if (features & ~VHOST_KT_BACKEND_FEATURES)
			return -EOPNOTSUPP;
		vhost_kt_set_backend_features(&t->dev, features);
		return 0;
	case VHOST_RESET_OWNER:
		return vkt_test_reset_owner(t);
	default:
		mutex_lock(&t->dev.mutex);
		r = vhost_kt_dev_ioctl(&t->dev, ioctl, argp);
		if (r == -ENOIOCTLCMD)
			r = vhost_kt_vring_ioctl(&t->dev, ioctl, argp);
		else
			vhost_kt_dev_flush(&t->dev);
		mutex_unlock(&t->dev.mutex);
		return r;
	}
}

static ssize_t vkt_test_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct file *file = iocb->ki_filp;
	struct vhost_kt_test *t = file->private_data;

	return vhost_kt_chr_read_iter(&t->dev, to, file->f_flags & O_NONBLOCK);
}

static ssize_t vkt_test_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct vhost_kt_test *t = iocb->ki_filp->private_data;

	return vhost_kt_chr_write_iter(&t->dev, from);
}

static __poll_t vkt_test_poll(struct file *file, poll_table *wait)
{
	struct vhost_kt_test *t = file->private_data;

	return vhost_kt_chr_poll(file, &t->dev, wait);
}

static const struct file_operations vkt_test_fops = {
	.owner		= THIS_MODULE,
	.open		= vkt_test_open,
	.release	= vkt_test_release,
	.read_iter	= vkt_test_read_iter,
	.write_iter	= vkt_test_write_iter,
	.poll		= vkt_test_poll,
	.unlocked_ioctl	= vkt_test_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice vkt_test_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "vhost-kt-test",
	.fops	= &vkt_test_fops,
	.mode	= 0600,
};
module_misc_device(vkt_test_misc);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("vhost-kt developers");
MODULE_DESCRIPTION("vhost-kt test backend (echo with XOR), for the test suite only");
