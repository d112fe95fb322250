"""ODK's encrypted submissions, read and decrypted as ODK Collect writes them.

Collect sends an envelope instead of the instance: the form's id and version, the instanceID, an
AES-256 key wrapped with the form's RSA public key (OAEP, SHA-256 for the digest and for MGF1),
the encrypted files in `media/file` and `encryptedXmlFile`, and a signature: the MD5 of a text
naming everything (form, version, wrapped key, instanceID, each file's plaintext MD5), encrypted
with the same public key. Each file is AES-256-CFB128 with PKCS#7 padding under an IV of its own,
derived from MD5(instanceID || key) by bumping one byte more for each file in the envelope's order
(media files, then the XML). The facts are Collect's `EncryptionUtils`, Briefcase's
`CipherFactory`/`SubmissionParser` and Central's `lib/util/crypto.js`.

The envelope is read by local names, as Central does: Collect's namespace, the spec's and none
are all met. Pure: the caller holds the files and the private key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from lxml import etree

from forms.xml import attribute, local_name
from sync.instance import InstanceError, InstanceIdentity, read_identity

NAMESPACE = "http://www.opendatakit.org/xforms/encrypted"  # Collect's; the spec shows another
OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
KEY_BYTES = 32
BLOCK = 16
ENC = ".enc"


class EncryptionError(ValueError):
    """An encrypted submission that cannot be read or decrypted; the message says why."""


class EnvelopeInvalid(EncryptionError):
    """The envelope lacks what decrypting needs, or holds what Collect never writes."""


class WrongKey(EncryptionError):
    """The submission's key was not wrapped for this private key (or was damaged)."""


class FileMissing(EncryptionError):
    def __init__(self, name: str):
        super().__init__(f"{name} is named by the envelope but was not received")
        self.name = name


class FileCorrupted(EncryptionError):
    def __init__(self, name: str, reason: str):
        super().__init__(f"{name} does not decrypt: {reason}")
        self.name = name


class Signature(StrEnum):
    VALID = "valid"
    INVALID = "invalid"  # something named in the envelope changed since the phone sealed it
    UNCHECKED = "unchecked"  # not every file was decrypted, so there was nothing to compare


@dataclass(frozen=True)
class Envelope:
    form_id: str
    version: str | None  # None when the root has no version (Collect then leaves it unsigned)
    instance_id: str
    base64_key: str  # as written: the signature covers this text
    media: tuple[str, ...]  # `.enc` names, in the order of their IVs
    xml_file: str
    base64_signature: str | None

    @property
    def files(self) -> tuple[str, ...]:
        """Every `.enc` file, in IV order: the media, then the XML (Central's `index`)."""
        return (*self.media, self.xml_file)


def is_envelope(root: etree._Element) -> bool:
    """An encrypted submission: says so on its root, or carries a wrapped key under it."""
    if (root.get("encrypted") or "").strip().lower() in ("yes", "true"):
        return True
    return any(isinstance(child.tag, str) and child.tag.endswith("base64EncryptedKey")
               and local_name(child) == "base64EncryptedKey" for child in root)


def envelope_files(root: etree._Element) -> list[str]:
    """The file names an envelope gives, media first and the XML last, without judging them:
    what a server should expect to receive with it (read_envelope judges)."""
    media, xml = _named_files(root)
    names: list[str] = []
    for name in (*media, *xml):
        if name and name not in names:
            names.append(name)
    return names


def read_envelope(xml: bytes) -> Envelope:
    try:
        identity, root = read_identity(xml)
    except InstanceError as error:
        raise EnvelopeInvalid(str(error)) from error
    return envelope_of(identity, root)


