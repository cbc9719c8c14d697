"""The engine's own rows: the queue's envelopes, process states, traffic counters.

A queued message is a spool file (``agents.queue.spool``) plus a ``QueueMessage``
row with one ``QueueRecipient`` per envelope recipient. Both are durable before
any entry point says "accepted".
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class QueueMessage(models.Model):
    ACTIVE, HELD, DONE = "active", "held", "done"
    STATES = [(ACTIVE, "active"), (HELD, "held"), (DONE, "done")]

    queue_id = models.CharField(max_length=32, primary_key=True)
    sender = models.CharField(max_length=512, blank=True, help_text="Envelope sender; empty = null sender <>.")
    size = models.BigIntegerField(default=0)
    message_id = models.CharField(max_length=998, blank=True, db_index=True)
    subject = models.CharField(max_length=300, blank=True)
    created = models.DateTimeField(default=timezone.now, db_index=True)
    state = models.CharField(max_length=8, choices=STATES, default=ACTIVE, db_index=True)
    next_attempt = models.DateTimeField(default=timezone.now, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    delay_warned = models.BooleanField(default=False)
    # Where it came from: "smtp", "submission", "smtps", "sendmail", "webmail", "api", "bounce", "forward", …
    source = models.CharField(max_length=16, default="smtp")
    client_address = models.CharField(max_length=64, blank=True)
    client_name = models.CharField(max_length=255, blank=True, help_text="HELO/EHLO name")
    tls = models.CharField(max_length=64, blank=True, help_text="TLS version and cipher, if any")
    auth_user = models.CharField(max_length=320, blank=True)
    # The queue id this message was made from (a forward, a bounce, an auto-reply).
    parent = models.CharField(max_length=32, blank=True, db_index=True)
    # A delivery run holds the message while it works on it (see agents.delivery.claim):
    # a second worker given the same queue id leaves it alone until the lease runs out.
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    # Cluster mode: the node that must deliver it (a copy for a mailbox homed there); empty = any node.
    node = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["created"]
        indexes = [models.Index(fields=["auth_user", "created"], name="queuemessage_auth_created")]

    def __str__(self) -> str:
        return self.queue_id

    @property
    def state_label(self) -> str:
        """The one word every page shows for this message's state (docs/dashboard.md, "Queue words").

        The stored state ``active`` covers two situations the mail world names apart, as
        Postfix's queues do: ``queued`` (not tried yet) and ``deferred`` (tried, a temporary
        failure, waiting for its next try). ``held`` and ``done`` stay as stored.
        """
        if self.state != self.ACTIVE:
            return str(self.state)
        return "deferred" if self.attempts or self.last_error else "queued"


class QueueRecipient(models.Model):
    PENDING, DELIVERED, DEFERRED, BOUNCED, DISCARDED = "pending", "delivered", "deferred", "bounced", "discarded"
    STATES = [(s, s) for s in (PENDING, DELIVERED, DEFERRED, BOUNCED, DISCARDED)]
    FINAL = (DELIVERED, BOUNCED, DISCARDED)

    message = models.ForeignKey(QueueMessage, on_delete=models.CASCADE, related_name="recipients")
    address = models.CharField(max_length=512)
    original = models.CharField(max_length=512, blank=True, help_text="The address as the client gave it")
    state = models.CharField(max_length=10, choices=STATES, default=PENDING, db_index=True)
    last_error = models.TextField(blank=True)
    remote_reply = models.TextField(blank=True)
    remote_host = models.CharField(max_length=255, blank=True)
    updated = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    # Set just before the final "." of DATA to a remote host and cleared with the outcome:
    # if a worker dies in between, the next run knows the remote may already have it.
    in_doubt = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["message", "id"]
        constraints = [models.UniqueConstraint(fields=["message", "address"], name="unique_queue_recipient")]

    def __str__(self) -> str:
        return f"{self.message_id} → {self.address} ({self.state})"


class QueueEvent(models.Model):
    """The history of a queued message, for the dashboard's message trace."""

    message = models.ForeignKey(QueueMessage, on_delete=models.CASCADE, related_name="events")
    when = models.DateTimeField(default=timezone.now)
    recipient = models.CharField(max_length=512, blank=True)
    event = models.CharField(max_length=32)  # received, delivered, deferred, bounced, relayed, held, …
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["when", "id"]


