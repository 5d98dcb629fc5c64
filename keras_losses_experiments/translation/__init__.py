"""Machine translation: sentence pairs and tokenizers, the transformer, cached decoding."""
