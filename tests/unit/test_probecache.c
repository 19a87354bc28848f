/* SPDX-License-Identifier: MIT */
/*
 * The probe cache (vmm/probecache.h) against a made-up /proc and /sys: a stored result comes
 * back only for the same key on the same host identity, from a file private to this user
 * that is whole and unaltered; anything else is a miss, and a host whose KVM cannot be
 * identified gets no cache at all.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "vmm/probecache.h"

struct fx {
        char root[64]; /* the fake host: proc/ and sys/ */
        char dir[96];  /* the cache directory */
        struct cvmm_cpuid_table sup;
};

static void write_file(const struct fx *f, const char *rel, const char *text)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", f->root, rel);
        char cmd[1200];
        snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
        assert_int_equal(system(cmd), 0);
        FILE *fp = fopen(path, "w");
        assert_non_null(fp);
        fputs(text, fp);
        fclose(fp);
}

static int setup(void **state)
{
        struct fx *f = calloc(1, sizeof(*f));
        if (!f)
                return -1;
        strcpy(f->root, "/tmp/cvmm-pcache-XXXXXX");
        if (!mkdtemp(f->root))
                return -1;
        snprintf(f->dir, sizeof(f->dir), "%s/cache", f->root);
        write_file(f, "proc/sys/kernel/random/boot_id", "a7bf3544-bf76-445d-b24c-93cfa0e73bbc\n");
        write_file(f, "sys/kernel/notes", "\x04GNU-kernel-build-id");
        write_file(f, "sys/module/kvm/parameters/enable_pmu", "N\n");
        write_file(f, "sys/module/kvm/parameters/tdp_mmu", "Y\n");
        write_file(f, "sys/module/kvm_amd/initstate", "live\n");
        write_file(f, "sys/module/kvm_amd/notes/.note.gnu.build-id", "\x04GNU-kvm-amd-build");
        write_file(f, "sys/module/kvm_amd/parameters/nested", "1\n");
        write_file(f, "sys/module/ext4/parameters/x", "1\n"); /* not KVM's: no part of the key */
        cvmm_cpuid_init(&f->sup);
        struct cvmm_cpuid_entry e = {.leaf = 1, .regs = {0xa10f11, 0x00010800, 0x81202000, 0}};
        if (cvmm_cpuid_put(&f->sup, &e))
                return -1;
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fx *f = *state;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
        int rc = system(cmd);
        cvmm_cpuid_free(&f->sup);
        free(f);
        return rc == 0 ? 0 : -1;
}

static struct probecache *open_ok(const struct fx *f)
{
        char why[200] = "";
        struct probecache *c = probecache_open(f->dir, f->root, &f->sup, why, sizeof(why));
        if (!c)
                fail_msg("probecache_open: %s", why);
        return c;
}

static bool has(struct probecache *c, const char *key, const char *want)
{
        void *v = NULL;
        size_t n = 0;
        bool hit = probecache_get(c, key, &v, &n);
        bool same = hit && n == strlen(want) && memcmp(v, want, n) == 0;
        free(v);
        if (hit && !same)
                fail_msg("a hit for '%s' returned other bytes", key);
        return hit;
}

/* The one entry file in the cache directory (fails unless exactly one). */
static void entry_path(const struct fx *f, char *out, size_t len)
{
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "ls '%s' | wc -l | grep -qx 1", f->dir);
        assert_int_equal(system(cmd), 0);
        snprintf(cmd, sizeof(cmd), "ls '%s'", f->dir);
        FILE *p = popen(cmd, "r");
        char name[128] = "";
        assert_non_null(p);
        assert_non_null(fgets(name, sizeof(name), p));
        pclose(p);
        name[strcspn(name, "\n")] = 0;
        snprintf(out, len, "%s/%s", f->dir, name);
}

