"""Reading the corpus folder: metadata, text, parsing into articles, checks."""