def envelope_of(identity: InstanceIdentity, root: etree._Element) -> Envelope:
    """The envelope of a submission already read (sync.instance.read_identity)."""
    if not is_envelope(root):
        raise EnvelopeInvalid("not an encrypted submission: no encrypted='yes', no "
                              "base64EncryptedKey")
    if not identity.has_instance_id:
        raise EnvelopeInvalid("no meta/instanceID: without it the files' IVs cannot be derived")
    key = _child_text(root, "base64EncryptedKey")
    if not key:
        raise EnvelopeInvalid("no base64EncryptedKey")
    _decode(key, "base64EncryptedKey")
    media, xml_files = _named_files(root)
    if len(xml_files) != 1 or not xml_files[0]:
        raise EnvelopeInvalid("an envelope names exactly one encryptedXmlFile")
    files = (*media, xml_files[0])
    for name in files:
        if not name.endswith(ENC) or len(name) == len(ENC):
            raise EnvelopeInvalid(f"file {name!r} is not an .enc name")
    if len(set(files)) != len(files):
        raise EnvelopeInvalid("the envelope names a file twice")
    signature = _child_text(root, "base64EncryptedElementSignature") or None
    if signature is not None:
        _decode(signature, "base64EncryptedElementSignature")
    return Envelope(form_id=identity.form_id, version=attribute(root, "version"),
                    instance_id=identity.instance_id, base64_key=key, media=tuple(media),
                    xml_file=xml_files[0], base64_signature=signature)


def _named_files(root: etree._Element) -> tuple[list[str], list[str]]:
    """`media/file` texts and `encryptedXmlFile` texts, directly under the root as Collect and
    Central put them, in document order."""
    media: list[str] = []
    xml: list[str] = []
    for child in root:
        if not isinstance(child.tag, str):
            continue
        name = local_name(child)
        if name == "media":
            media += [(f.text or "").strip() for f in child
                      if isinstance(f.tag, str) and local_name(f) == "file"]
        elif name == "encryptedXmlFile":
            xml.append((child.text or "").strip())
    return media, xml


def _child_text(root: etree._Element, name: str) -> str:
    for child in root:
        if isinstance(child.tag, str) and local_name(child) == name:
            return "".join((child.text or "").split())  # a wrapped base64 reads the same
    return ""


def _decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise EnvelopeInvalid(f"{what} is not base64") from None


# ------------------------------------------------------------------------------ the key, the IVs

def unwrap_key(envelope: Envelope, private_key: rsa.RSAPrivateKey) -> bytes:
    """The submission's AES key: one RSA private operation."""
    try:
        key = private_key.decrypt(_decode(envelope.base64_key, "base64EncryptedKey"), OAEP)
    except ValueError:
        raise WrongKey("the submission's key does not open with this private key: it was "
                       "encrypted for another key, or damaged") from None
    if len(key) != KEY_BYTES:
        raise WrongKey(f"the submission's key is {len(key)} bytes, not {KEY_BYTES}")
    return key


def file_ivs(instance_id: str, key: bytes, count: int) -> list[bytes]:
    """The IV of each file in envelope order. Collect adds 1 (mod 256) to byte `i % 16` before
    file i, and the additions stay: file 1 has bytes 0 and 1 bumped, file 16 byte 0 twice."""
    seed = bytearray(hashlib.md5(instance_id.encode("utf-8") + key,
                                 usedforsecurity=False).digest())
    ivs = []
    for index in range(count):
        seed[index % BLOCK] = (seed[index % BLOCK] + 1) & 0xFF
        ivs.append(bytes(seed))
    return ivs


# ------------------------------------------------------------------------------ decrypting

