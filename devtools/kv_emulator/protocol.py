"""Wire-level facts of the Key Vault Secrets API that the emulator reproduces.

Kept in one place so a change in real Key Vault behaviour is a one-line edit here.
"""

from __future__ import annotations

import re

# The api-versions real Key Vault accepts that azure-keyvault-secrets 4.12 can send;
# older ones are refused so code pinned to them fails here as it would in production.
SUPPORTED_API_VERSIONS: tuple[str, ...] = ("7.4", "7.5", "7.6", "2025-07-01", "2026-04-01")
LATEST_API_VERSION = "2026-04-01"

# A made-up tenant: the SDK only parses it out of the challenge and hands it to the credential.
EMULATOR_TENANT_ID = "00000000-0000-4000-8000-00000000c0de"
CHALLENGE_AUTHORITY = f"https://login.microsoftonline.com/{EMULATOR_TENANT_ID}"
CHALLENGE_RESOURCE = "https://vault.azure.net"
CHALLENGE_HEADER = f'Bearer authorization="{CHALLENGE_AUTHORITY}", resource="{CHALLENGE_RESOURCE}"'

SECRET_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
SECRET_VERSION = re.compile(r"^[0-9a-f]{32}$")

# Real Key Vault counts the value in .NET string length (UTF-16 code units).
MAX_SECRET_VALUE_CHARS = 25600
MAX_CONTENT_TYPE_CHARS = 255
MAX_TAGS = 15

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 25

# A vault created today: soft delete on, purge allowed, 90 days retention.
RECOVERY_LEVEL = "Recoverable+Purgeable"
RECOVERABLE_DAYS = 90

# Request bodies above this are refused before parsing (real Key Vault's front end has a
# similar cap); the 25 KB value limit is checked separately with the real error.
MAX_REQUEST_BODY_BYTES = 1024 * 1024


def utf16_length(text: str) -> int:
    """Length as Key Vault's .NET service counts it: astral characters count twice."""
    return len(text.encode("utf-16-le")) // 2
