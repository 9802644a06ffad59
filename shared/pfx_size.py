"""Will the certificate fit in Key Vault? Checked when it is requested, not after issuing it.

A Key Vault secret value holds at most 25,600 characters (25 KiB); the PFX is stored base64.
Many long hostnames with a large RSA key exceed that: issuing would succeed and the write
would be refused (400) every time. The bound below is an upper bound on the base64 PFX that
`shared.pki.to_pfx_base64` writes, from what is known at request time: the key type, the
hostnames and the issuer's declared largest chain. tests/unit/test_pfx_size.py checks it
against real PFX files.
"""
from __future__ import annotations

from collections.abc import Sequence

from shared.errors import BadRequest
from shared.pki import MAX_COMMON_NAME_LENGTH, KeyType

KEY_VAULT_SECRET_MAX_CHARS = 25_600

# PKCS#8 DER of the private key, rounded up (RSA: n, e, d, p, q, dp, dq, qinv).
_KEY_DER = {
    KeyType.RSA2048: 1_232,
    KeyType.RSA3072: 1_800,
    KeyType.RSA4096: 2_384,
    KeyType.EC256: 144,
    KeyType.EC384: 192,
}
# SubjectPublicKeyInfo DER in the leaf, rounded up.
_PUBLIC_KEY_DER = {
    KeyType.RSA2048: 300,
    KeyType.RSA3072: 430,
    KeyType.RSA4096: 560,
    KeyType.EC256: 96,
    KeyType.EC384: 128,
}
# Leaf fields besides the key, the names and the signature: version, serial, algorithms,
# validity, issuer name, basic constraints, key usages, key identifiers.
_LEAF_FIXED = 1_024
_SIGNATURE = 600  # an RSA-4096 issuer's signature with its wrapping; EC issuers sign shorter
_PER_SAN_NAME = 4  # DER tag and length of one dNSName
# PKCS#12 wrappers: safe contents, bags, localKeyId, the friendly name (a certificate name is
# at most 63 characters, twice in UTF-16), per bag and in all.
_PFX_FIXED = 1_024
_PER_BAG = 256


def pfx_base64_upper_bound(key_type: KeyType, hostnames: Sequence[str], max_chain_der_bytes: int) -> int:
    """Characters of the base64 PFX, at most, for this key type, these hostnames and chain."""
    common_name = len(hostnames[0]) if hostnames and len(hostnames[0]) <= MAX_COMMON_NAME_LENGTH else 0
    san = sum(len(name) + _PER_SAN_NAME for name in hostnames)
    leaf = _LEAF_FIXED + _PUBLIC_KEY_DER[key_type] + _SIGNATURE + common_name + san
    chain_bags = 3  # the chains issuers declare hold at most three certificates
    der = _KEY_DER[key_type] + leaf + max_chain_der_bytes + _PFX_FIXED + _PER_BAG * (2 + chain_bags)
    return 4 * -(-der // 3)


def check_fits_in_key_vault(key_type: KeyType, hostnames: Sequence[str], max_chain_der_bytes: int) -> None:
    """Refuse (400) a certificate whose PFX could exceed the Key Vault secret limit."""
    bound = pfx_base64_upper_bound(key_type, hostnames, max_chain_der_bytes)
    if bound > KEY_VAULT_SECRET_MAX_CHARS:
        raise BadRequest(
            f"with {len(hostnames)} hostname(s) totalling {sum(map(len, hostnames))} characters and key type "
            f"{KeyType(key_type).value}, the PFX could reach {bound} characters, over Key Vault's "
            f"{KEY_VAULT_SECRET_MAX_CHARS}-character secret limit; use fewer or shorter hostnames or an EC key",
            code="CertificateTooLarge",
        )
