"""A private certificate authority for the fake identity platform's HTTPS listener.

The fake must be reachable over real TLS, because msal and our own code refuse plain
HTTP authorities. Clients trust the fake by trusting the CA written here, never by
turning verification off.

The certificates are made by trustme, which already gets right what strict verifiers ask
of a test CA (Python 3.13's ``VERIFY_X509_STRICT`` among them). What trustme does not do
is kept here: writing the private key with mode 0600 (trustme writes with the umask) and
reusing earlier files across processes (trustme lives in memory, and reloading its CA
would need the CA key, which is deliberately never written).

Keys are ECDSA P-256: generating one takes microseconds, whereas an RSA key takes a
noticeable fraction of a second, and every TLS stack we care about (OpenSSL behind
Python and curl, browsers) accepts P-256 certificates.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

__all__ = ["SERVER_HOST_NAMES", "CertificateFiles", "ensure_certificates"]

#: The names the server certificate is valid for: the loopback addresses and ``localhost``.
SERVER_HOST_NAMES: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")

CA_FILE_NAME = "ca.pem"
SERVER_CERTIFICATE_FILE_NAME = "server.pem"
SERVER_KEY_FILE_NAME = "server-key.pem"

# Apple platforms reject TLS server certificates valid for more than 825 days even when
# they chain to a locally trusted root; 397 days also satisfies the stricter browser rule.
# (trustme's CA itself is valid until the year 3000: no such rule applies to roots.)
_SERVER_VALIDITY = datetime.timedelta(days=397)
# Backdating absorbs small clock differences between the machine that wrote the files
# and the one that reads them (a container, a CI runner).
_BACKDATE = datetime.timedelta(hours=1)
# Files are regenerated when the server certificate expires sooner than this, so a
# long-running demo never starts with a certificate about to lapse.
_RENEW_BEFORE = datetime.timedelta(days=7)


@dataclass(frozen=True)
class CertificateFiles:
    """Where the PEM files of one certificate set live.

    ``ca_certificate`` is what clients must trust (``verify=`` in requests, the
    ``http_client`` handed to msal, a browser's trust store); ``server_certificate``
    and ``server_key`` are what the HTTPS listener loads.
    """

    ca_certificate: Path
    server_certificate: Path
    server_key: Path


def ensure_certificates(directory: str | os.PathLike[str]) -> CertificateFiles:
    """Return a usable CA and server certificate in ``directory``, writing them if needed.

    Existing files are reused when the server certificate was issued by the CA next to
    it, names every host of :data:`SERVER_HOST_NAMES` and stays valid for at least a
    week; this lets a demo keep one CA trusted in a browser across restarts. Otherwise
    a new CA and server certificate and the server's key are written (the directory is
    created if missing); the key with mode 0600. The CA's key is never written.

    Raises ``OSError`` when the directory cannot be created or written.
    """
    folder = Path(directory)
    files = CertificateFiles(
        ca_certificate=folder / CA_FILE_NAME,
        server_certificate=folder / SERVER_CERTIFICATE_FILE_NAME,
        server_key=folder / SERVER_KEY_FILE_NAME,
    )
    if not _reusable(files):
        folder.mkdir(parents=True, exist_ok=True)
        _write_new_certificates(files)
    return files


def _reusable(files: CertificateFiles) -> bool:
    try:
        ca = x509.load_pem_x509_certificate(files.ca_certificate.read_bytes())
        server = x509.load_pem_x509_certificate(files.server_certificate.read_bytes())
        key = serialization.load_pem_private_key(files.server_key.read_bytes(), password=None)
    except (OSError, ValueError):
        return False
    try:
        server.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    if server.public_key() != key.public_key():
        return False
    now = datetime.datetime.now(datetime.UTC)
    if server.not_valid_after_utc - now < _RENEW_BEFORE or server.not_valid_before_utc > now:
        return False
    try:
        names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    present = {str(value) for value in names.get_values_for_type(x509.IPAddress)}
    present.update(names.get_values_for_type(x509.DNSName))
    return all(_canonical_host(host) in present for host in SERVER_HOST_NAMES)


def _canonical_host(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def _write_new_certificates(files: CertificateFiles) -> None:
    now = datetime.datetime.now(datetime.UTC)
    ca = trustme.CA(
        organization_name="sso_api testing",
        organization_unit_name="sso_api fake identity platform CA",
        key_type=trustme.KeyType.ECDSA,
    )
    server = ca.issue_cert(
        *SERVER_HOST_NAMES,
        common_name="localhost",
        organization_name="sso_api testing",
        not_before=now - _BACKDATE,
        not_after=now + _SERVER_VALIDITY,
        key_type=trustme.KeyType.ECDSA,
    )
    # trustme writes files with the process's umask; the key goes through _write_private.
    # The CA key is never written: nothing needs to issue further certificates from it,
    # and a trusted root whose key is gone cannot be abused to mint certificates for
    # other hosts.
    _write_private(files.server_key, server.private_key_pem.bytes())
    server.cert_chain_pems[0].write_to_path(files.server_certificate)
    ca.cert_pem.write_to_path(files.ca_certificate)


def _write_private(path: Path, content: bytes) -> None:
    # Create with 0600 from the start, rather than chmod after writing, so the key is
    # never readable by others even for a moment.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    # An existing file keeps its old mode through O_CREAT; tighten it explicitly.
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
