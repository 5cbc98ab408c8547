"""Knowledge-base core: articles, parsing, storage, settings and the `kb` command."""
