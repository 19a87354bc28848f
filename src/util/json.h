/* SPDX-License-Identifier: MIT */
/* Small json-c helpers shared by the library, the VMM and the CLI. */
#ifndef CVMM_UTIL_JSON_H
#define CVMM_UTIL_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

/* A JSON string "0x..." for v (hex without leading zeros); NULL on ENOMEM. */
struct json_object *json_hex(uint64_t v);

/*
 * Building a document with every json-c allocation checked. json_put adds v under key to o,
 * json_append adds v to array a; v is a fresh value, possibly NULL from a failed
 * json_object_new_*. When v is NULL, the container is NULL or the add fails, v is freed, false
 * is returned and *ok (when ok is not NULL) becomes false, so a caller may either test each
 * add or check *ok once, at the end. json_put_null adds a JSON null that is meant ("not
 * known").
 */
bool json_put(bool *ok, struct json_object *o, const char *key, struct json_object *v);
bool json_put_null(bool *ok, struct json_object *o, const char *key);
bool json_append(bool *ok, struct json_object *a, struct json_object *v);
/* o when ok, else NULL with o freed: a caller's json_put of the result then fails too. */
struct json_object *json_finish(bool ok, struct json_object *o);

#endif