class OpenedSubmission:
    """One submission's key unwrapped: its files decrypt by name, in any order, each once or
    more; the plaintext MD5s are kept so the signature can be checked once all are done."""

    def __init__(self, envelope: Envelope, private_key: rsa.RSAPrivateKey):
        self.envelope = envelope
        self._private_key = private_key
        self._key = unwrap_key(envelope, private_key)
        self._ivs = dict(zip(envelope.files, file_ivs(envelope.instance_id, self._key,
                                                      len(envelope.files)), strict=True))
        self.md5s: dict[str, str] = {}  # .enc name -> hex MD5 of its plaintext

    def decrypt(self, name: str, data: bytes) -> bytes:
        """A whole file at once: the submission's XML (small)."""
        if not data or len(data) % BLOCK:
            raise FileCorrupted(name, f"{len(data)} bytes is not a whole number of "
                                      f"{BLOCK}-byte blocks (cut short?)")
        decryptor = self._cipher(name).decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        plain = plain[:-_padding_length(name, plain[-BLOCK:])]
        self.md5s[name] = hashlib.md5(plain, usedforsecurity=False).hexdigest()
        return plain

    def decrypt_chunks(self, name: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """A file as it is read (a large photo): plaintext chunk by chunk. The last block is held
        back until the end, where the padding is checked; if FileCorrupted is raised there,
        whatever was yielded before must be thrown away."""
        decryptor = self._cipher(name).decryptor()
        digest = hashlib.md5(usedforsecurity=False)
        held, size = b"", 0
        for chunk in chunks:
            size += len(chunk)
            plain = held + decryptor.update(chunk)
            cut = max(0, len(plain) - BLOCK)  # the padding can only be in the last block
            held = plain[cut:]
            if cut:
                digest.update(plain[:cut])
                yield plain[:cut]
        if not size or size % BLOCK:
            raise FileCorrupted(name, f"{size} bytes is not a whole number of {BLOCK}-byte "
                                      f"blocks (cut short?)")
        held += decryptor.finalize()
        last = held[:-_padding_length(name, held)]
        digest.update(last)
        self.md5s[name] = digest.hexdigest()
        if last:
            yield last

    def signature(self) -> Signature:
        """As Briefcase checks it: the MD5 of the signed text against the decrypted signature.
        Another RSA operation; UNCHECKED until every file has been decrypted."""
        if any(name not in self.md5s for name in self.envelope.files):
            return Signature.UNCHECKED
        return verify_signature(self.envelope, self._private_key, self.md5s)

    def _cipher(self, name: str) -> Cipher:
        iv = self._ivs.get(name)
        if iv is None:
            raise EnvelopeInvalid(f"{name} is not named by the envelope")
        return Cipher(algorithms.AES256(self._key), modes.CFB(iv))


def _padding_length(name: str, last_block: bytes) -> int:
    """PKCS#7, checked fully: a wrong key, IV or a damaged last block shows here."""
    count = last_block[-1]
    if not 1 <= count <= BLOCK or last_block[-count:] != bytes([count]) * count:
        raise FileCorrupted(name, "its padding is wrong (damaged, or not this submission's "
                                  "file)")
    return count


def signature_text(envelope: Envelope, md5s: Mapping[str, str]) -> str:
    """What Collect signs, a line each: form id, version (when there is one), the wrapped key as
    written, the instanceID, then `<plaintext name>::<md5 hex>` for each file in IV order."""
    lines = [envelope.form_id]
    if envelope.version is not None:
        lines.append(envelope.version)
    lines += [envelope.base64_key, envelope.instance_id]
    lines += [f"{name[:-len(ENC)]}::{md5s[name]}" for name in envelope.files]
    return "".join(f"{line}\n" for line in lines)


def verify_signature(envelope: Envelope, private_key: rsa.RSAPrivateKey,
                     md5s: Mapping[str, str]) -> Signature:
    """VALID or INVALID (never an error): a missing or undecryptable signature is INVALID."""
    if envelope.base64_signature is None:
        return Signature.INVALID
    try:
        signed = private_key.decrypt(base64.b64decode(envelope.base64_signature), OAEP)
    except ValueError:
        return Signature.INVALID
    expected = hashlib.md5(signature_text(envelope, md5s).encode("utf-8"),
                           usedforsecurity=False).digest()
    return Signature.VALID if hmac.compare_digest(signed, expected) else Signature.INVALID


@dataclass(frozen=True)
class Decrypted:
    xml: bytes
    media: dict[str, bytes]  # plaintext name (without .enc) -> content; empty when left encrypted
    signature: Signature


def decrypt_submission(envelope: Envelope, private_key: rsa.RSAPrivateKey,
                       files: Mapping[str, bytes], *, media: bool = True) -> Decrypted:
    """The whole submission from its `.enc` files (name -> bytes). With `media=False` only the
    XML is decrypted (one RSA operation, an export's case) and the signature stays UNCHECKED."""
    for name in envelope.files if media else (envelope.xml_file,):
        if name not in files:
            raise FileMissing(name)
    opened = OpenedSubmission(envelope, private_key)
    plain_media = {name[:-len(ENC)]: opened.decrypt(name, files[name])
                   for name in (envelope.media if media else ())}
    xml = opened.decrypt(envelope.xml_file, files[envelope.xml_file])
    return Decrypted(xml, plain_media, opened.signature())
