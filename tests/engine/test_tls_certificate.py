import ssl
from concurrent.futures import ProcessPoolExecutor

from agents.tls import certificate_expiry, ensure_certificate, server_context


def _make(folder):
    from pathlib import Path

    return ensure_certificate(Path(folder) / "cert.pem", Path(folder) / "key.pem", "mail.example.com")


def test_agents_starting_at_once_make_one_matching_certificate_and_key(tmp_path):
    with ProcessPoolExecutor(4) as pool:
        made = list(pool.map(_make, [str(tmp_path)] * 4))
    assert made.count(True) == 1
    context = server_context(tmp_path / "cert.pem", tmp_path / "key.pem")  # raises if they do not match
    assert isinstance(context, ssl.SSLContext)
    assert certificate_expiry(tmp_path / "cert.pem").year >= 2027
    assert oct((tmp_path / "key.pem").stat().st_mode & 0o777) == "0o600"
