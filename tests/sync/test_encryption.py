"""Encrypted submissions as ODK Collect makes them (tests.support.collect_encryption), read and
decrypted: the programme's three forms with photos, the IVs, and every way a submission can be
damaged, swapped or meant for another key."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from forms.rendering import XLSFORMS_DIR
from forms.xml import parse_xml
from sync import tables
from sync.encryption import (
    FileCorrupted,
    FileMissing,
    OpenedSubmission,
    Signature,
    WrongKey,
    decrypt_submission,
    file_ivs,
    read_envelope,
    signature_text,
)
from sync.normalise import normalise
from tests.support.cases import programme_referral
from tests.support.collect_encryption import encrypt_instance
from tests.support.compiled import compile_once
from tests.support.instances import instance, new_id
from tests.support.programme_meetings import forum_meeting, jpeg
from tests.support.training import training_attendance


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def another_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def photos(*names: str) -> dict[str, bytes]:
    colours = ("red", "green", "blue", "white", "black")
    return {name: jpeg(colours[n % len(colours)], (320 + n, 240)) for n, name in enumerate(names)}


def meeting_with_photos() -> tuple[bytes, dict[str, bytes]]:
    media = photos("1764662400000.jpg", "1764662460000.jpg")
    return forum_meeting(photos=tuple(media)), media


PROGRAMME = {
    "forum_meeting": meeting_with_photos,
    "incident_referral": lambda: (programme_referral(new_id()), photos("1764662400001.jpg")),
    "training_attendance": lambda: (training_attendance(), photos("1764662400002.jpg",
                                                                  "1764662400003.jpg")),
}


@pytest.mark.parametrize("form", PROGRAMME)
def test_each_programme_form_with_photos_decrypts_to_what_the_phone_filled(form, private_key):
    xml, media = PROGRAMME[form]()
    sent = encrypt_instance(xml, media, private_key.public_key())

    envelope = read_envelope(sent.envelope)
    decrypted = decrypt_submission(envelope, private_key, sent.files)

    assert envelope.form_id == form and envelope.version == parse_xml(xml).get("version")
    assert envelope.media == tuple(f"{name}.enc" for name in media)
    assert decrypted.xml == xml
    assert decrypted.media == media
    assert decrypted.signature is Signature.VALID
    assert all(plain not in b"".join(sent.files.values()) for plain in (xml, *media.values()))
    workbook = XLSFORMS_DIR / f"{form}.xlsx"
    plan = tables.plan(compile_once(workbook.read_bytes(), filename=workbook.name).structure)
    rows = normalise(plan, parse_xml(decrypted.xml), envelope.instance_id)
    assert rows.issues == [] and len(rows.tables[""][0]) > 10  # the form's answers, typed


def test_an_export_decrypts_the_xml_alone_and_leaves_the_photos_sealed(private_key):
    xml, media = meeting_with_photos()
    sent = encrypt_instance(xml, media, private_key.public_key())
    xml_only = {"submission.xml.enc": sent.files["submission.xml.enc"]}

    decrypted = decrypt_submission(read_envelope(sent.envelope), private_key, xml_only,
                                   media=False)

    assert decrypted.xml == xml and decrypted.media == {}
    assert decrypted.signature is Signature.UNCHECKED  # the photos' MD5s are not known


def test_a_large_photo_decrypts_in_chunks_and_still_signs_valid(private_key):
    big = bytes(range(256)) * 4099 + b"tail"  # ~1 MB, not a multiple of the block size
    xml = forum_meeting(photos=("big.jpg",))
    sent = encrypt_instance(xml, {"big.jpg": big}, private_key.public_key())
    opened = OpenedSubmission(read_envelope(sent.envelope), private_key)
    ciphertext = sent.files["big.jpg.enc"]

    chunks = [ciphertext[i:i + 1000] for i in range(0, len(ciphertext), 1000)]
    streamed = b"".join(opened.decrypt_chunks("big.jpg.enc", chunks))
    assert opened.signature() is Signature.UNCHECKED  # the XML is not decrypted yet
    opened.decrypt("submission.xml.enc", sent.files["submission.xml.enc"])

    assert streamed == big
    assert opened.signature() is Signature.VALID


# ------------------------------------------------------------------------------------- the IVs

def test_the_ivs_bump_one_more_byte_per_file_and_come_round_to_byte_0_after_16():
    key, instance_id = bytes(range(32)), "uuid:6b1f3e1c-2f44-4c2b-9a43-0d6f0c5d9c11"
    seed = hashlib.md5(instance_id.encode() + key).digest()

    ivs = file_ivs(instance_id, key, 35)

    # file n has had byte j bumped once for each i <= n with i % 16 == j
    for n, iv in enumerate(ivs):
        bumps = [0 if j > n else (n - j) // 16 + 1 for j in range(16)]
        assert iv == bytes((seed[j] + bumps[j]) % 256 for j in range(16)), n
    assert ivs[16][0] == (seed[0] + 2) % 256 and ivs[32][0] == (seed[0] + 3) % 256
    assert ivs[16][1] == (seed[1] + 1) % 256


def test_nineteen_files_round_trip_and_the_seventeenth_opens_with_its_own_iv(private_key):
    media = {f"{1764662400000 + n}.jpg": f"photo {n} ".encode() * (n + 1) for n in range(18)}
    xml = instance("photos", "1", "".join(f"<p{n}>{name}</p{n}>" for n, name in
                                          enumerate(media)))
    sent = encrypt_instance(xml, media, private_key.public_key())
    envelope = read_envelope(sent.envelope)

    decrypted = decrypt_submission(envelope, private_key, sent.files)

    assert decrypted.media == media and decrypted.signature is Signature.VALID
    seed = bytearray(hashlib.md5(envelope.instance_id.encode() + sent.key).digest())
    for j in range(16):
        seed[j] = (seed[j] + 1) % 256
    seed[0] = (seed[0] + 1) % 256  # file 16 (the seventeenth): byte 0 bumped a second time
    name = list(media)[16]
    decryptor = Cipher(algorithms.AES(sent.key), modes.CFB(bytes(seed))).decryptor()
    plain = decryptor.update(sent.files[f"{name}.enc"]) + decryptor.finalize()
    assert plain[:-plain[-1]] == media[name]


# ---------------------------------------------------------------------------- damaged, swapped

@pytest.fixture
def meeting():
    return meeting_with_photos()


@pytest.fixture
def sent(meeting, private_key):
    return encrypt_instance(*meeting, private_key.public_key())


def changed(files: dict[str, bytes], name: str, data: bytes) -> dict[str, bytes]:
    return {**files, name: data}


def test_a_byte_changed_inside_a_photo_decrypts_but_the_signature_says_invalid(meeting, sent,
                                                                               private_key):
    photo = "1764662400000.jpg.enc"
    data = bytearray(sent.files[photo])
    data[100] ^= 0x01

    decrypted = decrypt_submission(read_envelope(sent.envelope), private_key,
                                   changed(sent.files, photo, bytes(data)))

    assert decrypted.signature is Signature.INVALID
    assert decrypted.media["1764662400000.jpg"] != meeting[1]["1764662400000.jpg"]
    assert decrypted.xml == meeting[0]


def test_a_damaged_last_block_is_a_corrupted_file_named_in_the_error(sent, private_key):
    data = bytearray(sent.files["submission.xml.enc"])
    data[-1] ^= 0x80  # the padding's count can no longer be 1 to 16

    with pytest.raises(FileCorrupted, match="submission.xml.enc does not decrypt: its padding"):
        decrypt_submission(read_envelope(sent.envelope), private_key,
                           changed(sent.files, "submission.xml.enc", bytes(data)))


@pytest.mark.parametrize("cut", [1, 5, 16])
def test_a_file_cut_short_is_corrupted(sent, private_key, cut):
    short = sent.files["submission.xml.enc"][:-cut]

    with pytest.raises(FileCorrupted) as raised:
        decrypt_submission(read_envelope(sent.envelope), private_key,
                           changed(sent.files, "submission.xml.enc", short))
    assert raised.value.name == "submission.xml.enc"


def test_an_empty_file_and_a_photo_cut_short_while_streaming_are_corrupted(sent, private_key):
    opened = OpenedSubmission(read_envelope(sent.envelope), private_key)
    with pytest.raises(FileCorrupted, match="0 bytes"):
        opened.decrypt("submission.xml.enc", b"")
    photo = sent.files["1764662400000.jpg.enc"][:-3]
    with pytest.raises(FileCorrupted, match="cut short"):
        b"".join(opened.decrypt_chunks("1764662400000.jpg.enc", [photo[:999], photo[999:]]))


def test_swapped_photos_decrypt_to_the_wrong_pictures_and_the_signature_says_so(
        meeting, sent, private_key):
    first, second = "1764662400000.jpg.enc", "1764662460000.jpg.enc"
    swapped = {**sent.files, first: sent.files[second], second: sent.files[first]}

    decrypted = decrypt_submission(read_envelope(sent.envelope), private_key, swapped)

    assert decrypted.signature is Signature.INVALID
    # CFB: a wrong IV garbles the first block only, so this is the other photo, mangled
    other, got = meeting[1]["1764662460000.jpg"], decrypted.media["1764662400000.jpg"]
    assert got[16:] == other[16:] and got[:16] != other[:16]


def test_another_private_key_is_a_wrong_key_and_the_message_holds_no_key(sent, another_key):
    envelope = read_envelope(sent.envelope)

    with pytest.raises(WrongKey) as raised:
        decrypt_submission(envelope, another_key, sent.files)
    assert envelope.base64_key not in str(raised.value)
    assert "another key" in str(raised.value)


def test_a_missing_photo_is_named(sent, private_key):
    files = dict(sent.files)
    del files["1764662460000.jpg.enc"]

    with pytest.raises(FileMissing, match="1764662460000.jpg.enc is named by the envelope"):
        decrypt_submission(read_envelope(sent.envelope), private_key, files)


@pytest.mark.parametrize("change", [
    (b'version="2026120201"', b'version="2026120202"'),  # another version claimed
    (b'id="forum_meeting"', b'id="incident_referral"'),  # another form claimed
    (b"<media><file>1764662460000.jpg.enc</file></media>\n", b""),  # a photo left out
])
def test_an_envelope_changed_after_the_phone_signed_it_is_invalid(sent, private_key, change):
    envelope = read_envelope(sent.envelope.replace(*change))
    assert envelope != read_envelope(sent.envelope)

    decrypted = decrypt_submission(envelope, private_key, sent.files)

    assert decrypted.signature is Signature.INVALID


def test_a_missing_or_foreign_signature_is_invalid_never_an_error(sent, private_key, another_key):
    text = sent.envelope.decode()
    signature = text.split("<base64EncryptedElementSignature>")[1].split("<")[0]
    foreign = encrypt_instance(*meeting_with_photos(), another_key.public_key())
    foreign_signature = foreign.envelope.decode().split(
        "<base64EncryptedElementSignature>")[1].split("<")[0]

    for xml in (text.replace(signature, ""), text.replace(signature, foreign_signature),
                text.replace(signature, "AAAA")):
        decrypted = decrypt_submission(read_envelope(xml.encode()), private_key, sent.files)
        assert decrypted.signature is Signature.INVALID and decrypted.xml


def test_the_signed_text_is_collects(sent):
    envelope = read_envelope(sent.envelope)
    md5s = {line.split("::")[0] + ".enc": line.split("::")[1]
            for line in sent.signature_text.splitlines() if "::" in line}

    assert signature_text(envelope, md5s) == sent.signature_text
    assert sent.signature_text.splitlines()[:2] == ["forum_meeting", "2026120201"]
    assert sent.signature_text.splitlines()[-1].startswith("submission.xml::")


def test_a_form_without_a_version_signs_without_that_line(private_key):
    xml = instance("unversioned", "", "<a>1</a>").replace(b' version=""', b"")
    sent = encrypt_instance(xml, {}, private_key.public_key(), version=None)
    envelope = read_envelope(sent.envelope)

    decrypted = decrypt_submission(envelope, private_key, sent.files)

    assert envelope.version is None and b" version=" not in sent.envelope
    assert decrypted.xml == xml and decrypted.signature is Signature.VALID
