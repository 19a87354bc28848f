/* SPDX-License-Identifier: MIT */
/* Files cvmm writes: only a regular file or a new one is ever replaced. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "testutil.h"
#include "vmm/outfile.h"

/* Each test works in a fresh directory; state holds its name. */
static int setup(void **state)
{
        char *d = strdup("/tmp/cvmm-outfile-XXXXXX");
        if (!d || !mkdtemp(d)) {
                free(d);
                return -1;
        }
        *state = d;
        alarm(10); /* a check that opened a FIFO would block: fail instead of hanging */
        return 0;
}

static int teardown(void **state)
{
        alarm(0);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", (char *)*state);
        int rc = system(cmd);
        free(*state);
        return rc == 0 ? 0 : -1;
}

static char *in(void **state, const char *name)
{
        static char buf[256]; /* one path at a time per test */
        snprintf(buf, sizeof(buf), "%s/%s", (char *)*state, name);
        return buf;
}

static void put_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
}

/* The whole file, or "" when it cannot be read. */
static const char *get_file(const char *path)
{
        static char buf[256];
        buf[0] = '\0';
        FILE *f = fopen(path, "r");
        if (!f)
                return buf;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        fclose(f);
        return buf;
}

/* Entries in the test's directory, apart from . and .. */
static int entries(void **state)
{
        DIR *d = opendir(*state);
        assert_non_null(d);
        int n = 0;
        struct dirent *e;
        while ((e = readdir(d)))
                n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
        closedir(d);
        return n;
}

/* outfile_open refuses path with a message containing needle, and leaves nothing open. */
static void refused(const char *path, const char *needle)
{
        struct outfile o;
        struct cvmm_err err = {{0}};
        assert_int_equal(outfile_open(&o, path, &err), -1);
        if (!strstr(err.msg, needle))
                fail_msg("'%s': '%s' lacks '%s'", path, err.msg, needle);
        assert_null(strchr(err.msg, '\n'));
        assert_null(o.dir);
        outfile_close(&o); /* harmless after a failed open */
}

static void regular_file_replaced(void **state)
{
        char path[256];
        snprintf(path, sizeof(path), "%s", in(state, "m.json"));
        put_file(path, "old contents\n");
        FILE *reader = fopen(path, "r"); /* a scraper that opened the old file */
        assert_non_null(reader);
        struct outfile o;
        struct cvmm_err err;
        assert_int_equal(outfile_open(&o, path, &err), 0);
        assert_int_equal(outfile_write(&o, "new\n", 4, &err), 0);
        assert_string_equal(get_file(path), "new\n");
        assert_int_equal(outfile_write(&o, "newer\n", 6, &err),
                         0); /* a --metrics-interval rewrite */
        assert_string_equal(get_file(path), "newer\n");
        outfile_close(&o);
        outfile_close(&o);
        /* Renamed over, not written through: the old file is whole for whoever still has it. */
        char buf[64] = {0};
        assert_int_equal(fread(buf, 1, sizeof(buf) - 1, reader), 13);
        assert_string_equal(buf, "old contents\n");
        fclose(reader);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 0777, 0644);
        assert_int_equal(entries(state), 1); /* no temporary file left */
}

static void absent_created_only_by_write(void **state)
{
        char path[256];
        snprintf(path, sizeof(path), "%s", in(state, "m.json"));
        struct outfile o;
        struct cvmm_err err;
        assert_int_equal(outfile_open(&o, path, &err), 0);
        assert_int_equal(entries(state), 0); /* the check creates nothing (exit 2 writes nothing) */
        assert_int_equal(outfile_write(&o, "{}\n", 3, &err), 0);
        assert_string_equal(get_file(path), "{}\n");
        assert_int_equal(entries(state), 1);
        outfile_close(&o);
}

static void relative_path_in_cwd(void **state)
{
        char old[512];
        assert_non_null(getcwd(old, sizeof(old)));
        assert_int_equal(chdir(*state), 0);
        struct outfile o;
        struct cvmm_err err;
        int rc = outfile_open(&o, "m.json", &err);
        if (rc == 0)
                rc = outfile_write(&o, "x", 1, &err);
        outfile_close(&o);
        assert_int_equal(chdir(old), 0);
        assert_int_equal(rc, 0);
        assert_string_equal(get_file(in(state, "m.json")), "x");
}

static void symlink_refused_target_untouched(void **state)
{
        char target[256], link[256];
        snprintf(target, sizeof(target), "%s", in(state, "target"));
        snprintf(link, sizeof(link), "%s", in(state, "link"));
        put_file(target, "keep\n");
        assert_int_equal(symlink(target, link), 0);
        refused(link, "it is a symbolic link");
        /* A dangling link too: following it would create a file elsewhere. */
        char dangling[256];
        snprintf(dangling, sizeof(dangling), "%s", in(state, "dangling"));
        assert_int_equal(symlink("/nonexistent-cvmm-target", dangling), 0);
        refused(dangling, "it is a symbolic link");
        struct stat st;
        assert_int_equal(lstat(link, &st), 0);
        assert_true(S_ISLNK(st.st_mode));
        assert_string_equal(get_file(target), "keep\n");
        assert_int_equal(entries(state), 3);
}

