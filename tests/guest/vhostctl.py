#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Small vhost ioctl client for guest tests.

    vhostctl.py DEV OP [OP...]

Opens DEV once and runs the operations in order, printing one line per
operation: `OP ok [value]` or `OP errno NAME`.  Exit status is 0 unless DEV
cannot be opened.  Operations:

    set-owner  reset-owner  get-features  get-mode  set-mode:N
    set-mode-old:N  get-mode-old  sleep:SECS
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
    raise SystemExit('unknown operation ' + op)


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    fd = os.open(sys.argv[1], os.O_RDWR)
    for op in sys.argv[2:]:
        try:
            val = run(fd, op)
            print(op, 'ok') if val is None else print(op, 'ok', val)
        except OSError as e:
            print(op, 'errno', errno.errorcode.get(e.errno, e.errno))
        sys.stdout.flush()
    os.close(fd)


if __name__ == '__main__':
    main()
