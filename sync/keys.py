"""Key pairs for encrypted forms: the public half goes into the form (`public_key` in the
XLSForm settings, as Collect reads it), the private half is kept only sealed with a passphrase.

Sealing: Argon2id (argon2-cffi, RFC 9106's low-memory profile: 3 passes over 64 MiB, 4 lanes)
turns the passphrase and a random salt into an AES-256-GCM key; the nonce is random. The sealed
key is JSON that names its format version, the KDF and its parameters, the salt and nonce, and
the public key; all of that is the cipher's associated data, so none of it can be changed without
the unsealing failing. Parameters may change later: a sealed key carries the ones it was made
with. The passphrase is normalised (Unicode NFC) so that the same words typed on another keyboard
open the key; it is never logged nor put in any message. Lost passphrase, lost data: nothing here
can open a sealed key without it.

Pure (no server): the server stores the JSON and keeps an unsealed key only in memory.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import unicodedata
from dataclasses import asdict, dataclass

from argon2 import Type
from argon2.exceptions import HashingError
from argon2.low_level import hash_secret_raw
from argon2.profiles import RFC_9106_LOW_MEMORY
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT = "muntada-sealed-key"
FORMAT_VERSION = 1
KEY_BITS = 2048  # what Collect, Central and Briefcase all handle
MIN_PASSPHRASE = 12  # characters; a short one falls to guessing however slow the KDF is
_SALT, _NONCE = 16, 12
# time_cost, memory (KiB), lanes: a sealed key asking for more is refused before any work
_LIMITS = (64, 1 << 20, 64)


class KeyProblem(ValueError):
    """A key that cannot be made, read or opened; the message never holds the passphrase."""


class WrongPassphrase(KeyProblem):
    pass


class SealedKeyInvalid(KeyProblem):
    """Not a sealed key this code reads, or one that was damaged."""


class PassphraseTooShort(KeyProblem):
    pass


@dataclass(frozen=True)
class Argon2idCost:
    time_cost: int = RFC_9106_LOW_MEMORY.time_cost
    memory_kib: int = RFC_9106_LOW_MEMORY.memory_cost
    parallelism: int = RFC_9106_LOW_MEMORY.parallelism


DEFAULT_COST = Argon2idCost()


@dataclass(frozen=True)
class KeyPair:
    public_key: str  # the XLSForm `public_key` setting
    sealed: bytes  # JSON, to store


def create_key_pair(passphrase: str, *, cost: Argon2idCost = DEFAULT_COST) -> KeyPair:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    return KeyPair(public_key_setting(private_key.public_key()),
                   seal(private_key, passphrase, cost=cost))


def public_key_setting(public_key: rsa.RSAPublicKey) -> str:
    """Base64 of the DER SubjectPublicKeyInfo, one line, no PEM armour: what Collect decodes
    with X509EncodedKeySpec."""
    return base64.b64encode(public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()


def load_public_key(setting: str) -> rsa.RSAPublicKey:
    """The form's `public_key` setting as a key; PEM armour and line breaks are tolerated."""
    body = "".join(line for line in setting.strip().splitlines() if not line.startswith("-----"))
    try:
        key = serialization.load_der_public_key(base64.b64decode("".join(body.split()),
                                                                 validate=True))
    except (ValueError, binascii.Error):
        raise KeyProblem("not a base64 DER RSA public key (SubjectPublicKeyInfo)") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyProblem("the public key is not an RSA key")
    return key


def seal(private_key: rsa.RSAPrivateKey, passphrase: str, *,
         cost: Argon2idCost = DEFAULT_COST) -> bytes:
    if not isinstance(passphrase, str) or \
            len(unicodedata.normalize("NFC", passphrase).strip()) < MIN_PASSPHRASE:
        raise PassphraseTooShort(f"a passphrase needs at least {MIN_PASSPHRASE} characters")
    secret = _passphrase_bytes(passphrase)
    salt, nonce = os.urandom(_SALT), os.urandom(_NONCE)
    header = {
        "format": FORMAT, "version": FORMAT_VERSION,
        "kdf": {"name": "argon2id", **asdict(cost), "salt": _b64(salt)},
        "cipher": {"name": "aes-256-gcm", "nonce": _b64(nonce)},
        "public_key": public_key_setting(private_key.public_key()),
    }
    plain = private_key.private_bytes(serialization.Encoding.DER,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())
    sealed = AESGCM(_derive(secret, salt, cost)).encrypt(nonce, plain, _associated(header))
    return json.dumps({**header, "ciphertext": _b64(sealed)}, indent=1).encode()


def unseal(sealed: bytes, passphrase: str) -> rsa.RSAPrivateKey:
    header, ciphertext = _read(sealed)
    kdf = header["kdf"]
    cost = Argon2idCost(kdf["time_cost"], kdf["memory_kib"], kdf["parallelism"])
    key = _derive(_passphrase_bytes(passphrase), _unb64(kdf["salt"]), cost)
    try:
        plain = AESGCM(key).decrypt(_unb64(header["cipher"]["nonce"]), ciphertext,
                                    _associated(header))
    except InvalidTag:
        raise WrongPassphrase("the passphrase does not open this key (or the sealed key was "
                              "changed)") from None
    try:
        private_key = serialization.load_der_private_key(plain, password=None)
    except ValueError:
        raise SealedKeyInvalid("the sealed key holds no private key") from None
    if not isinstance(private_key, rsa.RSAPrivateKey) or \
            public_key_setting(private_key.public_key()) != header["public_key"]:
        raise SealedKeyInvalid("the sealed key does not match its public key")
    return private_key


def sealed_public_key(sealed: bytes) -> str:
    """The public key a sealed key belongs to, without the passphrase."""
    return _read(sealed)[0]["public_key"]


def _read(sealed: bytes) -> tuple[dict, bytes]:
    try:
        document = json.loads(sealed)
        header = {name: document[name] for name in
                  ("format", "version", "kdf", "cipher", "public_key")}
        ciphertext = _unb64(document["ciphertext"])
        kdf, cipher = header["kdf"], header["cipher"]
        parameters = [kdf["time_cost"], kdf["memory_kib"], kdf["parallelism"]]
        _unb64(kdf["salt"]), _unb64(cipher["nonce"])
        names = (kdf["name"], cipher["name"])
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise SealedKeyInvalid("not a sealed key (damaged, or another file)") from None
    if header["format"] != FORMAT or header["version"] != FORMAT_VERSION:
        raise SealedKeyInvalid(f"a sealed key of format {header['format']!r} version "
                               f"{header['version']!r}; this version reads {FORMAT} "
                               f"{FORMAT_VERSION}")
    if names != ("argon2id", "aes-256-gcm"):
        raise SealedKeyInvalid("a sealed key with a KDF or cipher this version does not know")
    if not all(isinstance(n, int) and 0 < n <= limit for n, limit in zip(parameters, _LIMITS,
                                                                          strict=True)):
        raise SealedKeyInvalid("the sealed key's KDF parameters are out of range")
    return header, ciphertext


def _derive(secret: bytes, salt: bytes, cost: Argon2idCost) -> bytes:
    try:
        return hash_secret_raw(secret, salt, time_cost=cost.time_cost,
                               memory_cost=cost.memory_kib, parallelism=cost.parallelism,
                               hash_len=32, type=Type.ID)
    except HashingError:
        raise SealedKeyInvalid("the sealed key's KDF parameters cannot be used") from None


def _passphrase_bytes(passphrase: str) -> bytes:
    if not isinstance(passphrase, str) or not passphrase:
        raise WrongPassphrase("a passphrase is needed")
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def _associated(header: dict) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)
