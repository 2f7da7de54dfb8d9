"""Model files nntutor can open: GGUF (llama.cpp, Ollama, LM Studio) through the ``gguf`` package."""
