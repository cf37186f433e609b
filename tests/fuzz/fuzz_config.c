/* Fuzzes config loading (YAML, schema resolution, dataset entries, cross-key rules): any
 * input must load or give an error, never crash or leak. */
#include "config/config.h"
#include "fuzz.h"

static void fuzz_seeds(fuzz_corpus *c) {
    static const char *seeds[] = {
        "base_model: m\nlearning_rate: 1e-4\ndatasets:\n  - path: d\n    type: chat_template\n",
        "base_model: m\nlearning_rate: 0.0002\nadapter: qlora\nload_in_4bit: true\nlora_r: 32\n"
        "lora_dropout: 0.05\nval_set_size: 0.01\ndatasets: [{path: x, roles_to_train: [assistant]}]\n",
        "base_model: m\nlearning_rate: '2e-5'\nfsdp_config: {a: 1}\nbf16: auto\nwandb_project: p\n"
        "datasets: [{path: x, feild_messages: m}]\n",
    };
    for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++) fuzz_add(c, seeds[i], strlen(seeds[i]));
}

static void fuzz_target(const uint8_t *data, size_t n) {
    cfg *c = NULL;
    nt_err err = {0};
    if (cfg_load_text((const char *)data, n, "fuzz.yml", 0, NULL, &c, &err) == NT_OK) cfg_free(c);
}

FUZZ_MAIN()
