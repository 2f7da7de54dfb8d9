"""Model files: the trained tiny transformer, its corpus, tokenizer, training and evaluation."""
