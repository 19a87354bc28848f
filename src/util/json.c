/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "util/json.h"

struct json_object *json_hex(uint64_t v)
{
        char b[24];
        snprintf(b, sizeof(b), "0x%llx", (unsigned long long)v);
        return json_object_new_string(b);
}

void json_put(bool *ok, struct json_object *o, const char *key, struct json_object *v)
{
        if (v && o && json_object_object_add(o, key, v) == 0)
                return;
        json_object_put(v);
        *ok = false;
}

void json_put_null(bool *ok, struct json_object *o, const char *key)
{
        if (!o || json_object_object_add(o, key, NULL) != 0)
                *ok = false;
}

void json_append(bool *ok, struct json_object *a, struct json_object *v)
{
        if (v && a && json_object_array_add(a, v) == 0)
                return;
        json_object_put(v);
        *ok = false;
}

struct json_object *json_finish(bool ok, struct json_object *o)
{
        if (ok)
                return o;
        json_object_put(o);
        return NULL;
}
