/* SPDX-License-Identifier: MIT */
/*
 * A file cvmm writes (today `--metrics`): written whole, and only where cvmm may create or
 * replace a regular file.
 *
 * outfile_open checks the path before anything runs and creates nothing: the path must name a
 * regular file or nothing, in an existing directory that cvmm can write, on a real file system
 * (not proc or sysfs). A device, a symbolic link, a FIFO, a socket or a directory is refused;
 * so the target is never opened, and a FIFO cannot block. outfile_write then writes a
 * temporary file in that directory (opened through the directory's descriptor, O_EXCL,
 * O_NOFOLLOW), checks again that the path is still a regular file or nothing, and renames the
 * temporary file over it; on any failure the temporary file is removed.
 *
 * Errors follow cvmm/err.h; messages do not repeat the path (the caller names it and its flag).
 * One struct outfile is used by one thread at a time.
 */
#ifndef CVMM_VMM_OUTFILE_H
#define CVMM_VMM_OUTFILE_H

#include <stddef.h>

#include "cvmm/err.h"

struct outfile {
        int dirfd;    /* the directory (O_PATH), valid while dir is not NULL */
        char *dir;    /* its name, for messages; NULL when not open */
        char *name;   /* the last component of the path */
        unsigned seq; /* temporary names already tried */
};

/* Checks path and keeps its directory open. Returns 0 or -1 (err set, nothing left open). */
int outfile_open(struct outfile *o, const char *path, struct cvmm_err *err);
/* Replaces the file with exactly len bytes of data. Returns 0 or -1 (err set). */
int outfile_write(struct outfile *o, const char *data, size_t len, struct cvmm_err *err);
/* Closes what outfile_open kept; safe on a zeroed struct, and twice. */
void outfile_close(struct outfile *o);

#endif
