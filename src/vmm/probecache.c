/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cvmm/effective.h"
#include "util/strbuf.h"
#include "vmm/probecache.h"

#define MAGIC      "CVMMPC1\n"
#define MAX_FILE   (4u << 20)
#define MAX_FILES  512 /* in the directory: past that, the stale and surplus entries go */
#define NAME_LEN   33  /* 16 hex digits of the identity's hash, '-', 16 of the key's */
#define MAX_SYSVAL 4096

struct probecache {
        int dirfd;
        char *dir;
        char *id; /* the host's and cvmm's identity, as text */
        size_t id_len;
        uint64_t id_hash;
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
        const unsigned char *b = p;
        for (size_t i = 0; i < n; i++)
                h = (h ^ b[i]) * 0x100000001b3ull;
        return h;
}
#define FNV0 0xcbf29ce484222325ull

/* A small file's bytes (fewer than cap); -1 if unreadable or larger. A short read can only
 * make the identity differ, so a result is then not reused: never the other way round. */
static int read_small(const char *path, char *buf, size_t cap, size_t *len)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -1;
        /* sysfs and procfs hand over a value this small in one read: no second one for EOF */
        ssize_t r;
        do
                r = read(fd, buf, cap);
        while (r < 0 && errno == EINTR);
        close(fd);
        if (r < 0)
                return -1;
        size_t n = (size_t)r;
        if (n == cap)
                return -1; /* larger than any value read here may be */
        *len = n;
        return 0;
}

static void put_hex(struct strbuf *sb, const void *p, size_t n)
{
        const unsigned char *b = p;
        for (size_t i = 0; i < n; i++)
                strbuf_printf(sb, "%02x", b[i]);
}

/* "name <hex of the file>\n"; -1 when it cannot be read. */
static int put_file(struct strbuf *sb, const char *name, const char *path)
{
        char buf[MAX_SYSVAL];
        size_t n;
        if (read_small(path, buf, sizeof(buf), &n))
                return -1;
        strbuf_printf(sb, "%s ", name);
        put_hex(sb, buf, n);
        strbuf_printf(sb, "\n");
        return 0;
}

static int cmp_names(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of a directory, sorted; NULL with *n 0 if it cannot be read or is empty. */
static char **list_dir(const char *path, size_t *n)
{
        *n = 0;
        DIR *d = opendir(path);
        if (!d)
                return NULL;
        char **v = NULL;
        size_t cap = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
                if (e->d_name[0] == '.')
                        continue;
                if (*n == cap) {
                        size_t nc = cap ? 2 * cap : 32;
                        char **nv = realloc(v, nc * sizeof(*v));
                        if (!nv)
                                break;
                        v = nv;
                        cap = nc;
                }
                if (!(v[*n] = strdup(e->d_name)))
                        break;
                (*n)++;
        }
        closedir(d);
        if (*n)
                qsort(v, *n, sizeof(*v), cmp_names);
        return v;
}

static void free_list(char **v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

struct build_id {
        unsigned char b[64];
        size_t n;
};

/* The GNU build ID of the main program, from its PT_NOTE segments. */
static int main_build_id(struct dl_phdr_info *info, size_t size, void *arg)
{
        (void)size;
        struct build_id *id = arg;
        for (int i = 0; i < info->dlpi_phnum; i++) {
                const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
                if (ph->p_type != PT_NOTE)
                        continue;
                const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
                size_t off = 0;
                while (off + sizeof(ElfW(Nhdr)) <= ph->p_memsz) {
                        const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)(p + off);
                        size_t name = (nh->n_namesz + 3) & ~(size_t)3;
                        size_t desc = (nh->n_descsz + 3) & ~(size_t)3;
                        const unsigned char *np = p + off + sizeof(*nh);
                        if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
                            memcmp(np, "GNU", 4) == 0 && nh->n_descsz <= sizeof(id->b) &&
                            off + sizeof(*nh) + name + nh->n_descsz <= ph->p_memsz) {
                                memcpy(id->b, np + name, nh->n_descsz);
                                id->n = nh->n_descsz;
                                return 1;
                        }
                        off += sizeof(*nh) + name + desc;
                }
        }
        return 1; /* the first object is the main program: stop either way */
}

