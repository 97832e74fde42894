/*
 * An HTTP/1.1 server whose socket I/O goes through io_uring (liburing), for the capture tests of issue 9.
 * A request for /<anything>/<N> is answered with "200 OK", "Content-Length: N" and N bytes of body (a-z repeated).
 * Prints "listening" once it listens, and after each connection "conn <recv bytes> <sent bytes>" (printed
 * when no io_uring operation is in flight, so no completion can run on the way back from that write).
 *
 * argv: port, mode
 *   uring    accept, recv, send and close are io_uring operations (IORING_OP_ACCEPT/RECV/SEND/CLOSE): one
 *            request per connection, answered with "Connection: close" in one IORING_OP_SEND of head and body.
 *   body     keep-alive connections; the request is read with recv(2) and the response head written with
 *            send(2), the body alone with IORING_OP_SEND: the head is in a syscall's buffer, the body is not.
 *   eventfd  accept(2); the request is read with IORING_OP_RECV submitted without waiting, then the server
 *            blocks in read(2) on the ring's eventfd (io_uring_register_eventfd, a common event-loop pattern):
 *            a recv that had no data at submission completes in task work on the way out of that read(2),
 *            while the task's saved registers still describe the read of the eventfd. Answered with send(2),
 *            "Connection: close". The eventfd read's buffer holds "EVENTFD!", so its bytes are recognisable.
 *
 * Build: cc -O2 -o uring-server uring-server.c -luring
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQ_MAX 65536

static struct io_uring ring;
static int efd = -1;

static void die(const char *what, int err)
{
	fprintf(stderr, "uring-server: %s: %s\n", what, strerror(err));
	exit(1);
}

/* Submits the prepared operation and waits for its completion; returns its result (a negative errno). */
static int complete(void)
{
	struct io_uring_cqe *cqe;
	int ret = io_uring_submit_and_wait(&ring, 1);

	if (ret < 0)
		die("io_uring_submit_and_wait", -ret);
	ret = io_uring_wait_cqe(&ring, &cqe);
	if (ret < 0)
		die("io_uring_wait_cqe", -ret);
	ret = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	return ret;
}

static struct io_uring_sqe *sqe(void)
{
	struct io_uring_sqe *s = io_uring_get_sqe(&ring);

	if (!s)
		die("io_uring_get_sqe", EBUSY);
	return s;
}

static int uring_recv(int fd, char *buf, size_t len)
{
	io_uring_prep_recv(sqe(), fd, buf, len, 0);
	return complete();
}

/* Sends all of buf with IORING_OP_SEND (a short send is continued); returns the bytes sent or -errno. */
static long uring_send_all(int fd, const char *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		io_uring_prep_send(sqe(), fd, buf + done, len - done, MSG_NOSIGNAL);
		int n = complete();
		if (n < 0)
			return n;
		done += (size_t)n;
	}
	return (long)done;
}

