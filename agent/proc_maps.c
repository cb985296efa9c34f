// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include "proc_maps.h"

#define DELETED_SUFFIX " (deleted)"

int proc_maps_parse(const char *line, struct maps_entry *e)
{
	unsigned int maj, min;
	char perms[5];
	uint64_t off;
	int pos = 0;
	size_t n;

	/* start-end perms offset major:minor inode [path] */
	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %" SCNu64 "%n", &e->start,
		   &e->end, perms, &off, &maj, &min, &e->ino, &pos) != 7 ||
	    strlen(perms) != 4)
		return -EINVAL;
	e->dev = makedev(maj, min);
	e->exec = perms[2] == 'x';
	line += pos;
	while (*line == ' ' || *line == '\t')
		line++;
	n = strcspn(line, "\n");
	if (n >= sizeof(e->path))
		return -EINVAL;
	memcpy(e->path, line, n);
	e->path[n] = '\0';
	e->deleted = n > strlen(DELETED_SUFFIX) &&
		     !strcmp(e->path + n - strlen(DELETED_SUFFIX), DELETED_SUFFIX);
	if (e->deleted)
		e->path[n - strlen(DELETED_SUFFIX)] = '\0';
	return 0;
}

int proc_maps_exec_files(pid_t pid, maps_fn fn, void *ctx)
{
	struct maps_entry *e = malloc(sizeof(*e));
	char path[64], *line = NULL;
	size_t cap = 0;
	int ret = 0, lines = 0;
	FILE *f;

	if (!e)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f) {
		ret = -errno;
		free(e);
		return ret;
	}
	while (getline(&line, &cap, f) > 0) {
		if (++lines > PROC_MAPS_LINES_MAX) {
			ret = -E2BIG;
			break;
		}
		if (proc_maps_parse(line, e) || !e->exec || e->path[0] != '/' || !e->ino)
			continue;
		ret = fn(e, ctx);
		if (ret)
			break;
	}
	if (!ret && ferror(f))
		ret = -EIO;
	free(line);
	fclose(f);
	free(e);
	return ret;
}