/* The identity of this host's KVM and of cvmm; NULL with why when it cannot be established. */
static char *identity(const char *root, const struct cvmm_cpuid_table *supported, char *why,
                      size_t why_len)
{
        struct strbuf sb;
        strbuf_init(&sb);
        char path[4096];
        struct build_id self = {0};
        dl_iterate_phdr(main_build_id, &self);
        if (!self.n) {
                snprintf(why, why_len, "cvmm's binary has no build ID");
                goto fail;
        }
        strbuf_printf(&sb, "cvmm-probe-cache 1\ncvmm ");
        put_hex(&sb, self.b, self.n);
        strbuf_printf(&sb, "\n");
        snprintf(path, sizeof(path), "%s/proc/sys/kernel/random/boot_id", root);
        if (put_file(&sb, "boot", path)) {
                snprintf(why, why_len, "cannot read %s", path);
                goto fail;
        }
        snprintf(path, sizeof(path), "%s/sys/kernel/notes", root);
        if (put_file(&sb, "kernel", path)) {
                snprintf(why, why_len, "cannot read the kernel's build ID (%s)", path);
                goto fail;
        }
        size_t n;
        snprintf(path, sizeof(path), "%s/sys/kernel/livepatch", root);
        char **lp = list_dir(path, &n);
        free_list(lp, n);
        if (n) {
                snprintf(why, why_len, "a livepatch is loaded (%s)", path);
                goto fail;
        }
        snprintf(path, sizeof(path), "%s/sys/module", root);
        char **mods = list_dir(path, &n);
        size_t nkvm = 0;
        for (size_t i = 0; i < n; i++) {
                if (strncmp(mods[i], "kvm", 3) != 0)
                        continue;
                nkvm++;
                const char *m = mods[i];
                /* a loadable module has an initstate; it must name its build */
                snprintf(path, sizeof(path), "%s/sys/module/%s/initstate", root, m);
                if (access(path, F_OK) == 0) {
                        snprintf(path, sizeof(path), "%s/sys/module/%s/notes/.note.gnu.build-id",
                                 root, m);
                        char name[300];
                        snprintf(name, sizeof(name), "module %s", m);
                        if (put_file(&sb, name, path)) {
                                snprintf(why, why_len, "module %s has no readable build ID (%s)", m,
                                         path);
                                free_list(mods, n);
                                goto fail;
                        }
                } else {
                        strbuf_printf(&sb, "module %s built-in\n", m);
                }
                snprintf(path, sizeof(path), "%s/sys/module/%s/parameters", root, m);
                size_t np;
                char **params = list_dir(path, &np);
                for (size_t k = 0; k < np; k++) {
                        char name[600];
                        snprintf(path, sizeof(path), "%s/sys/module/%s/parameters/%s", root, m,
                                 params[k]);
                        snprintf(name, sizeof(name), "param %s.%s", m, params[k]);
                        if (put_file(&sb, name, path)) /* write-only: its state is unknown */
                                strbuf_printf(&sb, "%s unreadable\n", name);
                }
                free_list(params, np);
        }
        free_list(mods, n);
        if (!nkvm) {
                snprintf(why, why_len, "no KVM module is listed in %s/sys/module", root);
                goto fail;
        }
        /* The APIC IDs in it are those of the host CPU the ioctl ran on: as of APIC ID 0. */
        struct cvmm_cpuid_table sup;
        if (cvmm_cpuid_for_vcpu(supported, 0, &sup)) {
                snprintf(why, why_len, "out of memory");
                goto fail;
        }
        strbuf_printf(&sb, "supported");
        probecache_put_table(&sb, &sup);
        strbuf_printf(&sb, "\n");
        cvmm_cpuid_free(&sup);
        char *s = strbuf_finish(&sb);
        if (!s)
                snprintf(why, why_len, "out of memory");
        return s;
fail:
        free(strbuf_finish(&sb));
        return NULL;
}