class AutoReplySent(models.Model):
    """When a mailbox last auto-replied to a sender (RFC 3834: at most once per N days)."""

    mailbox = models.CharField(max_length=512)
    sender = models.CharField(max_length=512)
    sent = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["mailbox", "sender"], name="unique_autoreply_memory")]

    def __str__(self) -> str:
        return f"{self.mailbox} → {self.sender} at {self.sent:%Y-%m-%d %H:%M}"


def _this_node() -> str:
    from django.conf import settings

    return str(settings.MAILAPP_NODE)


class AgentProcess(models.Model):
    """A child of a node's supervisor: its state and heartbeat, shown on the dashboard.

    Keyed by (node, name): every host's supervisor keeps its own rows."""

    node = models.CharField(max_length=64, default=_this_node)
    name = models.CharField(max_length=32)
    host = models.CharField(max_length=255, blank=True)
    pid = models.IntegerField(null=True, blank=True)
    state = models.CharField(max_length=16, default="stopped")  # starting, running, backoff, stopped, failed
    started = models.DateTimeField(null=True, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True)
    restarts = models.PositiveIntegerField(default=0)
    last_exit = models.CharField(max_length=100, blank=True)
    restart_requested = models.BooleanField(default=False)

    class Meta:
        ordering = ["node", "name"]
        constraints = [models.UniqueConstraint(fields=["node", "name"], name="unique_agent_per_node")]

    def __str__(self) -> str:
        return f"{self.name}@{self.node} ({self.state})"


class Node(models.Model):
    """A host running the appliance (``MAILAPP_NODE``): a lease its supervisor renews every few seconds.

    ``lease_until`` is set from the database's clock, so hosts whose clocks differ agree on
    which nodes are alive."""

    name = models.CharField(max_length=64, primary_key=True)
    address = models.CharField(max_length=255, blank=True, help_text="Where other hosts reach its listeners")
    host = models.CharField(max_length=255, blank=True)
    started = models.DateTimeField(null=True, blank=True)
    renewed = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ClusterLease(models.Model):
    """A job only one node may do at a time (``periodic``: beat's schedule), held until ``expires``."""

    name = models.CharField(max_length=32, primary_key=True)
    holder = models.CharField(max_length=64, blank=True)
    acquired = models.DateTimeField(null=True, blank=True)
    expires = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.holder or 'nobody'}"


class SpooledBody(models.Model):
    """A queued message's bytes in the database (cluster mode): written in the transaction that
    commits its queue rows, so any node's worker can read it; removed in the transaction that
    marks the message done (and with the message, if it is deleted)."""

    message = models.OneToOneField(QueueMessage, on_delete=models.CASCADE, primary_key=True, related_name="body")
    data = models.BinaryField()

    def __str__(self) -> str:
        return str(self.message_id)


class MailboxUsage(models.Model):
    """Bytes stored in a mailbox, as its home node last counted them: the SMTP quota check, the API
    and the dashboard of other nodes read this instead of opening a store they do not hold."""

    address = models.CharField(max_length=320, primary_key=True)
    bytes = models.BigIntegerField(default=0)
    node = models.CharField(max_length=64, blank=True)
    updated = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.address}: {self.bytes}"


class TrafficCounter(models.Model):
    """Messages per event per hour (received, delivered, relayed, deferred, bounced, rejected)."""

    hour = models.DateTimeField()
    event = models.CharField(max_length=16)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", "event"], name="unique_traffic_bucket")]
        ordering = ["-hour", "event"]


