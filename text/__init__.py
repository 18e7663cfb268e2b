"""Text front-end: vocabulary, embeddings, bucketed sequences, 1D CNNs over time."""
