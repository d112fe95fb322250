"""The `muntada` command line, as an operator in a field office uses it."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from server.database.models import AuditEvent
from server.services import collect_settings
from server.surfaces.cli import main
from tests.support.encrypted import publish_referrals, send_referral
from tests.support.keys import PASSPHRASE, make_key
from tests.support.tables import rows
from tests.support.xlsforms import form_with_media, simple_form


@pytest.fixture
def muntada(database, tmp_path, monkeypatch):
    """muntada(*args, input=None) runs the command line against this test's database."""
    monkeypatch.setenv("MUNTADA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", database)
    monkeypatch.setenv("MUNTADA_VALIDATE_FORMS", "false")
    monkeypatch.setenv("MUNTADA_PUBLIC_URL", "http://192.168.1.10:5000")
    runner = CliRunner()

    def run(*args: str, input: str | None = None, expect: int = 0):
        result = runner.invoke(main, list(args), input=input, catch_exceptions=False)
        assert result.exit_code == expect, result.output
        return result
    return run


def test_forms_add_prints_the_form_id_and_version(muntada, tmp_path):
    source = tmp_path / "household.md"
    source.write_bytes(simple_form("household", "4"))

    assert muntada("forms", "add", str(source)).stdout.splitlines()[0] == \
        "household\t4\tloaded"
    assert muntada("forms", "add", str(source)).stdout.startswith("household\t4\talready loaded")
    listed = muntada("forms", "list").stdout.splitlines()
    assert listed[1].split("\t")[:3] == ["household", "4", "open"]


def test_media_are_loaded_with_the_form_and_missing_ones_are_named(muntada, tmp_path):
    source = tmp_path / "places.xlsx"  # a misleading name: the content is markdown
    source.write_bytes(form_with_media())
    villages = tmp_path / "villages.csv"
    villages.write_text("name,label\na,A\n")

    result = muntada("forms", "add", str(source), "--media", str(villages))

    assert "media updated: villages.csv" in result.stdout
    assert "media still missing: logo.png" in result.stderr


def test_a_broken_form_is_a_clean_error_not_a_traceback(muntada, tmp_path):
    source = tmp_path / "broken.md"
    source.write_text("| survey |\n| | type | name | label |\n| | begin_group | g | G |\n")

    result = muntada("forms", "add", str(source), expect=1)

    assert "Error: The form could not be loaded" in result.stderr
    assert "Traceback" not in result.output


def test_form_states(muntada, tmp_path):
    source = tmp_path / "household.md"
    source.write_bytes(simple_form("household"))
    muntada("forms", "add", str(source))

    assert muntada("forms", "state", "household", "closing").stdout == "household\tclosing\n"
    muntada("forms", "state", "household", "archived", expect=2)
    assert "does not exist" in muntada("forms", "state", "nothing", "open", expect=1).stderr


def test_app_users_create_shows_the_address_and_qr_code_then_revoke(muntada, tmp_path):
    source = tmp_path / "household.md"
    source.write_bytes(simple_form("household"))
    muntada("forms", "add", str(source))

    created = muntada("app-users", "create", "Officer-Erbil", "--form", "household").stdout

    url = next(line.split(": ", 1)[1] for line in created.splitlines()
               if line.startswith("Collect server URL: "))
    assert url.startswith("http://192.168.1.10:5000/collect/key/")
    assert "█" in created  # the QR code, printable in the terminal
    png = tmp_path / "qr.png"
    muntada("app-users", "qr", "officer-erbil", str(png))
    assert png.read_bytes().startswith(b"\x89PNG")
    assert muntada("app-users", "list").stdout == "officer-erbil\tactive\thousehold\tno place\n"
    assert muntada("app-users", "create", "officer-erbil", "--if-missing").stdout.count(url) == 1
    muntada("app-users", "revoke", "officer-erbil")
    assert "revoked" in muntada("app-users", "list").stdout
    assert collect_settings.decode(collect_settings.encode(
        collect_settings.collect_settings(url)))["general"]["server_url"] == url


def test_an_app_user_with_a_password(muntada):
    result = muntada("app-users", "create", "amina", "--password",
                     input="sulaymaniyah-2016\nsulaymaniyah-2016\n")
    assert "Collect server URL" in result.stdout


def test_an_administrator_ties_a_phone_to_its_places(muntada):
    created = muntada("app-users", "create", "officer-basra", "--forum", "Basra Central",
                      "--governorate", "Basra").stdout
    assert "Cases of: forum Basra Central, governorate Basra" in created
    assert muntada("app-users", "places", "officer-basra", "--forum", "Zubair").stdout == \
        "officer-basra\tforum Zubair\n"
    assert muntada("app-users", "list").stdout == "officer-basra\tactive\tevery form\tforum Zubair\n"
    assert muntada("app-users", "places", "officer-basra").stdout == "officer-basra\tno place\n"
    unknown = muntada("app-users", "places", "nobody", "--forum", "Zubair", expect=1)
    assert "nobody" in unknown.stderr


