import pytest
from typer.testing import CliRunner

from kb.accounts import AccountError, Staff, authenticate, check_password, create_staff, hash_password, set_password
from kb.cli import app
from kb.storage import open_db


def test_passwords_are_hashed_and_checked():
    stored = hash_password("correct horse battery")
    assert "correct horse" not in stored and stored.startswith("scrypt$")
    assert check_password("correct horse battery", stored)
    assert not check_password("wrong horse battery", stored)
    assert not check_password("anything", "garbage")


def test_create_and_authenticate(db):
    staff = create_staff(db, "ada", "a long enough password", "writer")
    assert authenticate(db, "ada", "a long enough password") == staff
    assert authenticate(db, "ada", "wrong password!!") is None
    assert authenticate(db, "nobody", "a long enough password") is None
    set_password(db, "ada", "another long password")
    assert authenticate(db, "ada", "another long password") == staff


@pytest.mark.parametrize(("username", "password", "role", "message"), [
    ("a", "a long enough password", "writer", "usernames"),
    ("ada", "short", "writer", "at least 10"),
    ("ada", "a long enough password", "boss", "role must be"),
])
def test_bad_accounts(db, username, password, role, message):
    with pytest.raises(AccountError, match=message):
        create_staff(db, username, password, role)


def test_duplicate_username(db):
    create_staff(db, "ada", "a long enough password", "writer")
    with pytest.raises(AccountError, match="already"):
        create_staff(db, "ada", "a long enough password", "agent")


def test_roles():
    assert Staff(1, "w", "writer").can("gaps") and not Staff(1, "w", "writer").can("tickets")
    assert Staff(1, "a", "agent").can("tickets") and not Staff(1, "a", "agent").can("analytics")
    assert Staff(1, "x", "admin").can("tickets") and Staff(1, "x", "admin").can("gaps")


def test_staff_cli(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["staff", "add", "bo", "--role", "agent", "--password", "a long enough password",
                                 "--data", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Created agent account bo" in result.output
    assert runner.invoke(app, ["staff", "list", "--data", str(tmp_path)]).output.strip() == "bo\tagent"
    bad = runner.invoke(app, ["staff", "add", "bo", "--password", "a long enough password", "--data", str(tmp_path)])
    assert bad.exit_code == 1 and "already" in bad.output
    assert authenticate(open_db(tmp_path / "kb.db"), "bo", "a long enough password")
