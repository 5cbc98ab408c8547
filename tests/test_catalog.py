from kb.catalog import load_catalog, slug_resolver


def test_catalog_loads_articles_categories_and_drafts(articles_dir):
    catalog = load_catalog(articles_dir)
    assert sorted(a.slug for a in catalog.published) == [
        "change-email", "plans", "refunds", "reset-password", "welcome"]
    assert [a.slug for a in catalog.articles if a.draft] == ["roadmap"]
    assert [(c.parent, c.slug, c.title) for c in catalog.categories] == [
        (None, "account", "Account and sign-in"), (None, "billing", "Billing"),
        (None, "getting-started", "Getting started"), ("account", "sign-in", "Sign in"),
        ("billing", "payments", "Payments"),
    ]
    account = next(c for c in catalog.categories if c.slug == "account")
    assert account.description == "Passwords, email and two-step sign-in."
    reset = next(a for a in catalog.articles if a.slug == "reset-password")
    assert reset.category_title == "Account and sign-in"
    assert catalog.problems == []


def test_a_broken_file_is_reported_and_the_rest_still_load(articles_dir):
    (articles_dir / "billing" / "broken.md").write_text("---\ntitle: [unclosed\n---\n")
    catalog = load_catalog(articles_dir)
    assert len(catalog.published) == 5
    [problem] = catalog.problems
    assert problem.path.name == "broken.md" and problem.line == 2
    assert "not valid YAML" in problem.message


def test_duplicate_slugs_and_broken_links(articles_dir):
    (articles_dir / "billing" / "reset-password.md").write_text("---\ntitle: Dup\n---\nSee [x](no-such-article).\n")
    catalog = load_catalog(articles_dir)
    messages = sorted(str(p) for p in catalog.errors)
    assert len(messages) == 1
    assert "duplicate slug 'reset-password'" in messages[0] and "billing/reset-password.md" in messages[0]


def test_broken_link_names_file_and_line(articles_dir):
    path = articles_dir / "billing" / "payments" / "plans.md"
    path.write_text(path.read_text() + "\nSee [gone](no-such-article) too.\n")
    [problem] = load_catalog(articles_dir).errors
    assert problem.path == path
    assert path.read_text().splitlines()[problem.line - 1] == "See [gone](no-such-article) too."
    assert "broken link to 'no-such-article'" in problem.message


def test_links_to_drafts_are_broken(articles_dir):
    path = articles_dir / "billing" / "payments" / "plans.md"
    path.write_text(path.read_text() + "\n[soon](roadmap)\n")
    assert ["broken link to 'roadmap'" in p.message for p in load_catalog(articles_dir).errors] == [True]


def test_old_slugs_resolve_to_the_current_article(articles_dir):
    resolve = slug_resolver(load_catalog(articles_dir).articles)
    assert resolve["forgot-password"] == "reset-password"
    assert "roadmap" not in resolve