def test_deleting_a_case_the_server_does_not_have_says_so(muntada):
    muntada("forms", "load-programme")
    result = muntada("cases", "delete", "0b5a6c2e-0000-4000-8000-000000000000", expect=1)
    assert "There is no such case" in result.stderr


def test_the_first_administrator(muntada):
    result = muntada("users", "create", "Admin", "--role", "administrator", "--password-stdin",
                     input="a long enough password\n")
    assert result.stdout == "admin\tadministrator\n"
    short = muntada("users", "create", "other", "--role", "analyst", "--password-stdin",
                    input="short\n", expect=1)
    assert "at least 10 characters" in short.stderr


def test_the_programme_forms_load_in_one_command(muntada):
    result = muntada("forms", "load-programme")
    ids = [line.split("\t")[0] for line in result.stdout.splitlines() if "\t" in line]
    assert ids == ["forum_meeting", "incident_referral", "referral_follow_up",
                   "training_attendance", "my_returned_forms"]
    assert "missing" not in result.output


def test_db_upgrade_gives_a_database_from_before_the_lists_indexes_came_with_the_tables_them(
        muntada, database, tmp_path):
    """Such a database has forms whose tables lack the review list's indexes (they were made by
    a list's first visit); upgrading makes them, so no list has to."""
    import sqlalchemy as sa

    from server.database import make_engine

    source = tmp_path / "household.md"
    source.write_bytes(simple_form("household", "4"))
    muntada("forms", "add", str(source))
    engine = make_engine(database)
    root = next(n for n in sa.inspect(engine).get_table_names() if n.startswith("f_household"))
    made = {i["name"] for i in sa.inspect(engine).get_indexes(root) if "_review_" in i["name"]}
    assert made
    with engine.begin() as connection:
        for name in made:
            connection.execute(sa.text(f'DROP INDEX "{name}"'))

    muntada("db", "upgrade")

    assert {i["name"] for i in sa.inspect(engine).get_indexes(root)} >= made
    engine.dispose()


# the command line in a process of its own, saying at its exit which modules it had imported
_CLI_SAYING_WHAT_IT_LOADED = """
import sys
from server.surfaces.cli import main
try:
    main()
finally:
    print(*sorted(m for m in ("flask", "alembic", "marshmallow", "server.app") if m in sys.modules))
"""