class GreylistTriplet(models.Model):
    """One (client network, sender, recipient) seen by greylisting (RFC 6647).

    ``first_seen`` starts the delay; ``passed`` is set when a retry came late enough,
    after which the triplet is accepted at once until it has been idle for the expiry.
    """

    client = models.CharField(max_length=64)  # the /24 (IPv4) or /64 (IPv6) network
    sender = models.CharField(max_length=320)
    recipient = models.CharField(max_length=320)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    passed = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "sender", "recipient"], name="unique_grey_triplet")]
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return f"{self.client} <{self.sender}> → <{self.recipient}>"


class RateCounter(models.Model):
    """Messages counted per key (``sender:<address>`` or ``ip:<address>``) per hour window."""

    key = models.CharField(max_length=340)
    window = models.DateTimeField()  # the start of the hour
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "window"], name="unique_rate_window")]
        ordering = ["-window", "key"]

    def __str__(self) -> str:
        return f"{self.key} {self.window:%Y-%m-%d %H:00}: {self.count}"


class SpamTraining(models.Model):
    """A user's verdict on a message: moved into Junk (spam) or out of it (ham), for training hooks."""

    SPAM, HAM = "spam", "ham"
    mailbox = models.CharField(max_length=320)
    verdict = models.CharField(max_length=4, choices=[(SPAM, "spam"), (HAM, "ham")])
    message_id = models.CharField(max_length=998, blank=True)
    source = models.CharField(max_length=16, blank=True)  # imap, webmail, …
    created = models.DateTimeField(default=timezone.now, db_index=True)
    used = models.BooleanField(default=False, help_text="Handed to the spam filter's learner.")

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.mailbox}: {self.verdict} {self.message_id}"


class FetchState(models.Model):
    """What the fetcher knows about one ``webadmin.ExternalSource``: last poll, last error, backoff.

    Keyed by the source id (no foreign key across apps: the engine's rows outlive
    configuration edits; a deleted source's rows are cleaned by the poller).
    """

    source_id = models.PositiveIntegerField(unique=True)
    last_run = models.DateTimeField(null=True, blank=True)
    last_success = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, help_text="Empty after a successful poll.")
    last_error_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0, help_text="Consecutive failed polls (drives the backoff).")
    next_attempt = models.DateTimeField(default=timezone.now, db_index=True)
    fetched = models.PositiveBigIntegerField(default=0, help_text="Messages collected so far.")
    # A poll holds the source while it runs, so two workers never fetch it at once.
    running_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"source {self.source_id}: {self.last_error or 'ok'}"


class FetchedMessage(models.Model):
    """A message of an external source already stored here (by POP3 UIDL or IMAP UIDVALIDITY+UID)."""

    source_id = models.PositiveIntegerField()
    uidvalidity = models.CharField(max_length=32)  # "pop3" for POP3
    ident = models.CharField(max_length=100)  # IMAP UID or POP3 UIDL (70 characters at most, RFC 1939)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source_id", "uidvalidity", "ident"], name="unique_fetched_message")
        ]


class ImportProgress(models.Model):
    """How far ``manage.py importmail`` got with one source folder into one mailbox (for resuming)."""

    source = models.CharField(max_length=1024)  # absolute path of the mbox file or Maildir folder
    address = models.CharField(max_length=320)
    done = models.PositiveIntegerField(default=0, help_text="Messages handled, in the source's order.")
    total = models.PositiveIntegerField(default=0)
    finished = models.BooleanField(default=False)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "address"], name="unique_import_progress")]

    def __str__(self) -> str:
        return f"{self.source} → {self.address}: {self.done}/{self.total}"


class LoginFailure(models.Model):
    """One failed login at any door, counted by the login guard (``agents.loginguard``).

    Kept for the guard's window only (a few minutes): every process and host reads the
    same rows, so a guesser gets no fresh tries per protocol, worker or process.
    """

    ip = models.CharField(max_length=64)
    account = models.CharField(max_length=320, blank=True)  # canonical login; "" for API tokens
    service = models.CharField(max_length=16)  # imap, pop3, smtp, webmail, staff, api
    at = models.FloatField(db_index=True)  # seconds since the epoch

    class Meta:
        indexes = [
            models.Index(fields=["ip", "at"], name="loginfailure_ip_at"),
            models.Index(fields=["account", "at"], name="loginfailure_account_at"),
        ]


