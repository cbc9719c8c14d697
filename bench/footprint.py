"""Footprint: the memory of the whole appliance, idle and under load, and its start time.

    .venv/bin/python bench/footprint.py [--profile small|large] [--idle 60] [--load] [--why]

The script
1. makes a fresh MAILAPP_HOME (SQLite, the embedded broker: the defaults), migrates it and
   provisions one domain with three mailboxes;
2. starts ``manage.py appliance`` as ``make run`` does (with its first-start preparation) on
   free loopback ports, and times the start until every port answers (web, SMTP x3, IMAP x2,
   POP3 x2);
3. waits ``--idle`` seconds (60 by default; shorter for a smoke run), then prints per process
   of the supervisor's tree its name, PSS, private and RSS memory (from
   ``/proc/PID/smaps_rollup``), and the totals;
4. with ``--load``: a bounded SMTP send loop (``--messages`` messages on 4 connections to the
   MX port) and ``--imap-clients`` IMAP clients (LOGIN, SELECT, FETCH 1:* (FLAGS), NOOP in a
   loop) on loopback, sampling the tree every second; prints the sample with the highest PSS;
5. with ``--why``: what holds the memory. For each entry point of the running profile (and, on
   the small profile, the supervisor's preload before it forks), a child process imports what
   that process imports, under ``tracemalloc``: Python heap per top-level
   package, module count and RSS after the imports, and the top allocation sites of the
   combined agents (or the smtp agent on the large profile).

Targets (issue 23): idle total PSS <= 150 MiB on the embedded defaults; <= 300 MiB under load.
Talks only to 127.0.0.1. Memory figures hardly depend on the machine's load; start times do,
so the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import imaplib
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOMAIN = "example.com"
MAILBOXES = ("alice", "bob", "carol")
PASSWORD = "footprint password 23"
PORTS = ("HTTP", "SMTP", "SUBMISSION", "SMTPS", "IMAP", "IMAPS", "POP3", "POP3S")
IDLE_TARGET_MIB = 150
LOAD_TARGET_MIB = 300
MIB = 1024 * 1024


def free_port() -> int:
    """A loopback port from below the kernel's ephemeral range (tests/ports.py): the appliance
    binds it a moment later, and an ephemeral one could be handed to another connection meanwhile."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.ports import free_port as pick

    return pick()


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# --- the process tree ------------------------------------------------------------------------


@dataclass
class Proc:
    pid: int
    name: str
    pss: int
    private: int
    rss: int


def _children_map() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def _role(pid: int) -> str:
    """The supervisor's name for the process: a forked child's comm (``mailapp:web``), else the
    MAILAPP_PROCESS_NAME it was started with."""
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"
    if comm.startswith("mailapp:"):
        return comm.removeprefix("mailapp:")
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return "?"
    for item in environ:
        if item.startswith(b"MAILAPP_PROCESS_NAME="):
            return item.split(b"=", 1)[1].decode()
    return "supervisor"


def _memory(pid: int) -> tuple[int, int, int] | None:
    fields: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            key, _, rest = line.partition(":")
            fields[key] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return fields["Pss"], fields["Private_Clean"] + fields["Private_Dirty"], fields["Rss"]


def tree_of(root: int) -> list[Proc]:
    """Every process under ``root`` (itself included), named by role: a fork inherits its role."""
    children = _children_map()
    found: list[Proc] = []
    pending = [(root, "")]
    while pending:
        pid, parent_role = pending.pop(0)
        role = _role(pid)
        name = f"{role} (fork)" if role == parent_role else role
        memory = _memory(pid)
        if memory is not None:
            found.append(Proc(pid, name, *memory))
        pending += [(child, role) for child in sorted(children.get(pid, []))]
    return found


def print_tree(procs: list[Proc], title: str) -> tuple[float, float, float]:
    print(f"\n{title}")
    print(f"  {'process':<22}{'pid':>8}{'PSS MiB':>10}{'private':>10}{'RSS':>10}")
    for p in procs:
        print(f"  {p.name:<22}{p.pid:>8}{p.pss / MIB:>10.1f}{p.private / MIB:>10.1f}{p.rss / MIB:>10.1f}")
    pss, private, rss = (sum(getattr(p, f) for p in procs) / MIB for f in ("pss", "private", "rss"))
    print(f"  {'total (' + str(len(procs)) + ' processes)':<30}{pss:>10.1f}{private:>10.1f}{rss:>10.1f}")
    return pss, private, rss


# --- the appliance -----------------------------------------------------------------------------


def django_script(script: str, env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-c", "import django; django.setup()\n" + script], env=env, cwd=REPO,
                          capture_output=True)  # fmt: skip
    if done.returncode:
        raise SystemExit(done.stderr.decode(errors="replace"))


