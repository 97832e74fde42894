/*
 * An HTTP server that reads its requests with preadv2(2) and answers with pwritev2(2), both at offset -1 (the
 * "current position" form, the only one a socket accepts), through syscall(2) so no libc wrapper turns them into
 * readv/writev. The request is read into two iovecs (64 bytes, then the rest); the answer is the head and the
 * body, two iovecs.
 * One connection at a time; prints "listening". argv: port
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static long rw2(long nr, int fd, struct iovec *iov, int n)
{
	/* pos_l = -1, pos_h = -1: offset -1 whatever the word size; flags 0 */
	return syscall(nr, fd, iov, n, -1L, -1L, 0);
}

int main(int argc, char **argv)
{
	int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (argc < 2 || bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 16)) {
		perror("listen");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		int c = accept(ls, NULL, NULL);
		char req[8192], first[64];
		size_t got = 0;

		if (c < 0)
			continue;
		while (got < sizeof(req) - 1 && !memmem(req, got, "\r\n\r\n", 4)) {
			/* the request line in the first iovec, the rest in the second */
			struct iovec iov[2] = { { first, sizeof(first) }, { req + got + sizeof(first), sizeof(req) - 1 - got - sizeof(first) } };
			long n = rw2(SYS_preadv2, c, iov, 2);
			if (n <= 0)
				break;
			memmove(req + got, first, n < (long)sizeof(first) ? n : (long)sizeof(first));
			got += n;
		}
		if (got) {
			char target[256] = "?", body[512], head[256];
			sscanf(req, "%*s %255s", target);
			int bl = snprintf(body, sizeof(body), "{\"rwv2\":true,\"target\":\"%s\"}", target);
			int hl = snprintf(head, sizeof(head),
					  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
					  "Connection: close\r\n\r\n",
					  bl);
			struct iovec out[2] = { { head, hl }, { body, bl } };
			if (rw2(SYS_pwritev2, c, out, 2) != hl + bl)
				perror("pwritev2");
		}
		close(c);
	}
}
