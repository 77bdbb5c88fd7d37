"""Text shared by case checks, metrics, the data lint and the drift monitor: citations, embeddings, RE2 helpers."""
