"""Export: a certificate, its chain and (protected by the caller's password) its key, as a file
a person can take to another host; and where its Key Vault secret lives.

The stored secret is a password-less PFX (what App Service Key Vault references need). Whatever
leaves through here with the key is encrypted with the caller's password, which is used once and
never logged, stored or echoed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from shared.app_context import AppContext
from shared.errors import BadRequest, Conflict, NotFound
from shared.model import Certificate, OperationKind, validate_name
from shared.operations import finish_now, new_operation
from shared.pki import CertificateBundle, certificates_to_pem
from shared.secret_refs import certificate_at

MIN_PASSWORD_LENGTH = 12  # characters: what a person counts
# UTF-8 bytes: what the encryption takes. OpenSSL reads a PEM key's password into a 1,024-byte
# buffer with its NUL, so 1,023 is the most any tool opens; PFX gets the same rule so one
# password works for both formats.
MAX_PASSWORD_BYTES = 1023
# PBKDF2 rounds for the key bag and the certificate bag. .NET refuses a PFX whose iterations add
# up to more than 600,000 (two bags plus the MAC stay near 200,000), and imports stay quick.
KDF_ROUNDS = 100_000
# Key Vault secret versions are 32 hex digits; anything else cannot name one.
VERSION_PATTERN = re.compile(r"^[0-9a-fA-F]{32}$")
PORTAL_SECRET_LINK = "https://portal.azure.com/#@/asset/Microsoft_Azure_KeyVault/Secret/"
PUBLIC_CLOUD_VAULT_SUFFIX = ".vault.azure.net"


class ExportFormat(StrEnum):
    PFX = "pfx"
    PEM = "pem"


class Encryption(StrEnum):
    MODERN = "modern"  # PBES2: PBKDF2-SHA256 + AES-256-CBC, HMAC-SHA256 MAC
    LEGACY = "legacy"  # SHA-1 + 3DES, SHA-1 MAC: Windows Server 2016 and older, some App Service uploads


CONTENT_TYPES = {ExportFormat.PFX: "application/x-pkcs12", ExportFormat.PEM: "application/x-pem-file"}


@dataclass(frozen=True)
class ExportRequest:
    """What the caller asked for, as given; export_certificate validates it."""

    format: str
    password: str | None = field(default=None, repr=False)
    version: str | None = None  # None: the version certsync issued and recorded on the certificate
    encryption: str | None = None  # None: modern
    include_key: bool = True


@dataclass(frozen=True)
class ExportedFile:
    filename: str
    content_type: str
    content: bytes = field(repr=False)


@dataclass(frozen=True)
class SecretLocation:
    """Where a certificate's PFX lives in Key Vault, for people and tools that read it there."""

    secret_id: str  # versionless: follows the latest version
    version: str | None
    version_id: str | None
    portal_url: str | None
    vault_resource_id: str | None = None  # the vault's ARM id, when configured (KEY_VAULT_RESOURCE_ID[S])


# --- pure: bytes out -----------------------------------------------------------------------------

def export_pfx(bundle: CertificateBundle, password: str | None, legacy: bool, friendly_name: str) -> bytes:
    """PKCS#12 with the key, leaf and chain, encrypted with `password` (never without one)."""
    password = check_password(password)
    mac: hashes.HashAlgorithm
    if legacy:
        algorithm, mac = pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC, hashes.SHA1()  # asked for
    else:
        algorithm, mac = pkcs12.PBES.PBESv2SHA256AndAES256CBC, hashes.SHA256()
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(KDF_ROUNDS)
        .key_cert_algorithm(algorithm)
        .hmac_hash(mac)
        .build(password.encode("utf-8"))
    )
    return pkcs12.serialize_key_and_certificates(
        friendly_name.encode("utf-8"), bundle.private_key, bundle.certificate, list(bundle.chain) or None, encryption
    )


def export_pem(bundle: CertificateBundle, password: str | None, include_key: bool) -> bytes:
    """The chain leaf first, then (when asked for) the key as password-encrypted PKCS#8.

    Without the key the file holds nothing secret, so `password` is ignored.
    """
    chain = certificates_to_pem((bundle.certificate, *bundle.chain)).encode("ascii")
    if not include_key:
        return chain
    password = check_password(password)
    key = bundle.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password.encode("utf-8")),
    )
    return chain + key


def check_password(password: object) -> str:
    """Messages describe the rule, never the password."""
    if password is None or password == "":
        raise BadRequest("a password is required whenever the private key is exported", code="PasswordRequired")
    if not isinstance(password, str):
        raise BadRequest("password must be a string", code="InvalidPassword")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadRequest(f"password must be at least {MIN_PASSWORD_LENGTH} characters", code="PasswordTooShort")
    try:
        encoded = password.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest("password must be valid Unicode text", code="InvalidPassword") from None
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise BadRequest(
            f"password must be at most {MAX_PASSWORD_BYTES} bytes in UTF-8 (characters outside ASCII take 2 to 4)",
            code="PasswordTooLong",
        )
    if "\x00" in password:
        # PKCS#12 tools read passwords as C strings and would silently cut it at the NUL.
        raise BadRequest("password must not contain a NUL character", code="InvalidPassword")
    return password


