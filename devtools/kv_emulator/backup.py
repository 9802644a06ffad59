"""Secret backups: every version of one secret as the opaque blob backupSecret returns and restoreSecret takes.

Guess: Key Vault's blob is encrypted and only restorable in the same geography and subscription; ours is
base64url JSON (the state file's shape for one secret), restorable in any emulator. Clients never look inside.
"""

from __future__ import annotations

import base64
import binascii
import json

from devtools.kv_emulator.errors import BadParameter
from devtools.kv_emulator.storage import decode_secret, encode_secret
from devtools.kv_emulator.vault import Secret

_KIND = "certsync-kv-emulator-secret-backup/1"


def backup_blob(secret: Secret) -> str:
    """The base64url blob (no padding, as Key Vault's JSON carries it) of every version of secret."""
    document = {"kind": _KIND, "secret": {**encode_secret(secret), "deletedOn": None, "purgeOn": None}}
    raw = json.dumps(document, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def secret_from_blob(blob: object) -> Secret:
    """The secret a blob holds, active again; anything else is Key Vault's BadParameter."""
    if not isinstance(blob, str) or not blob:
        raise BadParameter("Property 'value' is required and must be a base64url string.")
    try:
        raw = base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))
        document = json.loads(raw.decode("utf-8"))
        if not isinstance(document, dict) or document.get("kind") != _KIND:
            raise ValueError("not a backup of this emulator")
        return decode_secret(document["secret"])
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise BadParameter.corrupt_backup() from None
