"""Models, the layer above the foundations: what a language model is.

    gpt           the decoder-only Transformer (GPT): GPT-2's block or the modern one (RMSNorm, RoPE, SwiGLU,
                  QK-norm), with KV-cache generation
    seq2seq       the encoder–decoder of "Attention Is All You Need"
    attention/    sparse attention: patterns (masks) and kernels (masked dense, blocked, FlexAttention)
    text          text in and out: continue a prompt, log-likelihood of texts
    interop       our GPT <-> Hugging Face's GPT2LMHeadModel (GPT-2's block), LlamaForCausalLM or
                  Qwen3ForCausalLM (the modern block), weight for weight
"""