def test_a_sync_run_by_hand_loads_neither_the_web_app_nor_alembic(tmp_path):
    """An operator waits for `muntada field-office sync` at a terminal: it loads what the sync
    needs, not Flask and the surfaces, nor Alembic for a database already migrated."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MUNTADA_") and k != "DATABASE_URL"}
    env["MUNTADA_DATA_DIR"] = str(tmp_path / "data")
    repo = Path(__file__).resolve().parents[2]

    def muntada(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", _CLI_SAYING_WHAT_IT_LOADED, *args],
                              env=env, cwd=repo, capture_output=True, text=True, timeout=60)

    first = muntada("db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert "alembic" in first.stdout.split()  # a new database: Alembic migrates it

    synced = muntada("field-office", "sync")

    assert "has not joined a headquarters" in synced.stderr
    assert synced.stdout.split() == []


KEY_PASSPHRASE = "olive grove at the river bend 1987"


def test_a_key_holder_makes_a_key_and_is_told_what_a_lost_passphrase_means(muntada, session,
                                                                            caplog):
    caplog.set_level(logging.DEBUG)
    muntada("users", "create", "Nadia", "--role", "supervisor", "--key-holder",
            "--password-stdin", input="a long enough password\n")

    made = muntada("keys", "create", "referrals-2026", "--holder", "nadia", "--hint",
                   "the grove", input=f"{KEY_PASSPHRASE}\n{KEY_PASSPHRASE}\n")

    name, fingerprint = made.stdout.strip().split("\t")
    assert name == "referrals-2026" and len(fingerprint) == 64
    assert "nobody can ever read the submissions" in made.stderr
    (listed,) = muntada("keys", "list").stdout.splitlines()
    assert listed.split("\t")[:3] == ["referrals-2026", fingerprint, "nadia"]
    assert listed.endswith("\tthe grove")
    session.rollback()
    audited = " ".join(f"{e.action} {e.details}" for e in session.scalars(
        sa.select(AuditEvent)))
    assert "key.created" in audited and "key.created" in caplog.text
    assert KEY_PASSPHRASE not in audited + caplog.text + made.output


def test_a_short_or_mistyped_passphrase_makes_no_key(muntada):
    muntada("users", "create", "nadia", "--role", "supervisor", "--key-holder",
            "--password-stdin", input="a long enough password\n")

    short = muntada("keys", "create", "referrals", "--holder", "nadia",
                    input="brief-words\nbrief-words\n", expect=1)
    assert "at least 12 characters" in short.stderr and "brief-words" not in short.stderr
    assert muntada("keys", "list").stdout == ""
    retyped = muntada("keys", "create", "referrals", "--holder", "nadia",
                      input=f"{KEY_PASSPHRASE}\n{KEY_PASSPHRASE}x\n"
                            f"{KEY_PASSPHRASE}\n{KEY_PASSPHRASE}\n")
    assert "do not match" in retyped.stderr
    assert muntada("keys", "list").stdout.startswith("referrals\t")


def test_only_key_holders_make_keys_and_an_administrator_grants_it(muntada):
    muntada("users", "create", "omar", "--role", "analyst", "--password-stdin",
            input="a long enough password\n")
    passphrase = f"{KEY_PASSPHRASE}\n{KEY_PASSPHRASE}\n"

    refused = muntada("keys", "create", "referrals", "--holder", "omar", input=passphrase,
                      expect=1)
    assert "omar is not a key holder" in refused.stderr

    assert muntada("users", "grant-keys", "omar").stdout == "omar\tkey holder\n"
    muntada("keys", "create", "referrals", "--holder", "omar", input=passphrase)
    assert muntada("users", "revoke-keys", "omar").stdout == "omar\tnot a key holder\n"
    again = muntada("keys", "create", "other", "--holder", "omar", input=passphrase, expect=1)
    assert "not a key holder" in again.stderr


def test_the_incident_referral_is_published_encrypted_in_one_command(muntada, session,
                                                                     tmp_path):
    from server.services.programme import PROGRAMME_FORMS

    (referral,) = [f for f in PROGRAMME_FORMS if f.form_id == "incident_referral"]
    muntada("forms", "add", str(referral.source), "--media", str(referral.media[0]))
    muntada("users", "create", "nadia", "--role", "supervisor", "--key-holder",
            "--password-stdin", input="a long enough password\n")
    muntada("keys", "create", "referrals-2026", "--holder", "nadia",
            input=f"{KEY_PASSPHRASE}\n{KEY_PASSPHRASE}\n")

    published = muntada("forms", "encrypt", "incident_referral", "--key", "referrals-2026")

    version = "2026120301[encrypted:referrals-2026]"
    assert published.stdout == f"incident_referral\t{version}\tencrypted\n"
    (listed,) = [line for line in muntada("forms", "list").stdout.splitlines()
                 if line.startswith("incident_referral\t")]
    assert listed.split("\t")[1] == version
    assert "forums.csv" in listed and "missing" not in listed  # carried forward
    again = muntada("forms", "encrypt", "incident_referral", "--key", "referrals-2026", expect=1)
    assert "already published with the key 'referrals-2026'" in again.stderr
    unknown = muntada("forms", "encrypt", "incident_referral", "--key", "nothing", expect=1)
    assert "There is no key named 'nothing'" in unknown.stderr
    # a later plain version is said to be plain
    assert "warning" not in muntada("forms", "add", str(referral.source)).stderr  # known
    newer = tmp_path / "incident_referral.md"
    newer.write_text(referral.source.with_suffix(".md").read_text(encoding="utf-8")
                     .replace("2026120301", "2026120401"), encoding="utf-8")
    plain = muntada("forms", "add", str(newer))
    assert "not encrypted, while an earlier one was (key referrals-2026)" in plain.stderr
    session.rollback()
    (event,) = session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == "form.encrypted")).all()
    assert (event.username, event.details) == (
        "cli", f'{{"key": "referrals-2026", "version": "{version}"}}')


def test_a_key_holder_decrypts_referrals_into_the_tables_from_the_command_line(
        muntada, app, session, programme, phone, make_user):
    key = make_key(session, make_user)
    version = publish_referrals(app, session, programme, key)
    instance_id, _sealed, _plain = send_referral(phone, version, key, person_name="Huda Salim")
    assert muntada("forms", "decrypted-rows", "incident_referral", "on").stdout == \
        "incident_referral\tdecrypted rows on\n"

    wrong = muntada("keys", "decrypt", "referrals-2026", "--holder", "nadia",
                    input="not the passphrase\n", expect=1)
    assert "does not open the key 'referrals-2026'" in wrong.stderr
    done = muntada("keys", "decrypt", "referrals-2026", "--holder", "nadia",
                   input=f"{PASSPHRASE}\n")

    assert done.stdout == "referrals-2026\t1 decrypted into the tables\t0 could not be read\n"
    (row,) = [r for r in rows(session, "incident_referral") if r["_key"] == instance_id]
    assert row["/person/person_name"] == "Huda Salim"
    muntada("forms", "decrypted-rows", "incident_referral", "off")
    (row,) = [r for r in rows(session, "incident_referral") if r["_key"] == instance_id]
    assert row.get("/person/person_name") is None
    session.rollback()
    assert [e.action for e in session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action.in_(("key.unlock_failed", "form.decrypted_rows")))
        .order_by(AuditEvent.id))] == ["form.decrypted_rows", "key.unlock_failed",
                                       "form.decrypted_rows", "form.decrypted_rows"]
