"""Throwaway TLS certificates for tests, made with the `openssl` command (no network)."""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Cert:
    cert: Path
    key: Path


def _openssl(*args: str, cwd: Path) -> None:
    binary = shutil.which("openssl")
    if binary is None:
        pytest.skip("openssl is not installed (Debian package: openssl)")
    subprocess.run([binary, *args], cwd=cwd, check=True, capture_output=True)


def make_ca(folder: Path, name: str = "ca") -> Cert:
    """A self-signed CA (P-256, valid 2 days)."""
    folder.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
             "-subj", f"/CN=offhook test {name}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)
    return Cert(folder / f"{name}.pem", folder / f"{name}.key")


def make_cert(folder: Path, name: str, ca: Cert | None,
              san: str = "DNS:localhost,IP:127.0.0.1,IP:::1") -> Cert:
    """A server certificate for `san`, signed by `ca` (None: self-signed)."""
    ext = folder / f"{name}.ext"
    ext.write_text(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
                   "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n"
                   "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=folder)
    signer = ca or Cert(folder / f"{name}.pem", folder / f"{name}.key")
    if ca is None:
        _openssl("x509", "-req", "-in", f"{name}.csr", "-key", f"{name}.key", "-out", f"{name}.pem",
                 "-days", "2", "-extfile", ext.name, cwd=folder)
    else:
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", str(signer.cert), "-CAkey", str(signer.key),
                 "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", ext.name, cwd=folder)
    return Cert(folder / f"{name}.pem", folder / f"{name}.key")
