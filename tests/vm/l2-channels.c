// SPDX-License-Identifier: GPL-2.0-only
/*
 * l2-channels IFNAME N: set the number of combined channels (queue pairs) of
 * IFNAME, as `ethtool -L IFNAME combined N` does.  Built statically into the
 * initramfs of the second-level guests, which have no ethtool: virtio-net
 * enables only as many queue pairs as the guest has CPUs, and one CPU is
 * what a nested guest under TCG can afford.
 */
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ifreq ifr;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: %s IFNAME N\n", argv[0]);
		return 2;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
	ifr.ifr_data = (void *)&ch;
	if (ioctl(fd, SIOCETHTOOL, &ifr)) {
		perror("ETHTOOL_GCHANNELS");
		return 1;
	}
	ch.cmd = ETHTOOL_SCHANNELS;
	ch.combined_count = atoi(argv[2]);
	if (ioctl(fd, SIOCETHTOOL, &ifr)) {
		perror("ETHTOOL_SCHANNELS");
		return 1;
	}
	printf("%s: %u combined channels of %u\n", argv[1], ch.combined_count, ch.max_combined);
	return 0;
}
