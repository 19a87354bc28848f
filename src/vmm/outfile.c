/* SPDX-License-Identifier: MIT */
/* A file cvmm writes: checked before the run, replaced whole, never anything but a regular file. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "vmm/outfile.h"

/* Room after the name for the temporary suffix ".tmpPID-SEQ". */
#define TMP_SUFFIX_MAX 32

/* What a directory entry is, for messages. */
static const char *kind_name(mode_t m)
{
        switch (m & S_IFMT) {
        case S_IFLNK:
                return "symbolic link";
        case S_IFDIR:
                return "directory";
        case S_IFIFO:
                return "FIFO";
        case S_IFSOCK:
                return "socket";
        case S_IFCHR:
                return "character device";
        case S_IFBLK:
                return "block device";
        default:
                return "file that is not a regular file";
        }
}

/* Pseudo file systems whose files only look like files: writing them is not writing a file. */
static const char *pseudo_fs(long type)
{
        static const struct {
                long magic;
                const char *name;
        } fs[] = {
            {PROC_SUPER_MAGIC, "proc"},       {SYSFS_MAGIC, "sysfs"},
            {CGROUP_SUPER_MAGIC, "cgroup"},   {CGROUP2_SUPER_MAGIC, "cgroup2"},
            {DEBUGFS_MAGIC, "debugfs"},       {TRACEFS_MAGIC, "tracefs"},
            {SECURITYFS_MAGIC, "securityfs"},
        };
        for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++)
                if (fs[i].magic == type)
                        return fs[i].name;
        return NULL;
}

/* The directory part of path (".", "/" or a copy up to the last slash); NULL on ENOMEM. */
static char *dir_of(const char *path, const char *slash)
{
        if (!slash)
                return strdup(".");
        if (slash == path)
                return strdup("/");
        return strndup(path, (size_t)(slash - path));
}

/* The entry must be absent or a regular file on the directory's own file system. */
static int check_entry(const struct outfile *o, const char *when, struct cvmm_err *err)
{
        struct stat st, dst;
        if (fstatat(o->dirfd, o->name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
                if (errno == ENOENT)
                        return 0;
                return cvmm_errf(err, "cannot check it%s: %s", when, strerror(errno));
        }
        if (!S_ISREG(st.st_mode))
                return cvmm_errf(err, "it is a %s%s, and cvmm replaces only a regular file",
                                 kind_name(st.st_mode), when);
        if (fstat(o->dirfd, &dst) != 0)
                return cvmm_errf(err, "cannot check directory '%s': %s", o->dir, strerror(errno));
        if (st.st_dev != dst.st_dev)
                return cvmm_errf(err, "it is a mount point%s; cvmm does not replace it", when);
        return 0;
}

int outfile_open(struct outfile *o, const char *path, struct cvmm_err *err)
{
        memset(o, 0, sizeof(*o));
        o->dirfd = -1;
        if (!path || !path[0])
                return cvmm_errf(err, "the path is empty");
        const char *slash = strrchr(path, '/');
        const char *name = slash ? slash + 1 : path;
        if (!name[0] || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return cvmm_errf(err, "the path names a directory, not a file");
        if (strlen(name) > NAME_MAX - TMP_SUFFIX_MAX)
                return cvmm_errf(err, "the file name is longer than %d bytes",
                                 NAME_MAX - TMP_SUFFIX_MAX);
        o->dir = dir_of(path, slash);
        o->name = strdup(name);
        if (!o->dir || !o->name) {
                outfile_close(o);
                return cvmm_errf(err, "out of memory");
        }
        o->dirfd = open(o->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (o->dirfd < 0) {
                int e = errno;
                if (e == ENOENT)
                        cvmm_errf(err, "directory '%s' does not exist", o->dir);
                else if (e == ENOTDIR)
                        cvmm_errf(err, "'%s' is not a directory", o->dir);
                else
                        cvmm_errf(err, "cannot open directory '%s': %s", o->dir, strerror(e));
                outfile_close(o);
                return -1;
        }
        struct statfs fs;
        const char *pseudo;
        if (fstatfs(o->dirfd, &fs) != 0) {
                cvmm_errf(err, "cannot check directory '%s': %s", o->dir, strerror(errno));
        } else if ((pseudo = pseudo_fs((long)fs.f_type))) {
                cvmm_errf(err, "directory '%s' is on %s, whose entries are not ordinary files",
                          o->dir, pseudo);
        } else if (check_entry(o, "", err) != 0) {
                /* err says what is there */
        } else if (faccessat(o->dirfd, ".", W_OK | X_OK, AT_EACCESS) != 0) {
                cvmm_errf(err, "cannot create a file in directory '%s': %s", o->dir,
                          strerror(errno));
        } else {
                return 0;
        }
        outfile_close(o);
        return -1;
}

/* Writes all of data to fd; returns 0 or -1 (errno set). */
static int write_all(int fd, const char *data, size_t len)
{
        while (len) {
                ssize_t n = write(fd, data, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        if (n == 0)
                                errno = EIO;
                        return -1;
                }
                data += n;
                len -= (size_t)n;
        }
        return 0;
}

int outfile_write(struct outfile *o, const char *data, size_t len, struct cvmm_err *err)
{
        if (!o->dir)
                return cvmm_errf(err, "not open");
        char tmp[NAME_MAX + 1];
        int fd = -1;
        for (int tries = 0; tries < 100 && fd < 0; tries++) {
                snprintf(tmp, sizeof(tmp), "%s.tmp%ld-%u", o->name, (long)getpid(), o->seq++);
                fd = openat(o->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                            0600);
                if (fd < 0 && errno != EEXIST)
                        break;
        }
        if (fd < 0)
                return cvmm_errf(err, "cannot create a temporary file in directory '%s': %s",
                                 o->dir, strerror(errno));
        int rc = 0;
        if (write_all(fd, data, len) != 0 || fchmod(fd, 0644) != 0)
                rc = cvmm_errf(err, "writing a temporary file in directory '%s': %s", o->dir,
                               strerror(errno));
        if (close(fd) != 0 && rc == 0)
                rc = cvmm_errf(err, "writing a temporary file in directory '%s': %s", o->dir,
                               strerror(errno));
        /* The path may have changed since outfile_open: replace only a regular file. */
        if (rc == 0)
                rc = check_entry(o, " now", err);
        if (rc == 0 && renameat(o->dirfd, tmp, o->dirfd, o->name) != 0)
                rc = cvmm_errf(err, "renaming the temporary file into place: %s", strerror(errno));
        if (rc != 0)
                unlinkat(o->dirfd, tmp, 0);
        return rc;
}

void outfile_close(struct outfile *o)
{
        if (o->dir && o->dirfd >= 0)
                close(o->dirfd);
        free(o->dir);
        free(o->name);
        o->dir = NULL;
        o->name = NULL;
        o->dirfd = -1;
}
