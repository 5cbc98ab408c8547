"""The help-center website: a FastAPI app over the kb and search libraries."""