def portal_url(version_id: str) -> str | None:
    """The Azure portal page of a secret version; only public-cloud vaults have one we can name."""
    host = version_id.split("/")[2] if version_id.startswith("https://") else ""
    if not host.lower().endswith(PUBLIC_CLOUD_VAULT_SUFFIX):
        return None
    return PORTAL_SECRET_LINK + version_id


# --- use cases -----------------------------------------------------------------------------------

def export_certificate(ctx: AppContext, name: str, request: ExportRequest, requested_by: str = "") -> ExportedFile:
    """Export one version of a certificate and record that it left (never how it was protected)."""
    fmt, encryption, version = _validate(request)
    cert = ctx.certificates.find(validate_name(name, "certificate name"))
    if cert is None:
        raise NotFound(f"certificate {name} was not found", code="CertificateNotFound")
    if not cert.has_been_issued:
        raise Conflict(f"certificate {name} has never been issued, so there is nothing to export", code="NotIssued")
    try:
        stored = certificate_at(ctx.vault_of(cert), cert.secret_name, version or cert.secret_version)
    except NotFound as err:
        if version is None or err.code != "SecretNotFound":
            raise
        raise NotFound(f"certificate {name} has no version {version}", code="VersionNotFound") from None
    bundle = stored.bundle
    if fmt is ExportFormat.PFX:
        content = export_pfx(bundle, request.password, encryption is Encryption.LEGACY, cert.name)
    else:
        content = export_pem(bundle, request.password, request.include_key)
    filename = f"{cert.name}-{bundle.thumbprint[:8]}.{fmt.value}"
    parameters = {
        "format": fmt.value,
        "encryption": encryption.value if encryption else None,
        "includeKey": request.include_key,
        "version": stored.version.version,
        "thumbprint": bundle.thumbprint,
    }
    op = new_operation(OperationKind.EXPORT, cert.name, parameters, requested_by)
    finish_now(ctx, op, {"filename": filename})
    return ExportedFile(filename=filename, content_type=CONTENT_TYPES[fmt], content=content)


def secret_location(ctx: AppContext, name: str, version: str | None = None) -> SecretLocation:
    """The recorded version, like the export default, with no Key Vault call (names and ids
    only); or the `version` asked for, once the secret's version list (metadata) holds it."""
    wanted = _checked_version(version)
    cert = ctx.certificates.find(validate_name(name, "certificate name"))
    if cert is None:
        raise NotFound(f"certificate {name} was not found", code="CertificateNotFound")
    secret = ctx.secret_of(cert)
    known = ctx.settings.vault_named(secret.vault_url)
    resource_id = known.resource_id if known and known.resource_id else None
    if wanted is not None and not _has_version(ctx, cert, wanted):
        raise NotFound(f"certificate {name} has no version {wanted}", code="VersionNotFound")
    chosen = wanted or cert.secret_version
    if not chosen:
        return SecretLocation(secret.id, None, None, None, resource_id)
    version_id = f"{secret.id}/{chosen}"
    return SecretLocation(secret.id, chosen, version_id, portal_url(version_id), resource_id)


def _has_version(ctx: AppContext, cert: Certificate, version: str) -> bool:
    try:
        return any(v.version.lower() == version for v in ctx.vault_of(cert).list_versions(cert.secret_name))
    except NotFound:  # the secret itself does not exist yet
        return False


def _validate(request: ExportRequest) -> tuple[ExportFormat, Encryption | None, str | None]:
    """Everything about the request that needs no storage, checked before anything is read."""
    try:
        fmt = ExportFormat(request.format)
    except ValueError:
        raise BadRequest(
            f"format {str(request.format)[:20]!r} is not supported; use pfx or pem", code="InvalidFormat"
        ) from None
    encryption: Encryption | None
    try:
        encryption = Encryption(request.encryption or Encryption.MODERN)
    except ValueError:
        raise BadRequest(
            f"encryption {str(request.encryption)[:20]!r} is not supported; use modern or legacy",
            code="InvalidEncryption",
        ) from None
    if fmt is ExportFormat.PFX and not request.include_key:
        raise BadRequest("a PFX always carries the private key; use format pem for the chain alone", code="PfxNeedsKey")
    if fmt is ExportFormat.PEM:
        if encryption is Encryption.LEGACY:
            raise BadRequest(
                "legacy encryption is for pfx only; PEM keys use PKCS#8 with AES-256", code="InvalidEncryption"
            )
        encryption = Encryption.MODERN if request.include_key else None
    if fmt is ExportFormat.PFX or request.include_key:
        check_password(request.password)
    return fmt, encryption, _checked_version(request.version)


def _checked_version(version: object) -> str | None:
    if version is None:
        return None
    if not isinstance(version, str) or not VERSION_PATTERN.fullmatch(version):
        raise BadRequest("version must be a Key Vault secret version (32 hex digits)", code="InvalidVersion")
    return version.lower()