static void test_round_trip(void **state)
{
        struct fx *f = *state;
        struct probecache *c = open_ok(f);
        assert_false(has(c, "phase sweep\nvcpu 1\n", ""));
        assert_true(probecache_put(c, "phase sweep\nvcpu 1\n", "seen-table", 10));
        assert_true(has(c, "phase sweep\nvcpu 1\n", "seen-table"));
        assert_false(has(c, "phase sweep\nvcpu 2\n", "")); /* another key */
        probecache_close(c);
        /* a later run on the same host finds it; the directory and file are private */
        c = open_ok(f);
        assert_true(has(c, "phase sweep\nvcpu 1\n", "seen-table"));
        probecache_close(c);
        struct stat st;
        assert_int_equal(stat(f->dir, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0700);
        char path[256];
        entry_path(f, path, sizeof(path));
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
}

/* Any part of the host's identity that changes makes the stored result not apply. */
static void test_identity(void **state)
{
        struct fx *f = *state;
        struct probecache *c = open_ok(f);
        assert_true(probecache_put(c, "k", "v", 1));
        probecache_close(c);
        static const struct {
                const char *file, *changed, *orig;
        } parts[] = {
            {"proc/sys/kernel/random/boot_id", "b7bf3544-bf76-445d-b24c-93cfa0e73bbc\n",
             "a7bf3544-bf76-445d-b24c-93cfa0e73bbc\n"},
            {"sys/kernel/notes", "\x04GNU-kernel-build-iD", "\x04GNU-kernel-build-id"},
            {"sys/module/kvm_amd/notes/.note.gnu.build-id", "\x04GNU-kvm-amd-bu1ld",
             "\x04GNU-kvm-amd-build"},
            {"sys/module/kvm_amd/parameters/nested", "0\n", "1\n"},
            {"sys/module/kvm/parameters/enable_pmu", "Y\n", "N\n"},
        };
        for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
                write_file(f, parts[i].file, parts[i].changed);
                c = open_ok(f);
                if (has(c, "k", "v"))
                        fail_msg("a changed %s still matched", parts[i].file);
                probecache_close(c);
                write_file(f, parts[i].file, parts[i].orig);
        }
        /* a new KVM module, or a new parameter of one, is part of the identity too */
        write_file(f, "sys/module/kvm_intel/parameters/ept", "Y\n");
        c = open_ok(f);
        assert_false(has(c, "k", "v"));
        probecache_close(c);
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "rm -r '%s/sys/module/kvm_intel'", f->root);
        assert_int_equal(system(cmd), 0);
        /* a module KVM does not own is not */
        write_file(f, "sys/module/ext4/parameters/x", "2\n");
        c = open_ok(f);
        assert_true(has(c, "k", "v"));
        probecache_close(c);
        /* KVM_GET_SUPPORTED_CPUID: a changed feature misses; the host CPU's APIC ID (1.EBX
         * bits 31:24, whichever CPU the ioctl ran on) does not count */
        f->sup.entries[0].regs[1] = 0x03010800;
        c = open_ok(f);
        assert_true(has(c, "k", "v"));
        probecache_close(c);
        f->sup.entries[0].regs[2] ^= 1;
        c = open_ok(f);
        assert_false(has(c, "k", "v"));
        probecache_close(c);
}

/* Without a way to tell this KVM from another, nothing is reused, and cvmm says why. */
static void test_unidentifiable(void **state)
{
        struct fx *f = *state;
        char why[200];
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "rm '%s/sys/module/kvm_amd/notes/.note.gnu.build-id'", f->root);
        assert_int_equal(system(cmd), 0);
        assert_null(probecache_open(f->dir, f->root, &f->sup, why, sizeof(why)));
        assert_non_null(strstr(why, "module kvm_amd has no readable build ID"));
        write_file(f, "sys/module/kvm_amd/notes/.note.gnu.build-id", "\x04GNU-kvm-amd-build");
        write_file(f, "sys/kernel/livepatch/fix1/enabled", "1\n");
        assert_null(probecache_open(f->dir, f->root, &f->sup, why, sizeof(why)));
        assert_non_null(strstr(why, "livepatch"));
        snprintf(cmd, sizeof(cmd),
                 "rm -r '%s/sys/kernel/livepatch' '%s/sys/module/kvm' "
                 "'%s/sys/module/kvm_amd'",
                 f->root, f->root, f->root);
        assert_int_equal(system(cmd), 0);
        assert_null(probecache_open(f->dir, f->root, &f->sup, why, sizeof(why)));
        assert_non_null(strstr(why, "no KVM module"));
}

