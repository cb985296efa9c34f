// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A minimal HTTPS server with OpenSSL linked in statically (libssl.a):
 *   tls_static PORT CERT KEY
 * One connection at a time: reads a request head, answers
 * "200 ok\n" (Content-Length, Connection: close) to any GET, closes. The
 * e2e tests build it as is (symbols) and stripped (strip -s). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
			    "Content-Length: 3\r\nConnection: close\r\n\r\nok\n";

static void serve(SSL_CTX *ctx, int fd)
{
	SSL *ssl = SSL_new(ctx);
	char head[8192];
	size_t n = 0;

	if (!ssl)
		return;
	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) != 1)
		goto out;
	while (n < sizeof(head) - 1) {
		int r = SSL_read(ssl, head + n, (int)(sizeof(head) - 1 - n));

		if (r <= 0)
			goto out;
		n += (size_t)r;
		head[n] = '\0';
		if (strstr(head, "\r\n\r\n"))
			break;
	}
	SSL_write(ssl, reply, (int)strlen(reply));
	SSL_shutdown(ssl);
out:
	SSL_free(ssl);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	SSL_CTX *ctx;
	int one = 1, lfd;

	if (argc != 4) {
		fprintf(stderr, "usage: %s PORT CERT KEY\n", argv[0]);
		return 2;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, argv[2]) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, argv[3], SSL_FILETYPE_PEM) != 1) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_port = htons((unsigned short)atoi(argv[1]));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 16)) {
		perror("bind/listen");
		return 1;
	}
	for (;;) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0)
			continue;
		serve(ctx, fd);
		close(fd);
	}
}
