/* SPDX-License-Identifier: MIT */
/* Small json-c helpers shared by the library, the VMM and the CLI. */
#ifndef CVMM_UTIL_JSON_H
#define CVMM_UTIL_JSON_H

#include <stdint.h>

#include <json-c/json.h>

/* A JSON string "0x..." for v (hex without leading zeros); NULL on ENOMEM. */
struct json_object *json_hex(uint64_t v);

#endif