class LoginLock(models.Model):
    """An account locked by the login guard after failures from many addresses: an admin alert.

    The dashboard lists the recent ones; a row stays after its lock ends, as a record.
    """

    account = models.CharField(max_length=320, db_index=True)
    until = models.DateTimeField(db_index=True)
    created = models.DateTimeField(default=timezone.now)
    addresses = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.account} locked until {self.until:%Y-%m-%d %H:%M}"


class Refusal(models.Model):
    """One refused MAIL, RCPT or DATA (or a refused webmail/sendmail submission), for the trace.

    Written in batches off the SMTP event loop (``agents.queue.refusals``) and removed
    after ``MAILAPP_REFUSAL_RETENTION_DAYS`` by a Celery beat task.
    """

    when = models.DateTimeField(default=timezone.now, db_index=True)
    source = models.CharField(max_length=16)  # smtp, submission, smtps, webmail, sendmail, forward, autoreply
    client_address = models.CharField(max_length=64, blank=True, db_index=True)
    client_name = models.CharField(max_length=255, blank=True, help_text="HELO/EHLO name")
    tls = models.CharField(max_length=64, blank=True)
    auth_user = models.CharField(max_length=320, blank=True, db_index=True)
    sender = models.CharField(max_length=512, blank=True, db_index=True)
    recipient = models.CharField(max_length=512, blank=True, db_index=True)
    command = models.CharField(max_length=8)  # MAIL, RCPT, DATA, SUBMIT
    reply = models.TextField()
    rule = models.CharField(max_length=40, help_text="Which rule decided, e.g. unknown-recipient, rate-limit")

    class Meta:
        ordering = ["-when", "-id"]

    def __str__(self) -> str:
        return f"{self.when:%Y-%m-%d %H:%M:%S} {self.command} <{self.sender}> → <{self.recipient}>: {self.rule}"


class QueueAudit(models.Model):
    """Who removed (or held, released) a queued message, and through which door.

    Kept apart from ``QueueEvent``: deleting a message deletes its events, and the
    record of the deletion must outlive it.
    """

    DASHBOARD, ADMIN, API, CLI, GUARD = "dashboard", "admin", "api", "cli", "guard"
    when = models.DateTimeField(default=timezone.now, db_index=True)
    queue_id = models.CharField(max_length=32, db_index=True)
    action = models.CharField(max_length=16)  # delete, hold, release
    who = models.CharField(max_length=320, blank=True)
    via = models.CharField(max_length=16)  # dashboard, admin, api, cli, guard
    sender = models.CharField(max_length=512, blank=True)
    recipients = models.TextField(blank=True, help_text="Comma-separated envelope recipients")
    subject = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-when", "-id"]

    def __str__(self) -> str:
        return f"{self.queue_id} {self.action} by {self.who or '?'} via {self.via}"


class AccountHold(models.Model):
    """The account guard stopped an account's sending (``agents.queue.accountguard``).

    While ``released`` is empty the account may not submit and its queued mail is held;
    an admin releases or deletes the held mail, which ends the hold.
    """

    account = models.CharField(max_length=320, db_index=True)
    domain = models.CharField(max_length=255, blank=True, db_index=True)
    created = models.DateTimeField(default=timezone.now, db_index=True)
    trigger = models.CharField(max_length=40)  # recipients, unknown-recipients, remote-rejects, new-address-burst
    detail = models.TextField(blank=True)
    client_address = models.CharField(max_length=64, blank=True)
    released = models.DateTimeField(null=True, blank=True)
    released_by = models.CharField(max_length=320, blank=True)
    outcome = models.CharField(max_length=16, blank=True)  # released | deleted

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        state = self.outcome or "held"
        return f"{self.account}: {self.trigger} ({state})"


class AccountAddress(models.Model):
    """A client address an account has submitted from: the guard's memory of "known" addresses."""

    account = models.CharField(max_length=320)
    address = models.CharField(max_length=64)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "address"], name="unique_account_address")]


