// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "log.h"
#include "netns.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71 /* Linux 5.14 */
#endif

/* A socket made inside the namespace answers SO_NETNS_COOKIE: the value
 * bpf_get_netns_cookie() and struct net's net_cookie give. */
int netns_cookie(const char *path, uint64_t *out)
{
	int self = -1, ns = -1, sk = -1, err = 0;
	socklen_t len = sizeof(*out);

	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	ns = open(path, O_RDONLY | O_CLOEXEC);
	if (self < 0 || ns < 0) {
		err = -errno;
		p_err("--netns %s: %s (give /proc/PID/ns/net or /run/netns/NAME)", path,
		      strerror(-err));
		goto out;
	}
	if (setns(ns, CLONE_NEWNET)) {
		err = -errno;
		p_err("--netns %s: enter: %s (not a network namespace, or no CAP_SYS_ADMIN)", path,
		      strerror(-err));
		goto out;
	}
	sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sk < 0 || getsockopt(sk, SOL_SOCKET, SO_NETNS_COOKIE, out, &len)) {
		err = -errno;
		p_err("--netns %s: its cookie: %s (kernel >= 5.14 needed)", path, strerror(-err));
	}
	if (setns(self, CLONE_NEWNET) && !err) {
		err = -errno;
		p_err("--netns: back to our own namespace: %s", strerror(-err));
	}
out:
	if (sk >= 0)
		close(sk);
	if (ns >= 0)
		close(ns);
	if (self >= 0)
		close(self);
	return err;
}