def prepare(home: Path, profile: str | None) -> tuple[dict[str, str], dict[str, int]]:
    ports = {name: free_port() for name in PORTS}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAILAPP_", "DATABASE_URL", "CELERY_"))}
    env.update({f"MAILAPP_{name}_PORT": str(port) for name, port in ports.items()})
    env.update(MAILAPP_HOME=str(home), MAILAPP_BIND="127.0.0.1", DJANGO_SETTINGS_MODULE="mailappliance.settings",
               PYTHONPATH=str(REPO), MAILAPP_HOSTNAME="mx.footprint.test")  # fmt: skip
    if profile:
        env["MAILAPP_PROFILE"] = profile
    mailboxes = ", ".join(repr(f"{local}@{DOMAIN}") for local in MAILBOXES)
    django_script(f"""
from django.core.management import call_command
call_command("migrate", verbosity=0)
from webadmin import services
from webadmin.models import Mailbox
services.create_domain({DOMAIN!r}, "{MAILBOXES[0]}@{DOMAIN}")  # makes the first mailbox, without a password
first = Mailbox.objects.get(local_part={MAILBOXES[0]!r})
first.set_password({PASSWORD!r})
first.save()
for address in ({mailboxes},)[1:]:
    services.create_mailbox(address, {PASSWORD!r})
""", env)  # fmt: skip
    return env, ports


