"""Several hosts (agents.cluster): nodes and their leases, AgentProcess keyed by (node, name),
the database spool of cluster mode, cached mailbox usage, queue rows pinned to a node.

AgentProcess is dropped and made again with its new key: its rows are process states that
every supervisor writes again when it starts, so nothing of value is lost.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

import agents.models


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0008_backup_runs"),
    ]

    operations = [
        migrations.DeleteModel(name="AgentProcess"),
        migrations.CreateModel(
            name="AgentProcess",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("node", models.CharField(default=agents.models._this_node, max_length=64)),
                ("name", models.CharField(max_length=32)),
                ("host", models.CharField(blank=True, max_length=255)),
                ("pid", models.IntegerField(blank=True, null=True)),
                ("state", models.CharField(default="stopped", max_length=16)),
                ("started", models.DateTimeField(blank=True, null=True)),
                ("heartbeat", models.DateTimeField(blank=True, null=True)),
                ("restarts", models.PositiveIntegerField(default=0)),
                ("last_exit", models.CharField(blank=True, max_length=100)),
                ("restart_requested", models.BooleanField(default=False)),
            ],
            options={"ordering": ["node", "name"]},
        ),
        migrations.AddConstraint(
            model_name="agentprocess",
            constraint=models.UniqueConstraint(fields=("node", "name"), name="unique_agent_per_node"),
        ),
        migrations.CreateModel(
            name="Node",
            fields=[
                ("name", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("address", models.CharField(blank=True, help_text="Where other hosts reach its listeners",
                                             max_length=255)),
                ("host", models.CharField(blank=True, max_length=255)),
                ("started", models.DateTimeField(blank=True, null=True)),
                ("renewed", models.DateTimeField(blank=True, null=True)),
                ("lease_until", models.DateTimeField(blank=True, null=True)),
            ],
            options={"ordering": ["name"]},
        ),
        migrations.CreateModel(
            name="ClusterLease",
            fields=[
                ("name", models.CharField(max_length=32, primary_key=True, serialize=False)),
                ("holder", models.CharField(blank=True, max_length=64)),
                ("acquired", models.DateTimeField(blank=True, null=True)),
                ("expires", models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.CreateModel(
            name="SpooledBody",
            fields=[
                ("message", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True,
                                                 related_name="body", serialize=False, to="agents.queuemessage")),
                ("data", models.BinaryField()),
            ],
        ),
        migrations.CreateModel(
            name="MailboxUsage",
            fields=[
                ("address", models.CharField(max_length=320, primary_key=True, serialize=False)),
                ("bytes", models.BigIntegerField(default=0)),
                ("node", models.CharField(blank=True, max_length=64)),
                ("updated", models.DateTimeField(default=django.utils.timezone.now)),
            ],
        ),
        migrations.AddField(
            model_name="queuemessage",
            name="node",
            field=models.CharField(blank=True, max_length=64),
        ),
    ]
