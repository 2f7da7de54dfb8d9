"""Model files: the trained tiny transformer (its corpus, tokenizer, file format, training and
evaluation) and GGUF files (llama.cpp, Ollama, LM Studio) read through the ``gguf`` package."""
