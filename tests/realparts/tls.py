"""A self-signed certificate for 127.0.0.1, so TLS code paths run for real in tests.
Clients trust it through SSL_CERT_FILE, which ssl.create_default_context() honours."""
from __future__ import annotations

import datetime
import http.server
import ipaddress
import shutil
import ssl
import tempfile
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """(certificate.pem, key.pem) valid for IP 127.0.0.1 and localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def start_https(handler: type, prefix: str) -> tuple["http.server.ThreadingHTTPServer", Path, str]:
    """A threading HTTPS server on 127.0.0.1 (a free port) with a fresh self-signed
    certificate, serving in a daemon thread: (server, its temporary folder, the CA file)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    cert, key = make_certificate(folder)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     name=prefix.strip("-"), daemon=True).start()
    return server, folder, str(cert)


def stop_https(server: "http.server.ThreadingHTTPServer | None", folder: Path | None) -> None:
    if server is not None:
        server.shutdown()
        server.server_close()
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
