/* Mistral Small 4's config.json as released (wrapper + text + vision), written from the
 * published values (spec: mistral4.md §1), for tests that need the real dimensions. */
#ifndef NEWT_TEST_M4_FIXTURES_H
#define NEWT_TEST_M4_FIXTURES_H

static const char M4_SMALL4_CONFIG_JSON[] =
    "{\"architectures\": [\"Mistral3ForConditionalGeneration\"], \"model_type\": \"mistral3\","
    " \"image_token_index\": 10, \"spatial_merge_size\": 2, \"vision_feature_layer\": -1,"
    " \"projector_hidden_act\": \"gelu\", \"multimodal_projector_bias\": false,"
    " \"tie_word_embeddings\": false,"
    " \"text_config\": {\"model_type\": \"mistral4\", \"hidden_size\": 4096,"
    "  \"num_hidden_layers\": 36, \"num_attention_heads\": 32, \"num_key_value_heads\": 32,"
    "  \"q_lora_rank\": 1024, \"kv_lora_rank\": 256, \"qk_nope_head_dim\": 64,"
    "  \"qk_rope_head_dim\": 64, \"v_head_dim\": 128, \"n_routed_experts\": 128,"
    "  \"n_shared_experts\": 1, \"num_experts_per_tok\": 4, \"moe_intermediate_size\": 2048,"
    "  \"intermediate_size\": 12288, \"first_k_dense_replace\": 0, \"n_group\": 1,"
    "  \"topk_group\": 1, \"norm_topk_prob\": true, \"routed_scaling_factor\": 1.0,"
    "  \"hidden_act\": \"silu\", \"attention_bias\": false, \"rms_norm_eps\": 1e-06,"
    "  \"vocab_size\": 131072, \"max_position_embeddings\": 1048576,"
    "  \"tie_word_embeddings\": false, \"bos_token_id\": 1, \"eos_token_id\": 2,"
    "  \"pad_token_id\": 11, \"rope_interleave\": true,"
    "  \"rope_parameters\": {\"type\": \"yarn\", \"rope_type\": \"yarn\", \"rope_theta\": 10000.0,"
    "   \"factor\": 128.0, \"original_max_position_embeddings\": 8192, \"beta_fast\": 32.0,"
    "   \"beta_slow\": 1.0, \"mscale\": 1.0, \"mscale_all_dim\": 1.0,"
    "   \"llama_4_scaling_beta\": 0.1, \"partial_rotary_factor\": 0.5}},"
    " \"vision_config\": {\"model_type\": \"pixtral\", \"hidden_size\": 1024,"
    "  \"num_hidden_layers\": 24, \"num_attention_heads\": 16, \"head_dim\": 64,"
    "  \"intermediate_size\": 4096, \"patch_size\": 14, \"num_channels\": 3,"
    "  \"image_size\": 1540, \"hidden_act\": \"silu\", \"rope_theta\": 10000.0}}";

#endif