static void fifo_refused_without_blocking(void **state)
{
        char path[256];
        snprintf(path, sizeof(path), "%s", in(state, "fifo"));
        assert_int_equal(mkfifo(path, 0644), 0);
        refused(path, "it is a FIFO");
}

static void socket_refused(void **state)
{
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        const char *path = in(state, "sock");
        assert_true(strlen(path) < sizeof(a.sun_path));
        memcpy(a.sun_path, path, strlen(path) + 1);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_true(s >= 0);
        assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
        refused(a.sun_path, "it is a socket");
        close(s);
}

static void directory_refused(void **state)
{
        char path[256];
        snprintf(path, sizeof(path), "%s", in(state, "dir"));
        assert_int_equal(mkdir(path, 0755), 0);
        refused(path, "it is a directory");
        strcat(path, "/");
        refused(path, "names a directory");
        refused(*state, "it is a directory");
        refused(".", "names a directory");
        refused("/", "names a directory");
}

static void empty_path_refused(void **state)
{
        (void)state;
        refused("", "the path is empty");
}

static void missing_parent_refused(void **state)
{
        char path[256];
        snprintf(path, sizeof(path), "%s", in(state, "nodir/m.json"));
        refused(path, "does not exist");
        put_file(in(state, "file"), "x");
        snprintf(path, sizeof(path), "%s", in(state, "file/m.json"));
        refused(path, "is not a directory");
        assert_int_equal(entries(state), 1);
}

static void devices_refused(void **state)
{
        (void)state;
        refused("/dev/null", "it is a character device");
        struct stat st;
        assert_int_equal(stat("/dev/null", &st), 0);
        assert_true(S_ISCHR(st.st_mode)); /* still the device */
}

static void proc_and_sysfs_refused(void **state)
{
        (void)state;
        refused("/proc/self/comm", "is on proc");
        refused("/proc/new-file", "is on proc");
        refused("/sys/kernel/new-file", "is on sysfs");
}

static void unwritable_directory_refused(void **state)
{
        if (geteuid() == 0)
                skip(); /* root may write any directory */
        char path[256];
        snprintf(path, sizeof(path), "%s", in(state, "ro"));
        assert_int_equal(mkdir(path, 0555), 0);
        strcat(path, "/m.json");
        refused(path, "cannot create a file in directory");
}

/* Between the check and the write, the path became a symlink: it is not replaced. */
static void changed_after_open_not_replaced(void **state)
{
        char path[256], target[256];
        snprintf(path, sizeof(path), "%s", in(state, "m.json"));
        snprintf(target, sizeof(target), "%s", in(state, "target"));
        put_file(target, "keep\n");
        struct outfile o;
        struct cvmm_err err = {{0}};
        assert_int_equal(outfile_open(&o, path, &err), 0);
        assert_int_equal(symlink(target, path), 0);
        assert_int_equal(outfile_write(&o, "new\n", 4, &err), -1);
        assert_non_null(strstr(err.msg, "it is a symbolic link now"));
        outfile_close(&o);
        struct stat st;
        assert_int_equal(lstat(path, &st), 0);
        assert_true(S_ISLNK(st.st_mode));
        assert_string_equal(get_file(target), "keep\n");
        assert_int_equal(entries(state), 2); /* the temporary file is gone */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(regular_file_replaced, setup, teardown),
            cmocka_unit_test_setup_teardown(absent_created_only_by_write, setup, teardown),
            cmocka_unit_test_setup_teardown(relative_path_in_cwd, setup, teardown),
            cmocka_unit_test_setup_teardown(symlink_refused_target_untouched, setup, teardown),
            cmocka_unit_test_setup_teardown(fifo_refused_without_blocking, setup, teardown),
            cmocka_unit_test_setup_teardown(socket_refused, setup, teardown),
            cmocka_unit_test_setup_teardown(directory_refused, setup, teardown),
            cmocka_unit_test_setup_teardown(empty_path_refused, setup, teardown),
            cmocka_unit_test_setup_teardown(missing_parent_refused, setup, teardown),
            cmocka_unit_test_setup_teardown(devices_refused, setup, teardown),
            cmocka_unit_test_setup_teardown(proc_and_sysfs_refused, setup, teardown),
            cmocka_unit_test_setup_teardown(unwritable_directory_refused, setup, teardown),
            cmocka_unit_test_setup_teardown(changed_after_open_not_replaced, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