static long sys_send_all(int fd, const char *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(fd, buf + done, len - done, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	return (long)done;
}

/* The body's bytes: a-z repeated, so a client can check them. */
static char *body(size_t n)
{
	char *b = malloc(n ? n : 1);

	if (!b)
		die("malloc", ENOMEM);
	for (size_t i = 0; i < n; i++)
		b[i] = (char)('a' + i % 26);
	return b;
}

/* N from "GET /x/N HTTP/1.1" (the last path segment), 0 when there is none. */
static size_t body_size(const char *req)
{
	const char *sp = strchr(req, ' ');
	const char *end = sp ? strchr(sp + 1, ' ') : NULL;
	const char *slash = NULL;

	if (!end)
		return 0;
	for (const char *p = sp + 1; p < end; p++)
		if (*p == '/')
			slash = p;
	return slash ? strtoul(slash + 1, NULL, 10) : 0;
}

static char req[REQ_MAX + 1];

/* Mode uring: one request, everything through the ring. */
static void serve_uring(int fd, long *recvd, long *sent)
{
	size_t have = 0;

	while (!memmem(req, have, "\r\n\r\n", 4) && have < REQ_MAX) {
		int n = uring_recv(fd, req + have, REQ_MAX - have);
		if (n <= 0)
			return;
		have += (size_t)n;
		*recvd += n;
	}
	req[have] = 0;
	size_t n = body_size(req);
	char head[256];
	int hl = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", n);
	char *msg = malloc((size_t)hl + n);
	char *b = body(n);
	if (!msg)
		die("malloc", ENOMEM);
	memcpy(msg, head, (size_t)hl);
	memcpy(msg + hl, b, n);
	long r = uring_send_all(fd, msg, (size_t)hl + n);
	if (r > 0)
		*sent += r;
	free(msg);
	free(b);
}

/* Mode body: keep-alive; request and head by syscalls, each body by IORING_OP_SEND. */
static void serve_body(int fd, long *recvd, long *sent)
{
	size_t have = 0;

	for (;;) {
		char *eoh;
		while (!(eoh = memmem(req, have, "\r\n\r\n", 4)) && have < REQ_MAX) {
			ssize_t n = recv(fd, req + have, REQ_MAX - have, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return;
			have += (size_t)n;
			*recvd += n;
		}
		if (!eoh)
			return;
		size_t used = (size_t)(eoh + 4 - req);
		char saved = req[used - 1];
		req[used - 1] = 0;
		size_t n = body_size(req);
		req[used - 1] = saved;
		memmove(req, req + used, have - used);
		have -= used;

		char head[256];
		int hl = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", n);
		long r = sys_send_all(fd, head, (size_t)hl);
		if (r < 0)
			return;
		*sent += r;
		char *b = body(n);
		r = uring_send_all(fd, b, n);
		free(b);
		if (r < 0)
			return;
		*sent += r;
	}
}

/* Mode eventfd: one request, each IORING_OP_RECV reaped after read(2) of the ring's eventfd said it completed. */
static void serve_eventfd(int fd, long *recvd, long *sent)
{
	size_t have = 0;

	while (!memmem(req, have, "\r\n\r\n", 4) && have < REQ_MAX) {
		io_uring_prep_recv(sqe(), fd, req + have, REQ_MAX - have, 0);
		int ret = io_uring_submit(&ring);
		if (ret < 0)
			die("io_uring_submit", -ret);
		struct io_uring_cqe *cqe;
		while (io_uring_peek_cqe(&ring, &cqe)) {
			char ev[8];
			memcpy(ev, "EVENTFD!", sizeof(ev));
			if (read(efd, ev, sizeof(ev)) < 0 && errno != EINTR)
				die("read eventfd", errno);
		}
		int n = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
		if (n <= 0)
			return;
		have += (size_t)n;
		*recvd += n;
	}
	req[have] = 0;
	size_t n = body_size(req);
	char head[256];
	int hl = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", n);
	char *b = body(n);
	long r = sys_send_all(fd, head, (size_t)hl);
	if (r > 0) {
		*sent += r;
		r = sys_send_all(fd, b, n);
		if (r > 0)
			*sent += r;
	}
	free(b);
}

int main(int argc, char **argv)
{
	const char *mode = argc == 3 ? argv[2] : "";
	if (strcmp(mode, "uring") && strcmp(mode, "body") && strcmp(mode, "eventfd")) {
		fprintf(stderr, "usage: uring-server PORT uring|body|eventfd\n");
		return 2;
	}
	int ret = io_uring_queue_init(8, &ring, 0);
	if (ret < 0)
		die("io_uring_queue_init", -ret);
	if (!strcmp(mode, "eventfd")) {
		efd = eventfd(0, 0);
		if (efd < 0)
			die("eventfd", errno);
		ret = io_uring_register_eventfd(&ring, efd);
		if (ret < 0)
			die("io_uring_register_eventfd", -ret);
	}

	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1])) };
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0)
		die("socket", errno);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		die("bind", errno);
	if (listen(lfd, 16) < 0)
		die("listen", errno);
	printf("listening\n");
	fflush(stdout);

	for (;;) {
		long recvd = 0, sent = 0;
		int fd;
		if (efd >= 0) {
			/* No completion may signal the eventfd but the recv's. */
			fd = accept(lfd, NULL, NULL);
			if (fd < 0)
				die("accept", errno);
			serve_eventfd(fd, &recvd, &sent);
			close(fd);
		} else {
			io_uring_prep_accept(sqe(), lfd, NULL, NULL, 0);
			fd = complete();
			if (fd < 0)
				die("accept", -fd);
			if (!strcmp(mode, "uring"))
				serve_uring(fd, &recvd, &sent);
			else
				serve_body(fd, &recvd, &sent);
			io_uring_prep_close(sqe(), fd);
			complete();
		}
		printf("conn %ld %ld\n", recvd, sent);
		fflush(stdout);
	}
}
