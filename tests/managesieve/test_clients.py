"""Real ManageSieve clients against the real server: sieve-connect (Debian) and sievelib's client."""

import subprocess

from sievelib.managesieve import Client as SievelibClient

from tests.conftest import PASSWORD
from webadmin.models import SieveScript

SCRIPT = 'require ["fileinto", "vacation"];\nif header :contains "subject" "report" { fileinto "Reports"; }\n'


def sieve_connect(port: int, tmp_path, *action: str) -> subprocess.CompletedProcess:
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    with secret.open("rb") as fd:
        return subprocess.run(
            ["sieve-connect", "--server", "127.0.0.1", "--port", str(port), "--user", "alice@example.com",
             "--notlsverify", "--nosrv", "--passwordfd", str(fd.fileno()), "--authmech", "PLAIN", *action],
            pass_fds=[fd.fileno()], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        )


def test_sieve_connect_uploads_checks_activates_and_lists(sieved, tmp_path):
    local = tmp_path / "filters.sieve"
    local.write_text(SCRIPT)
    bad = tmp_path / "bad.sieve"
    bad.write_text('require "fileinto";\n\nfileinto;\n')

    checked = sieve_connect(sieved.port, tmp_path, "--checkscript", "--localsieve", str(local))
    assert checked.returncode == 0, checked.stderr
    refused = sieve_connect(sieved.port, tmp_path, "--checkscript", "--localsieve", str(bad))
    assert refused.returncode != 0 and "line 3" in refused.stdout + refused.stderr

    uploaded = sieve_connect(sieved.port, tmp_path, "--upload", "--localsieve", str(local), "--remotesieve", "main")
    assert uploaded.returncode == 0, uploaded.stderr
    activated = sieve_connect(sieved.port, tmp_path, "--activate", "--remotesieve", "main")
    assert activated.returncode == 0, activated.stderr
    listed = sieve_connect(sieved.port, tmp_path, "--list")
    assert listed.returncode == 0 and "main" in listed.stdout and "ACTIVE" in listed.stdout.upper(), listed
    row = SieveScript.objects.get(name="main")
    assert row.active and row.script == SCRIPT


def test_sievelib_client_round_trip(sieved, monkeypatch, settings):
    # sievelib verifies the certificate against the default trust store: make it trust ours, by name localhost
    monkeypatch.setenv("SSL_CERT_FILE", str(settings.MAILAPP_TLS_CERT))
    client = SievelibClient("localhost", sieved.port)
    assert client.connect("alice@example.com", PASSWORD, starttls=True, authmech="PLAIN")
    try:
        assert client.checkscript(SCRIPT)
        assert not client.checkscript("fileinto;")
        assert client.havespace("main", len(SCRIPT))
        assert client.putscript("main", SCRIPT)
        assert client.setactive("main")
        active, others = client.listscripts()
        assert active == "main" and others == []
        # sievelib joins the lines it read, dropping the last line end
        assert client.getscript("main") == SCRIPT.rstrip("\n")
        assert client.renamescript("main", "renamed")
        assert client.setactive("")
        assert client.deletescript("renamed")
        assert client.listscripts() == (None, [])
    finally:
        client.logout()
