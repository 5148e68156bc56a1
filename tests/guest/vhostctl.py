#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Small vhost ioctl client for guest tests.

    vhostctl.py DEV OP [OP...]

Opens DEV once and runs the operations in order, printing one line per
operation: `OP ok [value]` or `OP errno NAME`.  Exit status is 0 unless DEV
cannot be opened.  Operations:

    set-owner  reset-owner  get-features  get-mode  set-mode:N
    set-mode-old:N  get-mode-old  sleep:SECS

Added for the core tests (tests/guest/core-*.sh):

    set-mode-badptr  get-mode-badptr  set-mode-old-badptr   (pointer 0x1)
    child:OP        run OP in a forked child (another mm), same fd
    new-worker  free-worker:ID  attach-worker:VQ:ID  get-worker:VQ
    mem-table:N[:SIZE]   N disjoint regions of SIZE bytes (default 4096)
    mem-overlap  mem-overflow-gpa  mem-overflow-uaddr  mem-zero-size
    set-vring-num:VQ:N  get-vring-base:VQ
    pid             print this process's pid
    setuid:UID:GID  drop to UID/GID (no supplementary groups)
    rlimit-nproc:N  set RLIMIT_NPROC; N=used: the tasks of this real uid
    wait:PATH       wait (up to 120 s) until PATH exists
"""
import errno
import fcntl
import os
import struct
import sys
import time

VHOST_VIRTIO = 0xAF


def _ioc(direction, nr, size):
    return (direction << 30) | (size << 16) | (VHOST_VIRTIO << 8) | nr


def IO(nr):
    return _ioc(0, nr, 0)


def IOW(nr, size):
    return _ioc(1, nr, size)


def IOR(nr, size):
    return _ioc(2, nr, size)


VHOST_GET_FEATURES = IOR(0x00, 8)
VHOST_SET_OWNER = IO(0x01)
VHOST_RESET_OWNER = IO(0x02)
VHOST_SET_FORK_FROM_OWNER = IOW(0x84, 1)
VHOST_GET_FORK_FROM_OWNER = IOR(0x85, 1)
VHOST_SET_FORK_FROM_OWNER_OLD = IOW(0x83, 1)
VHOST_GET_FORK_FROM_OWNER_OLD = IOR(0x84, 1)
VHOST_SET_MEM_TABLE = IOW(0x03, 8)
VHOST_SET_VRING_NUM = IOW(0x10, 8)
VHOST_GET_VRING_BASE = _ioc(3, 0x12, 8)
VHOST_NEW_WORKER = IOR(0x08, 4)
VHOST_FREE_WORKER = IOW(0x09, 4)
VHOST_ATTACH_VRING_WORKER = IOW(0x15, 8)
VHOST_GET_VRING_WORKER = _ioc(3, 0x16, 8)

_mappings = []
_QUIET = object()   # the operation printed its own line


def _raw_ioctl(fd, req, ptr):
    """ioctl with an arbitrary pointer value, which fcntl cannot pass."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]
    if libc.ioctl(fd, req, ctypes.c_void_p(ptr)) < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def _mem_table(fd, regions):
    """VHOST_SET_MEM_TABLE with (gpa, size, uaddr) tuples."""
    buf = struct.pack('II', len(regions), 0)
    for gpa, size, uaddr in regions:
        buf += struct.pack('QQQQ', gpa, size, uaddr, 0)
    if len(buf) <= 1024:
        fcntl.ioctl(fd, VHOST_SET_MEM_TABLE, buf)
        return
    # fcntl.ioctl() copies at most 1024 bytes: pass a real buffer.
    import ctypes
    cbuf = ctypes.create_string_buffer(buf, len(buf))
    _raw_ioctl(fd, VHOST_SET_MEM_TABLE, ctypes.addressof(cbuf))


def _anon(size):
    """Userspace address of a fresh anonymous mapping, kept alive."""
    import ctypes
    import mmap
    m = mmap.mmap(-1, size)
    _mappings.append(m)
    return ctypes.addressof(ctypes.c_char.from_buffer(m))


def _tasks_of_uid(uid):
    n = 0
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            for tid in os.listdir('/proc/%s/task' % pid):
                with open('/proc/%s/task/%s/status' % (pid, tid)) as f:
                    for line in f:
                        if line.startswith('Uid:') and int(line.split()[1]) == uid:
                            n += 1
        except OSError:
            pass
    return n


def _status_field(tid, field):
    try:
        with open('/proc/%s/status' % tid) as f:
            for line in f:
                if line.startswith(field + ':'):
                    return line.split()[1]
    except OSError:
        pass
    return '?'


