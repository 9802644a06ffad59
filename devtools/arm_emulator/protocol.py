"""Wire-level facts of Azure Resource Manager and the Web provider that the emulator reproduces.

Kept in one place so a change in real ARM behaviour is a one-line edit here.
"""

from __future__ import annotations

import re

# api-versions accepted per provider. The defaults of the pinned SDKs are the newest entries:
# azure-mgmt-web 11.0.1 sends 2025-05-01, azure-mgmt-resource 26.0.0 sends 2025-04-01.
WEB_API_VERSIONS: tuple[str, ...] = (
    "2022-03-01",
    "2022-09-01",
    "2023-01-01",
    "2023-12-01",
    "2024-04-01",
    "2024-11-01",
    "2025-03-01",
    "2025-05-01",
)
RESOURCES_API_VERSIONS: tuple[str, ...] = (
    "2021-04-01",
    "2022-09-01",
    "2023-07-01",
    "2024-03-01",
    "2024-07-01",
    "2024-11-01",
    "2025-03-01",
    "2025-04-01",
)
# azure-mgmt-dns 8.2.0 sends 2018-05-01 unless told otherwise.
DNS_API_VERSIONS: tuple[str, ...] = ("2016-04-01", "2018-05-01", "2023-07-01-preview")
KEY_VAULT_API_VERSIONS: tuple[str, ...] = ("2022-07-01", "2023-02-01", "2023-07-01", "2024-11-01", "2025-05-01")

# The subscription `make run` manages, and the vault ARM knows the local Key Vault emulator as.
LOCAL_SUBSCRIPTION_ID = "11111111-1111-1111-1111-111111111111"
LOCAL_VAULT_RESOURCE_GROUP = "certsync-local"
LOCAL_VAULT_NAME = "local"
VAULT_NAME = re.compile(r"^[a-zA-Z0-9-]{3,24}$")  # Key Vault names
LOCAL_LOCATION = "westeurope"

PFX_CONTENT_TYPE = "application/x-pkcs12"
DEFAULT_HOST_SUFFIX = "azurewebsites.net"

SUBSCRIPTION_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Guess: one rule for every name the emulator stores (ARM's are per type and not all documented).
RESOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._()-]{0,89}$")
# A relative DNS record name: labels may hold underscores (_acme-challenge), the first may be `*`.
_RECORD_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
RECORD_NAME = re.compile(rf"^(?=.{{1,253}}$)(\*|{_RECORD_LABEL})(\.{_RECORD_LABEL})*$")
HOST_NAME = re.compile(r"^(?=.{1,253}$)(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")

# Guess: the Web provider's real page size is not documented; small enough to page in tests.
DEFAULT_PAGE_SIZE = 50

# Guess: ARM's per-subscription hourly budgets as the headers used to show them.
READS_PER_HOUR = 12000
WRITES_PER_HOUR = 1200
DELETES_PER_HOUR = 15000

# Azure DNS limits: a TXT string is at most 255 characters; a zone holds at most 10,000 record sets.
MAX_TXT_STRING = 255
MAX_RECORD_SETS_PER_ZONE = 10000

MAX_REQUEST_BODY_BYTES = 1024 * 1024
