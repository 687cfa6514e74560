// SPDX-License-Identifier: GPL-2.0
/* udpflood <dst ipv4> <seconds>: one new UDP flow per datagram, sent with sendmmsg in
 * batches of 256 as fast as the sender can; prints the number of datagrams sent. The
 * destination port walks 1024..65535 and every batch comes from a new socket (a new
 * source port): a packet waiting for a flow verdict keeps its socket's send buffer
 * charged, so one socket alone stalls after a few hundred held packets. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 256

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct sockaddr_in to[BATCH];
	struct mmsghdr msgs[BATCH];
	struct iovec iov = { .iov_base = "x", .iov_len = 1 };
	unsigned long sent = 0, port = 0;
	double end;
	int fd, i;

	if (argc != 3) {
		fprintf(stderr, "usage: udpflood <dst ipv4> <seconds>\n");
		return 64;
	}
	end = now() + atof(argv[2]);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < BATCH; i++) {
		to[i].sin_family = AF_INET;
		if (inet_pton(AF_INET, argv[1], &to[i].sin_addr) != 1) {
			fprintf(stderr, "bad address %s\n", argv[1]);
			return 64;
		}
		msgs[i].msg_hdr.msg_name = &to[i];
		msgs[i].msg_hdr.msg_namelen = sizeof(to[i]);
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	while (now() < end) {
		int n;

		if (port >= 64512)
			port = 0;
		if (sent > 0) {
			close(fd);
			fd = socket(AF_INET, SOCK_DGRAM, 0);
			if (fd < 0) {
				perror("socket");
				return 1;
			}
		}
		for (i = 0; i < BATCH; i++)
			to[i].sin_port = htons(1024 + port++);
		n = sendmmsg(fd, msgs, BATCH, MSG_DONTWAIT);
		if (n > 0)
			sent += n;
		/* a full send buffer (held packets): the next socket goes on */
	}
	printf("%lu\n", sent);
	return 0;
}
