"""The emulator's self-signed certificate: made once per TLS dir, then reused.

Clients trust it by pointing `connection_verify` (requests) at emulator-cert.pem, so the
certificate is its own trust anchor: a CA certificate (basicConstraints CA:TRUE, SKI/AKI,
keyCertSign) that is also a serverAuth leaf for the loopback names. That shape passes
OpenSSL 3 with VERIFY_X509_STRICT, which Python 3.13+ and urllib3 turn on by default.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from devtools.kv_emulator.files import write_file_atomically

CERT_FILE_NAME = "emulator-cert.pem"
KEY_FILE_NAME = "emulator-key.pem"

_DNS_NAMES = ("localhost",)
_IP_ADDRESSES = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))
_VALIDITY = dt.timedelta(days=825)
# Regenerate rather than serve a certificate that expires during a long test session.
_RENEW_BEFORE = dt.timedelta(days=7)


@dataclass(frozen=True)
class TlsFiles:
    cert_path: Path
    key_path: Path


def tls_location(data_dir: Path | None, tls_dir: str | Path | None, temp_prefix: str) -> tuple[Path, Path | None]:
    """Where an emulator keeps its TLS files: tls_dir, else its data dir, else a new temp dir
    (returned second, for stop() to remove)."""
    if tls_dir is not None:
        return Path(tls_dir), None
    if data_dir is not None:
        return data_dir, None
    temp_dir = Path(tempfile.mkdtemp(prefix=temp_prefix))
    return temp_dir, temp_dir


def ensure_certificate(tls_dir: Path, common_name: str = "certsync Key Vault emulator") -> TlsFiles:
    """Reuse the certificate in tls_dir when it is still good; otherwise write a new one."""
    tls_dir.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(tls_dir / CERT_FILE_NAME, tls_dir / KEY_FILE_NAME)
    if not _reusable(files):
        _write_new(files, common_name)
    return files


def server_context(files: TlsFiles) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(files.cert_path, files.key_path)
    return context


def _reusable(files: TlsFiles) -> bool:
    if not (files.cert_path.is_file() and files.key_path.is_file()):
        return False
    try:
        cert = x509.load_pem_x509_certificate(files.cert_path.read_bytes())
        key = serialization.load_pem_private_key(files.key_path.read_bytes(), password=None)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, x509.ExtensionNotFound):
        return False
    same_key = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    covers_names = set(_DNS_NAMES) <= set(san.get_values_for_type(x509.DNSName)) and set(_IP_ADDRESSES) <= set(
        san.get_values_for_type(x509.IPAddress)
    )
    fresh = cert.not_valid_after_utc - _RENEW_BEFORE > dt.datetime.now(dt.UTC)
    return same_key and covers_names and fresh


def _write_new(files: TlsFiles, common_name: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "certsync development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(n) for n in _DNS_NAMES] + [x509.IPAddress(ip) for ip in _IP_ADDRESSES]
            ),
            critical=False,
        )
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Key first: a cert without its key on disk is never left behind as "reusable".
    write_file_atomically(files.key_path, key_pem, mode=0o600)
    write_file_atomically(files.cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
