"""ODK Collect's encryption of a finalised instance, written again from its facts, to make test
vectors: the envelope (`submission.xml`) and the `.enc` files, as Collect's `EncryptionUtils`
makes them (getodk/collect, collect_app/.../utilities/EncryptionUtils.java).

- a fresh 32-byte AES key, wrapped with RSA-OAEP (SHA-256, MGF1 SHA-256), base64 on one line;
- IV seed MD5(instanceID UTF-8 || key); before each file one more byte is bumped (byte
  `counter % 16`, the bumps adding up);
- the media files first, in the order the folder listed them, then `submission.xml` last; each
  AES-256-CFB (128-bit feedback) with PKCS#5 padding, named `<name>.enc`;
- the signature text: form id, version (only when the form has one), the base64 key, the
  instanceID, then `name::md5hex` for each plaintext file in that order, each line ending in a
  newline; its MD5 is encrypted like the key;
- the envelope as kXML serialises it: no XML declaration (Collect writes the document's
  children only), the encrypted namespace as default, `orx:meta`, a newline after the meta and
  after each `media`.

Independent of sync.encryption on purpose: tests decrypt what this wrote.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import padding as symmetric_padding
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from lxml import etree

SUBMISSION = "submission.xml"
_OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


@dataclass(frozen=True)
class Encrypted:
    envelope: bytes  # what Collect sends as xml_submission_file
    files: dict[str, bytes]  # `.enc` name -> ciphertext, in encryption order
    key: bytes  # the AES key, for tests that check the derivation
    signature_text: str


def encrypt_instance(xml: bytes, media: dict[str, bytes], public_key: rsa.RSAPublicKey, *,
                     form_id: str | None = None, version: str | None = "",
                     key: bytes | None = None) -> Encrypted:
    """`media` in the order the phone's folder lists them. The form id and version default to
    the instance's root (version "" means: read it; None: the form has none)."""
    root = etree.fromstring(xml)
    form_id = form_id if form_id is not None else root.get("id")
    if version == "":
        version = root.get("version")
    instance_id = next(e.text for e in root.iter("{*}instanceID"))
    key = key if key is not None else os.urandom(32)
    base64_key = base64.b64encode(public_key.encrypt(key, _OAEP)).decode()
    seed = bytearray(hashlib.md5(instance_id.encode("utf-8") + key).digest())
    lines = [form_id, *([version] if version is not None else []), base64_key, instance_id]
    files = {}
    for counter, (name, plain) in enumerate([*media.items(), (SUBMISSION, xml)]):
        seed[counter % 16] = (seed[counter % 16] + 1) % 256
        padder = symmetric_padding.PKCS7(128).padder()
        encryptor = Cipher(algorithms.AES(key), modes.CFB(bytes(seed))).encryptor()
        files[f"{name}.enc"] = encryptor.update(padder.update(plain) + padder.finalize()) \
            + encryptor.finalize()
        lines.append(f"{name}::{hashlib.md5(plain).hexdigest()}")
    text = "".join(f"{line}\n" for line in lines)
    signature = base64.b64encode(public_key.encrypt(
        hashlib.md5(text.encode("utf-8")).digest(), _OAEP)).decode()
    version_attribute = f" version={quoteattr(version)}" if version is not None else ""
    envelope = (
        f'<data xmlns="http://www.opendatakit.org/xforms/encrypted" id={quoteattr(form_id)}'
        f'{version_attribute} encrypted="yes"><base64EncryptedKey>{base64_key}'
        f'</base64EncryptedKey><orx:meta xmlns:orx="http://openrosa.org/xforms"><orx:instanceID>'
        f"{escape(instance_id)}</orx:instanceID></orx:meta>\n"
        + "".join(f"<media><file>{escape(name)}.enc</file></media>\n" for name in media)
        + f"<encryptedXmlFile>{SUBMISSION}.enc</encryptedXmlFile>"
          f"<base64EncryptedElementSignature>{signature}</base64EncryptedElementSignature></data>")
    return Encrypted(envelope.encode("utf-8"), files, key, text)
