"""Finding the evidence for a `Query`: embeddings, the dense and lexical indexes, fusion."""
