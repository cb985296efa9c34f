/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Network namespaces as the BPF programs name them: by cookie. */
#ifndef XTAP_NETNS_H
#define XTAP_NETNS_H

#include <stdint.h>

/* The cookie of the network namespace at path (/proc/PID/ns/net,
 * /run/netns/NAME): 0 or -errno, reported once. Enters the namespace on
 * the calling thread for a moment (CAP_SYS_ADMIN). */
int netns_cookie(const char *path, uint64_t *out);

#endif /* XTAP_NETNS_H */