void probecache_put_table(struct strbuf *sb, const struct cvmm_cpuid_table *t)
{
        for (size_t i = 0; i < t->count; i++) {
                const struct cvmm_cpuid_entry *e = &t->entries[i];
                strbuf_printf(sb, " %x.%x.%x:%x.%x.%x.%x", e->leaf, e->subleaf, e->flags,
                              e->regs[0], e->regs[1], e->regs[2], e->regs[3]);
        }
}

const char *probecache_default_dir(char *buf, size_t len)
{
        uid_t uid = geteuid();
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        struct stat st;
        int n;
        if (uid == 0 && stat("/run", &st) == 0 && S_ISDIR(st.st_mode))
                n = snprintf(buf, len, "/run/cvmm-probe");
        else if (uid != 0 && xdg && xdg[0] == '/')
                n = snprintf(buf, len, "%s/cvmm-probe", xdg);
        else
                n = snprintf(buf, len, "/tmp/cvmm-probe-%u", (unsigned)uid);
        return n > 0 && (size_t)n < len ? buf : NULL;
}

struct probecache *probecache_open(const char *dir, const char *root,
                                   const struct cvmm_cpuid_table *supported, char *why,
                                   size_t why_len)
{
        if (mkdir(dir, 0700) && errno != EEXIST) {
                snprintf(why, why_len, "cannot create %s: %s", dir, strerror(errno));
                return NULL;
        }
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st)) {
                snprintf(why, why_len, "cannot open %s: %s", dir, strerror(errno));
                if (fd >= 0)
                        close(fd);
                return NULL;
        }
        if (st.st_uid != geteuid() || (st.st_mode & 077)) {
                snprintf(why, why_len, "%s is not private to this user (owner %u, mode %04o)", dir,
                         (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
                close(fd);
                return NULL;
        }
        struct probecache *c = calloc(1, sizeof(*c));
        if (!c) {
                snprintf(why, why_len, "out of memory");
                close(fd);
                return NULL;
        }
        c->dirfd = fd;
        if (!(c->dir = strdup(dir))) {
                snprintf(why, why_len, "out of memory");
                probecache_close(c);
                return NULL;
        }
        if (!(c->id = identity(root, supported, why, why_len))) {
                probecache_close(c);
                return NULL;
        }
        c->id_len = strlen(c->id);
        c->id_hash = fnv(FNV0, c->id, c->id_len);
        return c;
}

void probecache_close(struct probecache *c)
{
        if (!c)
                return;
        close(c->dirfd);
        free(c->dir);
        free(c->id);
        free(c);
}

const char *probecache_dir(const struct probecache *c)
{
        return c->dir;
}

static void entry_name(const struct probecache *c, const char *key, char name[NAME_LEN + 1])
{
        uint64_t k = fnv(fnv(c->id_hash, "\0", 1), key, strlen(key));
        snprintf(name, NAME_LEN + 1, "%016llx-%016llx", (unsigned long long)c->id_hash,
                 (unsigned long long)k);
}

static void put32(unsigned char *p, uint32_t v)
{
        memcpy(p, &v, 4);
}

static uint32_t get32(const unsigned char *p)
{
        uint32_t v;
        memcpy(&v, p, 4);
        return v;
}

bool probecache_get(struct probecache *c, const char *key, void **val, size_t *len)
{
        char name[NAME_LEN + 1];
        entry_name(c, key, name);
        int fd = openat(c->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return false;
        struct stat st;
        unsigned char *b = NULL;
        bool ok = false;
        if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
            (st.st_mode & 077) || st.st_nlink != 1 || st.st_size < 28 ||
            (uint64_t)st.st_size > MAX_FILE || !(b = malloc((size_t)st.st_size)))
                goto out;
        size_t n = (size_t)st.st_size, got = 0;
        while (got < n) {
                ssize_t r = read(fd, b + got, n - got);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        goto out;
                got += (size_t)r;
        }
        /* MAGIC, identity length, key length, value length, the three, a checksum of it all */
        size_t klen = strlen(key);
        uint64_t idl = get32(b + 8), kl = get32(b + 12), vl = get32(b + 16);
        if (memcmp(b, MAGIC, 8) || idl != c->id_len || kl != klen ||
            20 + idl + kl + vl + 8 != (uint64_t)n)
                goto out;
        uint64_t sum;
        memcpy(&sum, b + n - 8, 8);
        if (sum != fnv(FNV0, b, n - 8) || memcmp(b + 20, c->id, idl) ||
            memcmp(b + 20 + idl, key, kl))
                goto out;
        if (!(*val = malloc(vl ? vl : 1)))
                goto out;
        memcpy(*val, b + 20 + idl + kl, vl);
        *len = vl;
        ok = true;
out:
        free(b);
        close(fd);
        return ok;
}

/* Removes entries of other identities (another boot, kernel, module or cvmm), and every
 * entry once the directory holds more than MAX_FILES. */
static void prune(struct probecache *c)
{
        int fd = openat(c->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd < 0 ? NULL : fdopendir(fd);
        if (!d) {
                if (fd >= 0)
                        close(fd);
                return;
        }
        char mine[17];
        snprintf(mine, sizeof(mine), "%016llx", (unsigned long long)c->id_hash);
        size_t total = 0;
        struct dirent *e;
        while ((e = readdir(d)))
                total++;
        rewinddir(d);
        while ((e = readdir(d))) {
                bool ours = strlen(e->d_name) == NAME_LEN && e->d_name[16] == '-';
                if (ours && (total > MAX_FILES || strncmp(e->d_name, mine, 16) != 0))
                        unlinkat(c->dirfd, e->d_name, 0);
        }
        closedir(d);
}

bool probecache_put(struct probecache *c, const char *key, const void *val, size_t len)
{
        size_t klen = strlen(key);
        if (len > MAX_FILE || c->id_len + klen + len + 28 > MAX_FILE)
                return false;
        size_t n = 20 + c->id_len + klen + len + 8;
        unsigned char *b = malloc(n);
        if (!b)
                return false;
        memcpy(b, MAGIC, 8);
        put32(b + 8, (uint32_t)c->id_len);
        put32(b + 12, (uint32_t)klen);
        put32(b + 16, (uint32_t)len);
        memcpy(b + 20, c->id, c->id_len);
        memcpy(b + 20 + c->id_len, key, klen);
        if (len)
                memcpy(b + 20 + c->id_len + klen, val, len);
        uint64_t sum = fnv(FNV0, b, n - 8);
        memcpy(b + n - 8, &sum, 8);
        prune(c);
        char name[NAME_LEN + 1], tmp[64];
        entry_name(c, key, name);
        snprintf(tmp, sizeof(tmp), ".tmp-%ld-%.16s", (long)getpid(), name + 17);
        int fd = openat(c->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        bool ok = fd >= 0;
        for (size_t off = 0; ok && off < n;) {
                ssize_t w = write(fd, b + off, n - off);
                if (w < 0 && errno == EINTR)
                        continue;
                ok = w > 0;
                off += ok ? (size_t)w : 0;
        }
        if (fd >= 0 && close(fd))
                ok = false;
        if (ok)
                ok = renameat(c->dirfd, tmp, c->dirfd, name) == 0;
        if (!ok && fd >= 0)
                unlinkat(c->dirfd, tmp, 0);
        free(b);
        return ok;
}
