"""EET reproduction pipeline: token-pruned ViT hashing for fine-grained image retrieval."""
__version__ = "0.1.0"
