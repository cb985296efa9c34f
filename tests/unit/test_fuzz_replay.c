/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Every input kept for the fuzz harnesses, run through the harnesses
 * themselves (tests/fuzz/fuzz_*.c, built without libFuzzer): the seed
 * corpora in tests/fuzz/corpus/<name> and the inputs that once broke a
 * parser, in tests/fuzz/regress/<name>. Under the ASan build a memory error
 * fails here as it did under the fuzzer; a harness's own checks abort.
 * Runs from the repository root, as tests/run-suite does. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../fuzz/fuzz.h"

#define FUZZ_DIR "tests/fuzz"
/* every kept input is small; a larger file is a mistake, not an input */
#define INPUT_MAX (1024 * 1024)

typedef int (*fuzz_fn)(const uint8_t *data, size_t size);

#define X(name) int fuzz_one_##name(const uint8_t *data, size_t size);
FUZZ_TARGETS(X)
#undef X

/* The sanitizers' hook, present only in a sanitized build. */
void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

/* The input being replayed, named when a harness dies on it. */
static char current[512];

static void say_current(void)
{
	static const char pre[] = "test_fuzz_replay: died on ";
	size_t n = strnlen(current, sizeof(current));

	if (write(STDERR_FILENO, pre, sizeof(pre) - 1) < 0 || write(STDERR_FILENO, current, n) < 0 ||
	    write(STDERR_FILENO, "\n", 1) < 0)
		return;
}

static void on_fatal(int sig)
{
	say_current();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* The whole file into a buffer of exactly its size, so that reading one
 * byte too far is a sanitizer error. */
static uint8_t *read_input(const char *path, size_t *size)
{
	struct stat st;
	uint8_t *buf;
	size_t off = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st))
		fail_msg("%s: %s", path, strerror(errno));
	if (st.st_size > INPUT_MAX)
		fail_msg("%s: %lld bytes, more than an input may have (%d)", path,
			 (long long)st.st_size, INPUT_MAX);
	/* malloc(0) may be NULL: one byte more, never read */
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);

		if (n <= 0)
			fail_msg("%s: short read", path);
		off += (size_t)n;
	}
	close(fd);
	*size = off;
	return buf;
}

/* Replay every regular file of dir; the count. A missing dir is 0. */
static size_t replay_dir(const char *dir, fuzz_fn one)
{
	struct dirent *e;
	size_t n = 0;
	DIR *d = opendir(dir);

	if (!d) {
		if (errno != ENOENT)
			fail_msg("%s: %s", dir, strerror(errno));
		return 0;
	}
	while ((e = readdir(d))) {
		struct stat st;
		uint8_t *buf;
		size_t size;

		if (e->d_name[0] == '.')
			continue;
		snprintf(current, sizeof(current), "%s/%s", dir, e->d_name);
		if (stat(current, &st) || !S_ISREG(st.st_mode))
			fail_msg("%s: not a file", current);
		buf = read_input(current, &size);
		if (one(buf, size))
			fail_msg("%s: the harness returned non-zero", current);
		free(buf);
		n++;
	}
	closedir(d);
	current[0] = '\0';
	return n;
}

static void replay(const char *name, fuzz_fn one)
{
	char dir[256];
	size_t seeds, regress;

	snprintf(dir, sizeof(dir), FUZZ_DIR "/corpus/%s", name);
	seeds = replay_dir(dir, one);
	if (!seeds)
		fail_msg("%s: no seed inputs (run from the repository root)", dir);
	snprintf(dir, sizeof(dir), FUZZ_DIR "/regress/%s", name);
	regress = replay_dir(dir, one);
	printf("fuzz %s: %zu seeds and %zu regression inputs replayed\n", name, seeds, regress);
}

#define X(name)                                  \
	static void test_##name(void **state)    \
	{                                        \
		(void)state;                     \
		replay(#name, fuzz_one_##name);  \
	}
FUZZ_TARGETS(X)
#undef X

static bool is_target(const char *name)
{
#define X(n)                       \
	if (!strcmp(name, #n))     \
		return true;
	FUZZ_TARGETS(X)
#undef X
	return false;
}

/* A harness, a corpus or a regression directory that the list above does
 * not name would never be replayed: refuse it. */
static void test_nothing_left_out(void **state)
{
	static const char *const dirs[] = { FUZZ_DIR, FUZZ_DIR "/corpus", FUZZ_DIR "/regress" };
	size_t seen = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		struct dirent *e;
		DIR *d = opendir(dirs[i]);

		if (!d) {
			if (i == 2 && errno == ENOENT)
				continue;
			fail_msg("%s: %s", dirs[i], strerror(errno));
		}
		while ((e = readdir(d))) {
			char name[256];
			size_t n = strlen(e->d_name);

			if (e->d_name[0] == '.')
				continue;
			if (i == 0) {
				/* fuzz_<name>.c */
				if (strncmp(e->d_name, "fuzz_", 5) || n < 8 ||
				    strcmp(e->d_name + n - 2, ".c"))
					continue;
				snprintf(name, sizeof(name), "%.*s", (int)(n - 7), e->d_name + 5);
				seen++;
			} else {
				snprintf(name, sizeof(name), "%s", e->d_name);
			}
			if (!is_target(name))
				fail_msg("%s/%s: not in FUZZ_TARGETS (tests/fuzz/fuzz.h), never replayed",
					 dirs[i], e->d_name);
		}
		closedir(d);
	}
#define X(n) +1
	assert_int_equal(seen, 0 FUZZ_TARGETS(X));
#undef X
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define X(name) cmocka_unit_test(test_##name),
		FUZZ_TARGETS(X)
#undef X
		cmocka_unit_test(test_nothing_left_out),
	};

	signal(SIGABRT, on_fatal);
	if (__sanitizer_set_death_callback)
		__sanitizer_set_death_callback(say_current);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
