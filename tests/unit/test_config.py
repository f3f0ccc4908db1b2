from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from controller.config import load_settings


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("IRONBARK_PORT", "IRONBARK_REGION", "IRONBARK_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(data_dir=tmp_path)
    assert settings.port == 8773
    assert settings.zones == ["us-east-1a"]
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'ironbark.db'}"


def test_toml_then_env_then_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "ironbark.toml"
    config.write_text('port = 9001\nregion = "eu-west-9"\navailability_zones = ["a1", "b1"]\n'
                      'database_url = "postgresql://db/x"\n')
    monkeypatch.delenv("IRONBARK_DATABASE_URL", raising=False)
    monkeypatch.setenv("IRONBARK_PORT", "9002")
    settings = load_settings(config, data_dir=tmp_path)
    assert settings.port == 9002  # environment beats the file
    assert settings.region == "eu-west-9" and settings.zones == ["a1", "b1"]
    assert settings.effective_database_url == "postgresql://db/x"
    assert load_settings(config, data_dir=tmp_path, port=9003).port == 9003


def test_bad_values_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        load_settings(data_dir=tmp_path, port=70000)
    with pytest.raises(ValidationError):
        load_settings(data_dir=tmp_path, region="no spaces please")
    bad = tmp_path / "bad.toml"
    bad.write_text("unknown_setting = 1\n")
    with pytest.raises(ValidationError):
        load_settings(bad, data_dir=tmp_path)
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "missing.toml")


@pytest.mark.parametrize(("host", "url"), [
    ("127.0.0.1", "http://127.0.0.1:8773/"), ("0.0.0.0", "http://127.0.0.1:8773/"),
    ("::", "http://[::1]:8773/"), ("::1", "http://[::1]:8773/"),
    ("10.0.0.5", "http://10.0.0.5:8773/"), ("cloud.example", "http://cloud.example:8773/"),
])
def test_local_endpoint(tmp_path: Path, host: str, url: str) -> None:
    """Where the embedded node registers and image URLs point: never a wildcard address, and
    IPv6 in brackets (``http://:::8773/`` is no URL)."""
    assert load_settings(data_dir=tmp_path, host=host, port=8773).local_endpoint == url


def test_zone_subnets(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, availability_zones=["z-a", "z-b"],
                             private_subnet="10.9.0.0/24", zone_subnets={"z-b": "10.10.0.0/28"})
    assert settings.subnet_of("z-a") == "10.9.0.0/24"
    assert settings.subnet_of("z-b") == "10.10.0.0/28"
    for bad in ({"z-c": "10.10.0.0/28"}, {"z-b": "10.10.0.1/28"}, {"z-b": "10.10.0.0/31"},
                {"z-b": "fd00::/64"}, {"z-b": "nonsense"}):
        with pytest.raises(ValidationError):
            load_settings(data_dir=tmp_path, availability_zones=["z-a", "z-b"], zone_subnets=bad)
    with pytest.raises(ValidationError):
        load_settings(data_dir=tmp_path, private_subnet="10.9.0.7/24")
