/* relay.c: make bench's TCP relay between a client and the sandbox (scripts/bench.py runs it).
 * It counts the connections it accepts (= the client's TCP connections and TLS handshakes: TLS
 * passes through untouched) and can add a fixed latency to every byte the client sends, so that
 * each round trip (a request, each client flight of a TLS handshake) costs that much more.
 *
 * Usage: relay TARGET_PORT [DELAY_MS]
 *   Listens on 127.0.0.1 on a free port and prints "port P" on its first line; then one line
 *   "accept N" per connection it accepts (stdout, flushed). Data from the client side is held
 *   DELAY_MS (default 0) before it is written to the sandbox, in arrival order (a delay line, not
 *   a queue: pipelined chunks are delayed together, as on a long wire). The sandbox's answers pass
 *   at once. So every round trip costs DELAY_MS more, and so does a new connection's TCP
 *   handshake (SYN, SYN-ACK), which the kernel completes at once on loopback: nothing the client
 *   sends on a connection leaves before DELAY_MS after it was accepted, and then waits its own
 *   DELAY_MS. SIGTERM or SIGINT stops it (exit 0). One thread, poll(2); at most MAX_PAIRS pairs. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAIRS 64
#define CHUNK 65536

struct chunk {
	struct chunk *next;
	double due;    /* ms, CLOCK_MONOTONIC */
	size_t len;    /* 0: the client's end of stream */
	char data[];
};

struct pair {
	int c, s;                  /* client side, sandbox side; -1 when unused */
	struct chunk *head, *tail; /* client -> sandbox, waiting for their time */
	int c_eof, s_eof;          /* each side's end of stream seen */
	double t_open;             /* ms, when it was accepted: its TCP handshake's round trip ends
				    * DELAY_MS later */
};

static struct pair pairs[MAX_PAIRS];
static volatile sig_atomic_t stop;
static double delay_ms;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void pair_close(struct pair *p)
{
	while (p->head) {
		struct chunk *k = p->head;
		p->head = k->next;
		free(k);
	}
	p->tail = NULL;
	if (p->c >= 0)
		close(p->c);
	if (p->s >= 0)
		close(p->s);
	p->c = p->s = -1;
}

static int connect_target(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		close(fd);
		return -1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

static void on_accept(int ls, int target, unsigned long *accepted)
{
	int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return;
	int one = 1;
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct pair *p = NULL;
	for (int i = 0; i < MAX_PAIRS && !p; i++)
		if (pairs[i].c < 0)
			p = &pairs[i];
	int s = p ? connect_target(target) : -1;
	if (s < 0) {
		close(c);
		return;
	}
	*p = (struct pair){.c = c, .s = s, .t_open = now_ms()};
	printf("accept %lu\n", ++*accepted);
	fflush(stdout);
}

/* Client bytes (or its end of stream, len 0) into the delay line. */
static int enqueue(struct pair *p, const char *data, size_t len)
{
	struct chunk *k = malloc(sizeof *k + len);
	if (!k)
		return -1;
	k->next = NULL;
	double t = now_ms(), sendable = p->t_open + delay_ms; /* after the TCP handshake's round trip */
	k->due = (t > sendable ? t : sendable) + delay_ms;
	k->len = len;
	memcpy(k->data, data, len);
	if (p->tail)
		p->tail->next = k;
	else
		p->head = k;
	p->tail = k;
	return 0;
}

/* Writes what is due to the sandbox; returns the ms until the next chunk is due (-1: none). */
static int flush_due(struct pair *p)
{
	double t = now_ms();
	while (p->head && p->head->due <= t) {
		struct chunk *k = p->head;
		int rc = k->len ? write_all(p->s, k->data, k->len) : shutdown(p->s, SHUT_WR);
		p->head = k->next;
		if (!p->head)
			p->tail = NULL;
		free(k);
		if (rc < 0) {
			pair_close(p);
			return -1;
		}
	}
	if (!p->head)
		return -1;
	double w = p->head->due - t;
	return w < 1.0 ? 1 : (int)w;
}

static void on_data(struct pair *p, int from_client)
{
	static char buf[CHUNK];
	ssize_t n = read(from_client ? p->c : p->s, buf, sizeof buf);
	if (n < 0 && errno == EINTR)
		return;
	if (n < 0) {
		pair_close(p);
		return;
	}
	if (from_client) {
		p->c_eof = n == 0;
		if (enqueue(p, buf, (size_t)n) < 0)
			pair_close(p);
	} else if (n == 0) {
		p->s_eof = 1;
		shutdown(p->c, SHUT_WR);
	} else if (write_all(p->c, buf, (size_t)n) < 0) {
		pair_close(p);
	}
}

static int listen_any(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof a;
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 64) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &al) < 0) {
		perror("relay: listen");
		exit(1);
	}
	printf("port %d\n", ntohs(a.sin_port));
	fflush(stdout);
	return ls;
}

/* The poll loop: one listening socket, each pair's two sockets, the delay line's next due time. */
static void relay(int ls, int target)
{
	struct pollfd fds[1 + 2 * MAX_PAIRS];
	int who[1 + 2 * MAX_PAIRS];
	unsigned long accepted = 0;
	while (!stop) {
		int nf = 0, timeout = -1;
		fds[nf++] = (struct pollfd){.fd = ls, .events = POLLIN};
		for (int i = 0; i < MAX_PAIRS; i++) {
			struct pair *p = &pairs[i];
			if (p->c < 0)
				continue;
			int w = flush_due(p);
			if (p->c < 0)
				continue;
			if (w >= 0 && (timeout < 0 || w < timeout))
				timeout = w;
			if (p->c_eof && p->s_eof && !p->head) {
				pair_close(p);
				continue;
			}
			if (!p->c_eof) {
				who[nf] = 2 * i;
				fds[nf++] = (struct pollfd){.fd = p->c, .events = POLLIN};
			}
			if (!p->s_eof) {
				who[nf] = 2 * i + 1;
				fds[nf++] = (struct pollfd){.fd = p->s, .events = POLLIN};
			}
		}
		int r = poll(fds, (nfds_t)nf, timeout);
		if (r < 0 && errno != EINTR) {
			perror("relay: poll");
			return;
		}
		if (r <= 0)
			continue;
		if (fds[0].revents & POLLIN)
			on_accept(ls, target, &accepted);
		for (int k = 1; k < nf; k++) {
			struct pair *p = &pairs[who[k] / 2];
			if ((fds[k].revents & (POLLIN | POLLHUP | POLLERR)) && p->c >= 0)
				on_data(p, who[k] % 2 == 0);
		}
	}
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: relay TARGET_PORT [DELAY_MS]\n");
		return 2;
	}
	int target = atoi(argv[1]);
	delay_ms = argc > 2 ? atof(argv[2]) : 0.0;
	if (target <= 0 || target > 65535 || delay_ms < 0 || delay_ms > 10000) {
		fprintf(stderr, "relay: bad port or delay\n");
		return 2;
	}
	for (int i = 0; i < MAX_PAIRS; i++)
		pairs[i].c = pairs[i].s = -1;
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	relay(listen_any(), target);
	for (int i = 0; i < MAX_PAIRS; i++)
		if (pairs[i].c >= 0)
			pair_close(&pairs[i]);
	return 0;
}
