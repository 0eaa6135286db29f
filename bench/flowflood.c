/*
 * Flow generator for `npm run bench -- --flows`: sends COUNT UDP datagrams to
 * 127.0.0.1:PORT, each from its own source address and port, so that each is
 * a new conntrack entry; paced to RATE datagrams per second (0: as fast as
 * possible). Datagram i (counted from FIRST) comes from
 * 127.2.0.0 + i / 64000, port 1024 + i % 64000: runs with different FIRST
 * never share a tuple. A raw socket writes the IP header itself.
 *
 * Every FLUSH_MS milliseconds, and once at the end, it deletes the
 * namespace's IPv4 conntrack entries (as `conntrack -F` does), so that each
 * flow ends, with a destroy event, at most FLUSH_MS after it began.
 *
 * Prints datagrams sent, seconds taken, and how many of them netfilter
 * refused at once (a full conntrack table).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define PAYLOAD 32
#define PORTS 64000

struct datagram {
	struct iphdr ip;
	struct udphdr udp;
	char payload[PAYLOAD];
};

/* A ctnetlink delete without a tuple: the kernel deletes every IPv4 entry of the namespace. */
static void flush(int nl) {
	struct {
		struct nlmsghdr h;
		struct nfgenmsg g;
	} req = {
		.h = { .nlmsg_len = sizeof req, .nlmsg_type = NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_DELETE, .nlmsg_flags = NLM_F_REQUEST },
		.g = { .nfgen_family = AF_INET, .version = NFNETLINK_V0 },
	};
	char answer[4096];
	if (send(nl, &req, sizeof req, 0) < 0) perror("flush");
	/* Only errors are answered: read them so that they never fill the socket. */
	while (recv(nl, answer, sizeof answer, MSG_DONTWAIT) > 0) {
		struct nlmsghdr *h = (struct nlmsghdr *)answer;
		if (h->nlmsg_type == NLMSG_ERROR && ((struct nlmsgerr *)NLMSG_DATA(h))->error)
			fprintf(stderr, "flush: error %d\n", ((struct nlmsgerr *)NLMSG_DATA(h))->error);
	}
}

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
	if (argc != 6) {
		fprintf(stderr, "usage: %s PORT COUNT RATE FIRST FLUSH_MS\n", argv[0]);
		return 2;
	}
	int port = atoi(argv[1]);
	long count = atol(argv[2]);
	double rate = atof(argv[3]);
	long first = atol(argv[4]);
	double every = atof(argv[5]) / 1000;
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	int nl = socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER);
	if (fd < 0 || nl < 0) {
		perror("socket");
		return 1;
	}
	struct sockaddr_in dst = { .sin_family = AF_INET };
	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	static struct datagram pkts[BATCH];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	memset(msgs, 0, sizeof msgs);
	for (int i = 0; i < BATCH; i++) {
		struct datagram *d = &pkts[i];
		d->ip.version = 4;
		d->ip.ihl = 5;
		d->ip.tot_len = htons(sizeof *d);
		d->ip.ttl = 64;
		d->ip.protocol = IPPROTO_UDP;
		d->ip.daddr = dst.sin_addr.s_addr;
		d->udp.dest = htons(port);
		d->udp.len = htons(sizeof d->udp + PAYLOAD);
		iov[i].iov_base = d;
		iov[i].iov_len = sizeof *d;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &dst;
		msgs[i].msg_hdr.msg_namelen = sizeof dst;
	}
	double start = now();
	double next_flush = start + every;
	long sent = 0, refused = 0;
	while (sent < count) {
		if (now() >= next_flush) {
			flush(nl);
			next_flush += every;
		}
		int n = count - sent < BATCH ? (int)(count - sent) : BATCH;
		if (rate > 0) {
			/* Pace: datagram `sent` is due at start + sent / rate. */
			double due = start + sent / rate;
			double wait = due - now();
			if (wait > 0) {
				struct timespec ts = { (time_t)wait, (long)((wait - (time_t)wait) * 1e9) };
				nanosleep(&ts, NULL);
			}
			if (n > 16) n = 16;
		}
		for (int i = 0; i < n; i++) {
			long k = first + sent + i;
			/* The kernel fills in the IP id and checksum; a UDP checksum of 0 means none. */
			pkts[i].ip.saddr = htonl((127u << 24 | 2u << 16) + (unsigned)(k / PORTS));
			pkts[i].udp.source = htons(1024 + k % PORTS);
		}
		int r = sendmmsg(fd, msgs, n, 0);
		if (r > 0) sent += r;
		else if (r < 0 && errno == EPERM) {
			/* Netfilter dropped the first of the batch (a full conntrack table): it counts as sent and refused. */
			sent++;
			refused++;
		} else if (r < 0) {
			perror("sendmmsg");
			return 1;
		}
	}
	double took = now() - start;
	flush(nl);
	printf("%ld %.3f %ld\n", sent, took, refused);
	return 0;
}
