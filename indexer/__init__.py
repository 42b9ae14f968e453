"""abstractqa indexer: ingests abstracts into a versioned FAISS + BM25 index and opens it."""
