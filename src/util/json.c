/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "util/json.h"

struct json_object *json_hex(uint64_t v)
{
        char b[24];
        snprintf(b, sizeof(b), "0x%llx", (unsigned long long)v);
        return json_object_new_string(b);
}