/* A directory or file another user could have written is not trusted. */
static void test_private(void **state)
{
        struct fx *f = *state;
        struct probecache *c = open_ok(f);
        assert_true(probecache_put(c, "k", "v", 1));
        probecache_close(c);
        char why[200];
        assert_int_equal(chmod(f->dir, 0755), 0);
        assert_null(probecache_open(f->dir, f->root, &f->sup, why, sizeof(why)));
        assert_non_null(strstr(why, "is not private to this user"));
        assert_int_equal(chmod(f->dir, 0700), 0);
        char path[256], other[300];
        entry_path(f, path, sizeof(path));
        assert_int_equal(chmod(path, 0644), 0);
        c = open_ok(f);
        assert_false(has(c, "k", "v"));
        assert_int_equal(chmod(path, 0600), 0);
        assert_true(has(c, "k", "v"));
        /* a second link to it, or a symbolic link in its place */
        snprintf(other, sizeof(other), "%s/elsewhere", f->root);
        assert_int_equal(link(path, other), 0);
        assert_false(has(c, "k", "v"));
        assert_int_equal(unlink(path), 0);
        assert_int_equal(symlink(other, path), 0);
        assert_false(has(c, "k", "v"));
        assert_int_equal(unlink(path), 0);
        assert_int_equal(rename(other, path), 0);
        assert_true(has(c, "k", "v"));
        probecache_close(c);
}

/* A file cut short or with a byte changed anywhere is a miss; storing again replaces it. */
static void test_damaged(void **state)
{
        struct fx *f = *state;
        struct probecache *c = open_ok(f);
        const char *val = "a value long enough to be hit in the middle";
        assert_true(probecache_put(c, "k", val, strlen(val)));
        char path[256];
        entry_path(f, path, sizeof(path));
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        for (off_t at = 0; at < st.st_size; at += 7) {
                int fd = open(path, O_RDWR);
                assert_true(fd >= 0);
                unsigned char b;
                assert_int_equal(pread(fd, &b, 1, at), 1);
                b ^= 0x20;
                assert_int_equal(pwrite(fd, &b, 1, at), 1);
                if (has(c, "k", val))
                        fail_msg("a byte changed at offset %lld still matched", (long long)at);
                b ^= 0x20;
                assert_int_equal(pwrite(fd, &b, 1, at), 1);
                close(fd);
        }
        assert_true(has(c, "k", val));
        assert_int_equal(truncate(path, st.st_size - 1), 0);
        assert_false(has(c, "k", val));
        assert_true(probecache_put(c, "k", val, strlen(val)));
        assert_true(has(c, "k", val));
        probecache_close(c);
}

/* Entries of another identity (an earlier boot, say) go when a new one is stored. */
static void test_prune(void **state)
{
        struct fx *f = *state;
        struct probecache *c = open_ok(f);
        assert_true(probecache_put(c, "k", "v", 1));
        probecache_close(c);
        write_file(f, "proc/sys/kernel/random/boot_id", "c7bf3544-bf76-445d-b24c-93cfa0e73bbc\n");
        c = open_ok(f);
        assert_true(probecache_put(c, "k2", "v2", 2));
        char path[256];
        entry_path(f, path, sizeof(path)); /* only the new boot's entry is left */
        assert_true(has(c, "k2", "v2"));
        probecache_close(c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
            cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
            cmocka_unit_test_setup_teardown(test_unidentifiable, setup, teardown),
            cmocka_unit_test_setup_teardown(test_private, setup, teardown),
            cmocka_unit_test_setup_teardown(test_damaged, setup, teardown),
            cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
