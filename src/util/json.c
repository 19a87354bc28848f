/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "util/json.h"

struct json_object *json_hex(uint64_t v)
{
        char b[24];
        snprintf(b, sizeof(b), "0x%llx", (unsigned long long)v);
        return json_object_new_string(b);
}

static bool failed(bool *ok)
{
        if (ok)
                *ok = false;
        return false;
}

bool json_put(bool *ok, struct json_object *o, const char *key, struct json_object *v)
{
        if (v && o && json_object_object_add(o, key, v) == 0)
                return true;
        json_object_put(v);
        return failed(ok);
}

bool json_put_null(bool *ok, struct json_object *o, const char *key)
{
        if (o && json_object_object_add(o, key, NULL) == 0)
                return true;
        return failed(ok);
}

bool json_append(bool *ok, struct json_object *a, struct json_object *v)
{
        if (v && a && json_object_array_add(a, v) == 0)
                return true;
        json_object_put(v);
        return failed(ok);
}

struct json_object *json_finish(bool ok, struct json_object *o)
{
        if (ok)
                return o;
        json_object_put(o);
        return NULL;
}
