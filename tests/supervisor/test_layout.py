"""The process layout follows the profile, and each count stays settable on its own."""

from django.test import override_settings

from agents.supervisor import default_children

SMALL = dict(MAILAPP_COMBINED_AGENTS=True, MAILAPP_WEB_WORKERS=1, MAILAPP_WEB_THREADS=8, MAILAPP_CELERY_POOL="threads",
             MAILAPP_CELERY_CONCURRENCY=4, MAILAPP_EMBEDDED_BEAT=True)  # fmt: skip
LARGE = dict(MAILAPP_COMBINED_AGENTS=False, MAILAPP_WEB_WORKERS=4, MAILAPP_WEB_THREADS=4, MAILAPP_CELERY_POOL="prefork",
             MAILAPP_CELERY_CONCURRENCY=4, MAILAPP_EMBEDDED_BEAT=False,
             MAILAPP_SMTP_PROCESSES=1, MAILAPP_IMAP_PROCESSES=1, MAILAPP_POP3_PROCESSES=1)  # fmt: skip


def option(child, name):
    return child.argv[child.argv.index(name) + 1]


def test_small_layout_is_web_mail_agents_and_worker_with_beat():
    with override_settings(**SMALL):
        children = {c.name: c for c in default_children()}
    assert list(children) == ["web", "agents", "worker"]
    assert children["agents"].roles == ("smtp", "imap", "pop3", "managesieve")
    assert children["agents"].argv[-5:] == ["mailagents", "smtp", "imap", "pop3", "managesieve"]
    assert children["worker"].roles == ("worker", "beat") and "--beat-thread" in children["worker"].argv
    assert option(children["worker"], "--pool") == "threads"
    assert (option(children["web"], "--workers"), option(children["web"], "--threads")) == ("1", "8")


def test_large_layout_is_a_process_per_role():
    with override_settings(**LARGE):
        children = default_children()
    assert [c.name for c in children] == ["web", "auth", "smtp", "imap", "pop3", "managesieve", "worker", "beat"]
    assert all(c.roles == (c.name,) for c in children)
    assert option(children[6], "--pool") == "prefork" and "--beat-thread" not in children[6].argv
    assert option(children[0], "--workers") == "4"


def test_only_picks_roles_and_beat_leaves_the_worker_when_the_worker_is_not_wanted():
    with override_settings(**SMALL):
        assert [(c.name, c.roles) for c in default_children(["imap", "pop3"])] == [("agents", ("imap", "pop3"))]
        assert [(c.name, c.roles) for c in default_children(["beat"])] == [("beat", ("beat",))]
        assert [(c.name, c.roles) for c in default_children(["worker"])] == [("worker", ("worker",))]


def test_counts_are_settable_one_by_one():
    with override_settings(**{**SMALL, "MAILAPP_COMBINED_AGENTS": False, "MAILAPP_CELERY_CONCURRENCY": 2}):
        children = {c.name: c for c in default_children()}
    assert {"smtp", "imap", "pop3"} <= set(children) and "agents" not in children
    assert option(children["worker"], "--concurrency") == "2" and children["worker"].roles == ("worker", "beat")
