"""Bundles on a USB stick: written whole and signed, read only when every part checks out."""

from __future__ import annotations

import hashlib
import json
import zipfile

import pytest

from sync import bundles
from sync.bundles import BundleInvalid


@pytest.fixture
def key():
    return bundles.new_private_key()


@pytest.fixture
def written(tmp_path, key):
    photo = tmp_path / "photo"
    photo.write_bytes(b"\xff\xd8" + bytes(range(256)) * 40)
    sha = hashlib.sha256(photo.read_bytes()).hexdigest()
    path = tmp_path / "office.zip"
    items = [{"seq": 4, "kind": "submission", "sha256": "0" * 64, "body": {}, "blobs": [sha]}]
    bundles.write(path, office="qayyarah", items=items, blobs={sha: photo}, private_key=key,
                  last_seq=7)
    return path, sha


def keys_of(key):
    public = bundles.public_key_of(key)
    return lambda office: public if office == "qayyarah" else None


def test_a_bundle_reads_back_as_written(written, key):
    path, sha = written
    bundle = bundles.read(path, keys_of(key))
    assert bundle.office == "qayyarah" and bundle.manifest["first_seq"] == 4
    assert bundle.manifest["last_seq"] == 7 and len(bundle.items) == 1
    assert [s for s, _f in bundle.blobs()] == [sha]
    assert not path.with_name(path.name + ".part").exists()


def rewrite(path, out, change):
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            name, data = change(info.filename, source.read(info))
            if name is not None:
                target.writestr(name, data)
    return out


@pytest.mark.parametrize("change, reason", [
    (lambda n, d: (n, d[:-1] + bytes([d[-1] ^ 1])) if n.startswith("blobs/") else (n, d),
     "SHA-256"),
    (lambda n, d: (n, d.replace(b'"qayyarah"', b'"qayyarah"', 1).replace(b'"seq":4', b'"seq":5'))
     if n == "manifest.json" else (n, d), "signature"),
    (lambda n, d: (None, d) if n == "signature" else (n, d), "missing"),
    (lambda n, d: ("../evil" if n.startswith("blobs/") else n, d), "never holds"),
])
def test_a_changed_bundle_is_refused(written, key, tmp_path, change, reason):
    path, _sha = written
    with pytest.raises(BundleInvalid, match=reason):
        bundles.read(rewrite(path, tmp_path / "changed.zip", change), keys_of(key))


def test_a_bundle_signed_by_another_key_or_of_an_unknown_office_is_refused(written):
    path, _sha = written
    with pytest.raises(BundleInvalid, match="signature"):
        bundles.read(path, keys_of(bundles.new_private_key()))
    with pytest.raises(BundleInvalid, match="no field office"):
        bundles.read(path, lambda office: None)


def test_a_file_that_is_not_a_bundle_is_refused(tmp_path, key):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    with pytest.raises(BundleInvalid, match="not a bundle"):
        bundles.read(junk, keys_of(key))
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("manifest.json", json.dumps({"format": "something"}))
        archive.writestr("signature", "00")
    with pytest.raises(BundleInvalid, match="not a field office"):
        bundles.read(other, keys_of(key))
