"""Every mailbox's filter rows become the rule builder's Sieve script (what runs at delivery from now on).

Before, delivery compiled the rows when no script was active; now only the active script
runs, so each mailbox with rows gets the script ``rule-builder`` made from them, active
unless another script is (then the rows did not run before either). A mailbox that
already has a hand-written script by that name keeps it; its rows stay as they were.
"""

from django.db import migrations

from mailcore import sieve_rules


def forwards(apps, schema_editor):
    Filter = apps.get_model("webadmin", "Filter")
    SieveScript = apps.get_model("webadmin", "SieveScript")
    mailbox_ids = Filter.objects.values_list("mailbox_id", flat=True).distinct()
    for mailbox_id in sorted(set(mailbox_ids)):
        rows = list(Filter.objects.filter(mailbox_id=mailbox_id).order_by("position", "id"))
        text = sieve_rules.compile_rules(rows)
        existing = SieveScript.objects.filter(mailbox_id=mailbox_id, name=sieve_rules.SCRIPT_NAME).first()
        if existing is not None:
            if sieve_rules.is_generated(existing.script):
                existing.script = text
                existing.save(update_fields=["script"])
            continue
        active = not SieveScript.objects.filter(mailbox_id=mailbox_id, active=True).exists()
        SieveScript.objects.create(mailbox_id=mailbox_id, name=sieve_rules.SCRIPT_NAME, script=text, active=active)


def backwards(apps, schema_editor):
    SieveScript = apps.get_model("webadmin", "SieveScript")
    for script in SieveScript.objects.filter(name=sieve_rules.SCRIPT_NAME):
        if sieve_rules.is_generated(script.script):
            script.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("webadmin", "0007_sieve_scripts"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
