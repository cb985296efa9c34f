/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* BPF stamps CLOCK_MONOTONIC; segments want epoch time. One offset, measured
 * at start and refreshed by the event loop (NTP may step the wall clock). */
#ifndef XTAP_CLOCK_H
#define XTAP_CLOCK_H

#include <stdint.h>

void clock_sync(void);
uint64_t clock_mono_to_epoch(uint64_t mono_ns);
uint64_t clock_mono_now(void);

#endif /* XTAP_CLOCK_H */