class MetricCounter(models.Model):
    """A counter an agent process adds to and the web process reads at scrape time (``/metrics``).

    The database is the one collector every process on every host already shares; agents
    add to these rows in batches (``agents.metrics``), so a login costs no write of its own.
    """

    name = models.CharField(max_length=64)
    labels = models.CharField(max_length=200, blank=True)  # "protocol=imap,result=success"
    value = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "labels"], name="unique_metric_counter")]
        ordering = ["name", "labels"]

    def __str__(self) -> str:
        return f"{self.name}{{{self.labels}}} {self.value}"


class BackupRun(models.Model):
    """One run of a ``webadmin.BackupSchedule``: a backup (with its pruning) or an automatic restore test.

    Keyed by the schedule id, no foreign key across apps (like ``FetchState``): the
    history outlives an edited or deleted schedule. The dashboard lists the recent ones.
    """

    BACKUP, RESTORE_TEST = "backup", "restore-test"
    KINDS = [(BACKUP, "backup"), (RESTORE_TEST, "restore test")]
    QUEUED, RUNNING, OK, FAILED = "queued", "running", "ok", "failed"
    STATES = [(QUEUED, "queued"), (RUNNING, "running"), (OK, "ok"), (FAILED, "failed")]

    schedule_id = models.PositiveIntegerField(db_index=True)
    schedule_name = models.CharField(max_length=100)
    kind = models.CharField(max_length=12, choices=KINDS, default=BACKUP)
    trigger = models.CharField(max_length=10, default="schedule", help_text="schedule | manual")
    state = models.CharField(max_length=8, choices=STATES, default=QUEUED)
    created = models.DateTimeField(default=timezone.now)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    backup_name = models.CharField(max_length=40, blank=True, help_text="The archive's name of this backup.")
    size = models.PositiveBigIntegerField(default=0, help_text="Bytes of data the backup holds.")
    written = models.PositiveBigIntegerField(default=0, help_text="New bytes sent to the target (after compression).")
    files = models.PositiveIntegerField(default=0)
    pruned = models.PositiveIntegerField(default=0, help_text="Older backups removed by retention.")
    note = models.TextField(blank=True, help_text="What went wrong, or what a restore test found.")

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["schedule_id", "kind", "created"], name="backuprun_schedule_kind")]

    def __str__(self) -> str:
        return f"{self.kind} {self.schedule_name} {self.state}"

    @property
    def duration(self) -> float | None:
        """Seconds the run took (None while it runs)."""
        if self.started and self.finished:
            return (self.finished - self.started).total_seconds()
        return None


class MailboxMove(models.Model):
    """A mailbox moving from its home node to another (``manage.py movemailbox``, the dashboard, the API).

    The row is the move's state, which every node reads fresh: while it is ``frozen`` deliveries to
    the mailbox wait (deferred, released after the switch) and the source node ends the mailbox's
    sessions; ``switched`` says the home node has changed in the same transaction as this row.
    At most one move per mailbox is unfinished at a time."""

    COPYING, FROZEN, SWITCHED, DONE, FAILED = "copying", "frozen", "switched", "done", "failed"
    STATES = [(s, s) for s in (COPYING, FROZEN, SWITCHED, DONE, FAILED)]
    UNFINISHED = (COPYING, FROZEN, SWITCHED)

    address = models.CharField(max_length=320, db_index=True)
    source = models.CharField(max_length=64)
    target = models.CharField(max_length=64)
    state = models.CharField(max_length=10, choices=STATES, default=COPYING)
    note = models.TextField(blank=True, help_text="Progress, or why the move failed")
    messages = models.PositiveIntegerField(default=0)
    bytes = models.BigIntegerField(default=0)
    started = models.DateTimeField(default=timezone.now)
    frozen_at = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started"]
        constraints = [models.UniqueConstraint(fields=["address"], condition=models.Q(state__in=("copying", "frozen",
                                                                                                 "switched")),
                                               name="one_unfinished_move_per_mailbox")]

    def __str__(self) -> str:
        return f"{self.address}: {self.source} → {self.target} ({self.state})"
