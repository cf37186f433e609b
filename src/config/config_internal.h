/* Private to config/: the loader's pieces. */
#ifndef NEWT_CONFIG_INTERNAL_H
#define NEWT_CONFIG_INTERNAL_H

#include "config/config.h"

/* Coerces v (any kind) for key k; path names the key in messages ("datasets[0].split"),
 * where says where it came from (" (config.yml:12)"). Null stays null (unset). */
nt_status cfg_coerce_value(const cfg_key *k, const val *v, const char *path, const char *where,
                           val **out, nt_err *err);

/* Writes " — did you mean 'x'?" for the enum choice closest to s, or "" if none is close. */
void cfg_enum_hint(const char *choices, const char *s, char *buf, size_t cap);

/* Applies argv-style overrides to the parsed root dict; every key set is also set (true)
 * in origin so messages can say "(command line)". */
nt_status cfg_apply_overrides(val *root, int n, char **argv, val *origin, nt_err *err);

/* "unknown key 'x' — did you mean 'y'?" (path is what the user wrote, name the last part). */
nt_status cfg_unknown_key(const cfg_key *table, const char *path, const char *name,
                          const char *where, nt_err *err);

#endif
