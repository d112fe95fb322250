"""Settings are declared once; the README documents every one of them."""

from __future__ import annotations

from server.kernel import settings


def test_every_setting_has_the_prefix_a_default_and_help():
    for setting in settings.SETTINGS:
        assert setting.variable.startswith("MUNTADA_") or setting.variable == "DATABASE_URL"
        assert setting.help.endswith(".")



def test_the_environment_overrides_defaults_and_sqlite_lives_in_the_data_folder(tmp_path):
    config = settings.load({"MUNTADA_DATA_DIR": str(tmp_path), "MUNTADA_WORKERS": "7",
                            "MUNTADA_VALIDATE_FORMS": "no"})
    assert config["WORKERS"] == 7 and config["VALIDATE_FORMS"] is False
    assert config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'muntada.sqlite'}"
    # the secret is generated once and kept, so every worker signs with the same key
    assert config["SECRET_KEY"] == settings.load({"MUNTADA_DATA_DIR": str(tmp_path)})["SECRET_KEY"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_database_url_selects_postgresql(tmp_path):
    url = "postgresql+psycopg://postgres@127.0.0.1/muntada"
    assert settings.load({"MUNTADA_DATA_DIR": str(tmp_path),
                          "DATABASE_URL": url})["DATABASE_URL"] == url