def run(fd, op):
    name, _, arg = op.partition(':')
    if name == 'set-owner':
        fcntl.ioctl(fd, VHOST_SET_OWNER)
        return None
    if name == 'reset-owner':
        fcntl.ioctl(fd, VHOST_RESET_OWNER)
        return None
    if name == 'get-features':
        buf = fcntl.ioctl(fd, VHOST_GET_FEATURES, bytes(8))
        return hex(struct.unpack('Q', buf)[0])
    if name in ('set-mode', 'set-mode-old'):
        req = VHOST_SET_FORK_FROM_OWNER if name == 'set-mode' else VHOST_SET_FORK_FROM_OWNER_OLD
        fcntl.ioctl(fd, req, struct.pack('B', int(arg)))
        return None
    if name in ('get-mode', 'get-mode-old'):
        req = VHOST_GET_FORK_FROM_OWNER if name == 'get-mode' else VHOST_GET_FORK_FROM_OWNER_OLD
        return struct.unpack('B', fcntl.ioctl(fd, req, bytes(1)))[0]
    if name == 'sleep':
        time.sleep(float(arg))
        return None
    if name.endswith('-badptr'):
        req = {'set-mode-badptr': VHOST_SET_FORK_FROM_OWNER,
               'get-mode-badptr': VHOST_GET_FORK_FROM_OWNER,
               'set-mode-old-badptr': VHOST_SET_FORK_FROM_OWNER_OLD}[name]
        _raw_ioctl(fd, req, 1)
        return None
    if name == 'child':
        pid = os.fork()
        if pid == 0:
            try:
                val = run(fd, arg)
                print(op, 'ok') if val is None else print(op, 'ok', val)
            except OSError as e:
                print(op, 'errno', errno.errorcode.get(e.errno, e.errno))
            sys.stdout.flush()
            os._exit(0)
        os.waitpid(pid, 0)
        return _QUIET
    if name == 'new-worker':
        buf = fcntl.ioctl(fd, VHOST_NEW_WORKER, bytes(4))
        return struct.unpack('I', buf)[0]
    if name == 'free-worker':
        fcntl.ioctl(fd, VHOST_FREE_WORKER, struct.pack('I', int(arg)))
        return None
    if name == 'attach-worker':
        vq, wid = arg.split(':')
        fcntl.ioctl(fd, VHOST_ATTACH_VRING_WORKER, struct.pack('II', int(vq), int(wid)))
        return None
    if name == 'get-worker':
        buf = fcntl.ioctl(fd, VHOST_GET_VRING_WORKER, struct.pack('II', int(arg), 0))
        return struct.unpack('II', buf)[1]
    if name == 'mem-table':
        n, _, size = arg.partition(':')
        size = int(size or 4096)
        base = _anon(int(n) * size)
        _mem_table(fd, [(0x100000 + i * 2 * size, size, base + i * size)
                        for i in range(int(n))])
        return None
    if name == 'mem-overlap':
        base = _anon(0x4000)
        _mem_table(fd, [(0x100000, 0x2000, base), (0x101000, 0x2000, base + 0x2000)])
        return None
    if name == 'mem-overflow-gpa':
        base = _anon(0x2000)
        _mem_table(fd, [(0xfffffffffffff000, 0x2000, base)])
        return None
    if name == 'mem-overflow-uaddr':
        _mem_table(fd, [(0x100000, 0x2000, 0xfffffffffffff000)])
        return None
    if name == 'mem-zero-size':
        base = _anon(0x1000)
        _mem_table(fd, [(0x100000, 0, base)])
        return None
    if name == 'set-vring-num':
        vq, num = arg.split(':')
        fcntl.ioctl(fd, VHOST_SET_VRING_NUM, struct.pack('II', int(vq), int(num)))
        return None
    if name == 'get-vring-base':
        buf = fcntl.ioctl(fd, VHOST_GET_VRING_BASE, struct.pack('II', int(arg), 0))
        return struct.unpack('II', buf)[1]
    if name == 'fdinfo':
        # The device's fdinfo lines, and where each listed worker lives.
        info = {}
        with open('/proc/self/fdinfo/%d' % fd) as f:
            for line in f:
                key, _, val = line.partition(':')
                if key.startswith('vhost-'):
                    info[key[6:]] = val.strip()
        out = ['mode=%s' % info.get('mode'), 'owner=%s' % info.get('owner')]
        for w in info.get('workers', '-').split(','):
            if w == '-':
                out.append('no-workers')
                continue
            wid, _, tid = w.partition(':')
            try:
                with open('/proc/%s/comm' % tid) as f:
                    comm = f.read().strip()
            except OSError:
                comm = '?'
            ppid = _status_field(tid, 'PPid')
            ppid = {'2': 'kthreadd', str(os.getppid()): 'owner-parent'}.get(ppid, ppid)
            mine = os.path.exists('/proc/self/task/%s' % tid)
            out.append('worker%s=%s,ppid=%s,%s' % (
                wid, comm, ppid, 'owner-thread' if mine else 'own-process'))
        return ' '.join(out)
    if name == 'lock-mode':
        # The admin changing lock_mode between this process's ioctls.
        with open('/sys/module/vhost_kt/parameters/lock_mode', 'w') as f:
            f.write(arg)
        return None
    if name == 'pid':
        return os.getpid()
    if name == 'setuid':
        uid, gid = (int(x) for x in arg.split(':'))
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        return None
    if name == 'rlimit-nproc':
        import resource
        n = _tasks_of_uid(os.getuid()) if arg == 'used' else int(arg)
        resource.setrlimit(resource.RLIMIT_NPROC, (n, n))
        return n
    if name == 'wait':
        for _ in range(1200):
            if os.path.exists(arg):
                return None
            time.sleep(0.1)
        raise OSError(errno.ETIMEDOUT, 'timed out waiting for ' + arg)
    raise SystemExit('unknown operation ' + op)


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    fd = os.open(sys.argv[1], os.O_RDWR)
    for op in sys.argv[2:]:
        try:
            val = run(fd, op)
            if val is _QUIET:
                continue
            print(op, 'ok') if val is None else print(op, 'ok', val)
        except OSError as e:
            print(op, 'errno', errno.errorcode.get(e.errno, e.errno))
        sys.stdout.flush()
    os.close(fd)


if __name__ == '__main__':
    main()
