// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Loader and reader of naive.bpf.o (see there): reads every record on a
 * 10 ms timer, counts them, and says so at SIGTERM. Usage: naive OBJ */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int on_rec(void *ctx, void *data, size_t size)
{
	(void)data;
	(void)size;
	++*(unsigned long long *)ctx;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long long n = 0;
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct ring_buffer *rb;
	int links = 0;
	struct bpf_map *map;

	if (argc != 2) {
		fprintf(stderr, "usage: naive OBJ\n");
		return 2;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "naive: open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	/* const volatile self: the reader's own syscalls are not recorded */
	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map);
		__u32 self = (__u32)getpid();

		if (strlen(name) >= 7 && !strcmp(name + strlen(name) - 7, ".rodata") &&
		    bpf_map__set_initial_value(map, &self, sizeof(self))) {
			fprintf(stderr, "naive: %s: not the expected rodata\n", name);
			return 1;
		}
	}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "naive: load: %s\n", strerror(errno));
		return 1;
	}
	bpf_object__for_each_program(prog, obj) {
		if (!bpf_program__attach(prog)) {
			fprintf(stderr, "naive: attach %s: %s\n", bpf_program__name(prog), strerror(errno));
			return 1;
		}
		links++;
	}
	rb = ring_buffer__new(bpf_map__fd(bpf_object__find_map_by_name(obj, "rb")), on_rec, &n, NULL);
	if (!rb) {
		fprintf(stderr, "naive: ring buffer: %s\n", strerror(errno));
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	fprintf(stderr, "naive: ready: %d programs attached\n", links);
	while (!stop) {
		usleep(10000);
		ring_buffer__consume(rb);
	}
	ring_buffer__consume(rb);
	fprintf(stderr, "naive: records=%llu\n", n);
	ring_buffer__free(rb);
	bpf_object__close(obj);
	return 0;
}
