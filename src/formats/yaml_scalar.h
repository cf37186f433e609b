/* Private to formats/yaml*.c: PyYAML's YAML 1.1 implicit resolver and scalar constructors. */
#ifndef NEWT_FORMATS_YAML_SCALAR_H
#define NEWT_FORMATS_YAML_SCALAR_H

#include <stdbool.h>
#include <stddef.h>

#include "value/value.h"

typedef enum {
    YML_T_STR, YML_T_INT, YML_T_FLOAT, YML_T_BOOL, YML_T_NULL, YML_T_MERGE,
    YML_T_MAP, YML_T_SEQ, YML_T_UNKNOWN,
} yml_tag;

/* The tag PyYAML's resolver gives a plain scalar (YML_T_UNKNOWN for `=`, the YAML 1.1
 * "value" tag that safe_load cannot construct). */
yml_tag yml_resolve_plain(const char *s, size_t n);

/* Maps an explicit tag ("tag:yaml.org,2002:int") to its kind; others give YML_T_UNKNOWN. */
yml_tag yml_tag_from_name(const char *tag);

/* Builds the value of a scalar with a known tag, as PyYAML's SafeConstructor does.
 * Returns NULL and sets *problem when the text is not valid for the tag. */
val *yml_construct_scalar(yml_tag t, const char *s, size_t n, const char **problem);

#endif