def start(env: dict[str, str], ports: dict[str, int], log: Path) -> tuple[subprocess.Popen, float]:
    with open(log, "wb") as out:
        began = time.monotonic()
        process = subprocess.Popen([sys.executable, str(REPO / "manage.py"), "appliance"], env=env, cwd=REPO,
                                   stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    deadline = began + 180
    pending = dict(ports)
    while pending:
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise SystemExit(f"the appliance did not start (ports {sorted(pending)}):\n{log.read_text()[-3000:]}")
        pending = {name: port for name, port in pending.items() if not answers(port)}
        time.sleep(0.1)
    return process, time.monotonic() - began


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- load ----------------------------------------------------------------------------------------


def smtp_loop(port: int, count: int, errors: list[str]) -> None:
    body = ("Subject: footprint\r\n\r\n" + "A line of a message body.\r\n" * 80).encode()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
            for n in range(count):
                rcpt = f"{MAILBOXES[n % len(MAILBOXES)]}@{DOMAIN}"
                client.sendmail("sender@remote.test", [rcpt], body)
    except (OSError, smtplib.SMTPException) as exc:
        errors.append(f"smtp: {exc}")


def imap_loop(port: int, until: float, errors: list[str]) -> None:
    try:
        client = imaplib.IMAP4("127.0.0.1", port, timeout=30)
        client.login(f"{MAILBOXES[0]}@{DOMAIN}", PASSWORD)
        for _ in range(100_000):
            if time.monotonic() > until:
                break
            exists = client.select("INBOX")[1][0]
            if exists != b"0":
                client.fetch("1:*", "(FLAGS)")
            client.noop()
            time.sleep(0.2)
        client.logout()
    except (OSError, imaplib.IMAP4.error) as exc:
        errors.append(f"imap: {exc}")


def under_load(root: int, ports: dict[str, int], messages: int, imap_clients: int, seconds: float) -> list[Proc]:
    errors: list[str] = []
    until = time.monotonic() + seconds
    per = max(1, messages // 4)
    threads = [threading.Thread(target=smtp_loop, args=(ports["SMTP"], per, errors)) for _ in range(4)]
    threads += [threading.Thread(target=imap_loop, args=(ports["IMAP"], until, errors)) for _ in range(imap_clients)]
    for thread in threads:
        thread.start()
    peak: list[Proc] = []
    while any(t.is_alive() for t in threads) or time.monotonic() < until:
        sample = tree_of(root)
        if sum(p.pss for p in sample) > sum(p.pss for p in peak):
            peak = sample
        time.sleep(1)
        if time.monotonic() > until + 300:
            break
    for thread in threads:
        thread.join(timeout=5)
    for error in errors[:5]:
        print(f"  load error: {error}")
    return peak


# --- what holds the memory -------------------------------------------------------------------------

ENTRY_POINTS = {
    "supervisor": "import agents.supervisor, agents.management.commands.appliance",
    # what the supervisor holds before it forks the children, on a preloading profile
    "preload": "from agents.management.commands import appliance\nfrom agents.supervisor import Supervisor\n"
               "Supervisor.preload(appliance.PRELOAD, then=appliance._warm_up)",
    "web": "from mailappliance.wsgi import application\nfrom django.urls import get_resolver\n"
           "get_resolver().url_patterns",
    "smtp": "import agents.smtp.server, agents.smtp.directory, agents.queue, uvloop",
    "imap": "import agents.imap.service, agents.imap.server",
    "pop3": "import agents.pop3.runner",
    "agents": "import agents.mailagents, agents.smtp.server, agents.smtp.directory, agents.queue, uvloop, "
              "agents.imap.service, agents.imap.server, agents.pop3.runner, agents.managesieve.runner",
    "worker": "from mailappliance.celery import app\napp.loader.import_default_modules()\n"
              "import mailappliance.celerycli, celery.apps.worker, celery.worker.consumer, celery.beat",
}

WHY_SCRIPT = r"""
# Each module's own import cost: Python heap allocated while its body runs (its bytecode
# included), minus what the modules it imports allocate. Summed per top-level package.
import importlib.abc, sys, time, tracemalloc
costs, stack = {}, []

class Measured(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader
    def create_module(self, spec):
        return self.loader.create_module(spec)
    def exec_module(self, module):
        stack.append(0)
        before = tracemalloc.get_traced_memory()[0]
        try:
            self.loader.exec_module(module)
        finally:
            total = tracemalloc.get_traced_memory()[0] - before
            nested = stack.pop()
            top = module.__name__.split(".")[0]
            costs[top] = costs.get(top, 0) + total - nested
            if stack:
                stack[-1] += total
    def __getattr__(self, name):
        return getattr(self.loader, name)

class Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = Measured(spec.loader)
                return spec
        return None

sys.meta_path.insert(0, Finder())
tracemalloc.start(1)
began = time.perf_counter()
import django
django.setup()
exec(sys.argv[1])
seconds = time.perf_counter() - began
heap = tracemalloc.get_traced_memory()[0]
snapshot = tracemalloc.take_snapshot()
tracemalloc.stop()
rss = int([l for l in open("/proc/self/status") if l.startswith("VmRSS")][0].split()[1]) * 1024
print(f"{len(sys.modules)} modules in {seconds:.1f}s (traced), Python heap {heap / 2**20:.1f} MiB"
      f" (RSS {rss / 2**20:.0f} MiB with tracemalloc's own cost); import cost per package:")
for name, size in sorted(costs.items(), key=lambda kv: -kv[1])[:12]:
    print(f"    {name:<28}{size / 2**20:>7.1f} MiB")
if sys.argv[3] == "top":
    print("  tracemalloc top allocation sites:")
    for stat in snapshot.statistics("lineno")[:10]:
        frame = stat.traceback[0]
        print(f"    {stat.size / 1024:>8.0f} KiB  {frame.filename.split('site-packages/')[-1]}:{frame.lineno}")
"""


def why(env: dict[str, str], roles: list[str]) -> None:
    print("\nWhat holds the memory: imports of each entry point under tracemalloc")
    agent = "agents" if "agents" in roles else "smtp"
    for role in roles:
        script = ENTRY_POINTS.get(role)
        if script is None:
            continue
        done = subprocess.run([sys.executable, "-c", WHY_SCRIPT, script, str(REPO), "top" if role == agent else ""],
                              env=env, cwd=REPO, capture_output=True, text=True)  # fmt: skip
        print(f"  {role}: " + (done.stdout.rstrip() if done.returncode == 0 else done.stderr[-800:]))


# --- main ----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=["small", "large"], help="MAILAPP_PROFILE (default: chosen by settings)")
    parser.add_argument("--idle", type=float, default=60.0, help="seconds idle before measuring (default 60)")
    parser.add_argument("--load", action="store_true", help="also measure under SMTP and IMAP load")
    parser.add_argument("--messages", type=int, default=400, help="messages sent under --load (default 400)")
    parser.add_argument("--imap-clients", type=int, default=10, help="IMAP clients under --load (default 10)")
    parser.add_argument("--load-seconds", type=float, default=30.0, help="IMAP clients run this long (default 30)")
    parser.add_argument("--why", action="store_true", help="report import cost and tracemalloc tops")
    parser.add_argument("--log", type=Path, help="keep the appliance's log in this file")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="footprint-"))
    try:
        env, ports = prepare(home, args.profile)
        process, started = start(env, ports, home / "appliance.log")
        try:
            load = os.getloadavg()
            print(f"profile {args.profile or '(default)'}: every port answered {started:.1f}s after start "
                  f"(first start on a fresh MAILAPP_HOME; load average {load[0]:.1f} on {os.cpu_count()} cores)")
            time.sleep(args.idle)
            idle = tree_of(process.pid)
            pss, private, _ = print_tree(idle, f"idle, {args.idle:.0f}s after every port answered")
            verdict = "met" if pss <= IDLE_TARGET_MIB else f"missed by {pss - IDLE_TARGET_MIB:.1f} MiB"
            print(f"  idle target <= {IDLE_TARGET_MIB} MiB PSS: {verdict} (private {private:.0f} MiB)")
            if args.load:
                peak = under_load(process.pid, ports, args.messages, args.imap_clients, args.load_seconds)
                pss, private, _ = print_tree(peak, f"under load (the sample with the highest PSS; {args.messages}"
                                             f" messages by SMTP, {args.imap_clients} IMAP clients)")
                verdict = "met" if pss <= LOAD_TARGET_MIB else f"missed by {pss - LOAD_TARGET_MIB:.1f} MiB"
                print(f"  load target <= {LOAD_TARGET_MIB} MiB PSS: {verdict} (private {private:.0f} MiB)")
            if args.why:
                names = {p.name for p in idle if p.name != "supervisor" and "(" not in p.name}
                roles = ["supervisor", *(["preload"] if "agents" in names else []), *sorted(names)]
                why(env, roles)
        finally:
            stop(process)
            if args.log:
                shutil.copy(home / "appliance.log", args.log)
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
