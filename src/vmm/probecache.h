/* SPDX-License-Identifier: MIT */
/*
 * Reuse of CPUID-probe results across runs, only where they provably apply.
 *
 * What a probe phase measures (the CPUID a guest sees for a table, the XSAVE sizes after
 * XSETBV) is a function of the code that answers it, that code's settings and the inputs. A
 * cache entry is therefore keyed by all of them, compared byte for byte, never by a hash:
 *   - the host: this boot (boot_id), the kernel binary (the build ID in /sys/kernel/notes),
 *     every loaded KVM module's build ID and every parameter of KVM and its vendor modules,
 *     and KVM_GET_SUPPORTED_CPUID as it is now; with a livepatch loaded nothing is reused;
 *   - cvmm itself: the build ID of its binary (the probe's code and its sweep list);
 *   - the phase: the table as handed over, what KVM_GET_CPUID2 returned for it on this run's
 *     probe vCPU (read live every time), the vCPU id, the kind of VM it runs in, and for the
 *     XSAVE phase the XCR0 and XSS values.
 * Entries live in a directory private to the user (mode 0700, owned by the effective user;
 * files 0600, one link, no symbolic links), each written whole through a temporary file and a
 * rename. A file that fails any check, or whose checksum or key does not match, is ignored
 * and the phase runs. A failure to store is silent: the run goes on with its fresh result.
 */
#ifndef CVMM_VMM_PROBECACHE_H
#define CVMM_VMM_PROBECACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "cvmm/cpuid.h"

struct probecache;

/*
 * Opens the cache in dir (created 0700 if missing) for this host. root prefixes the /proc
 * and /sys paths read ("" on a real host; a test's tree otherwise). Returns the cache, or
 * NULL with why (one line) saying why nothing can be reused on this host or in dir.
 */
struct probecache *probecache_open(const char *dir, const char *root,
                                   const struct cvmm_cpuid_table *supported, char *why,
                                   size_t why_len);
void probecache_close(struct probecache *c);
const char *probecache_dir(const struct probecache *c);

/* The value stored under key (a NUL-terminated string), malloc'd into *val; false if none. */
bool probecache_get(struct probecache *c, const char *key, void **val, size_t *len);
/* Stores val under key; returns false when it could not (nothing half-written stays). */
bool probecache_put(struct probecache *c, const char *key, const void *val, size_t len);

struct strbuf;
/* Appends t's entries (keys, KVM flags, registers) to sb as key text: " leaf.sub.flags:a.b.c.d". */
void probecache_put_table(struct strbuf *sb, const struct cvmm_cpuid_table *t);

/* The default directory for the effective user: /run/cvmm-probe for root, else
 * $XDG_RUNTIME_DIR/cvmm-probe, else /tmp/cvmm-probe-UID (buf, returned; NULL if too long). */
const char *probecache_default_dir(char *buf, size_t len);

#endif
