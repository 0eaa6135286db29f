/*
 * Load generator for `npm run bench`: sends COUNT UDP datagrams of SIZE bytes
 * to HOST:PORT with sendmmsg, as fast as possible (RATE 0) or paced to RATE
 * packets per second. Prints packets sent and seconds taken.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
	if (argc != 6) {
		fprintf(stderr, "usage: %s HOST PORT COUNT RATE SIZE\n", argv[0]);
		return 2;
	}
	long count = atol(argv[3]);
	double rate = atof(argv[4]);
	int size = atoi(argv[5]);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
	inet_pton(AF_INET, argv[1], &dst.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0) {
		perror("socket");
		return 1;
	}
	char *payload = calloc(1, size);
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	memset(msgs, 0, sizeof msgs);
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = payload;
		iov[i].iov_len = size;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	double start = now();
	long sent = 0;
	while (sent < count) {
		int n = count - sent < BATCH ? (int)(count - sent) : BATCH;
		if (rate > 0) {
			/* Pace: packet `sent` is due at start + sent / rate. */
			double due = start + sent / rate;
			double wait = due - now();
			if (wait > 0) {
				struct timespec ts = { (time_t)wait, (long)((wait - (time_t)wait) * 1e9) };
				nanosleep(&ts, NULL);
			}
			if (n > 16) n = 16;
		}
		int r = sendmmsg(fd, msgs, n, 0);
		if (r > 0) sent += r;
	}
	printf("%ld %.3f\n", sent, now() - start);
	return 0;
}
