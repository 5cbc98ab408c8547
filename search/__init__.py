"""Embeddings, the vector index and hybrid retrieval."""
