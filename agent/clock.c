// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <time.h>
#include "clock.h"

static int64_t offset_ns;

static uint64_t now(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

void clock_sync(void)
{
	/* bracket the realtime read between two monotonic reads and take the
	 * midpoint, so a preemption between the calls does not skew it */
	uint64_t m1 = now(CLOCK_MONOTONIC);
	uint64_t r = now(CLOCK_REALTIME);
	uint64_t m2 = now(CLOCK_MONOTONIC);

	offset_ns = (int64_t)r - (int64_t)(m1 + (m2 - m1) / 2);
}

uint64_t clock_mono_to_epoch(uint64_t mono_ns)
{
	if (!offset_ns)
		clock_sync();
	return (uint64_t)((int64_t)mono_ns + offset_ns);
}

uint64_t clock_mono_now(void)
{
	return now(CLOCK_MONOTONIC);
}
