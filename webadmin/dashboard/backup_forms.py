"""The form of a backup schedule: target, keying, frequency and retention; secrets are write-only.

A stored passphrase or S3 secret key is never put back into the page: its box
stays empty ("leave empty to keep it") and only a hint that one is set is shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django import forms

from webadmin.models import BackupSchedule

MIN_PASSPHRASE = 12


def _secret_box() -> forms.PasswordInput:
    return forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False)


class BackupScheduleForm(forms.ModelForm):
    s3_secret_key = forms.CharField(label="S3 secret key", required=False, strip=False, widget=_secret_box())
    passphrase = forms.CharField(required=False, strip=False, widget=_secret_box(),
                                 help_text=f"At least {MIN_PASSPHRASE} characters. Keep a copy away from this "
                                           "server: without it no backup can be restored.")
    passphrase_again = forms.CharField(label="Passphrase (again)", required=False, strip=False,
                                       widget=_secret_box())
    time = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                           help_text="Time of day, in the appliance's time zone.")

    class Meta:
        model = BackupSchedule
        fields = ("name", "active", "target", "directory", "s3_endpoint", "s3_bucket", "s3_prefix", "s3_region",
                  "s3_access_key", "s3_secret_key", "keying", "passphrase", "passphrase_again", "key_file",
                  "frequency", "weekday", "time", "keep_last", "keep_daily", "keep_weekly")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        row = self.instance
        if row.pk and row.s3_secret_encrypted:
            self.fields["s3_secret_key"].help_text = "A secret key is stored; leave empty to keep it."
        if row.pk and row.passphrase_encrypted:
            self.fields["passphrase"].help_text = ("A passphrase is stored; leave empty to keep it. A new one "
                                                   "only opens a new, empty archive.")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        row = self.instance
        if data.get("keying") == BackupSchedule.PASSPHRASE:
            phrase = data.get("passphrase") or ""
            if phrase and phrase != data.get("passphrase_again"):
                self.add_error("passphrase_again", "The two passphrases differ.")
            elif phrase and len(phrase) < MIN_PASSPHRASE:
                self.add_error("passphrase", f"Use at least {MIN_PASSPHRASE} characters.")
            elif not phrase and not row.passphrase_encrypted:
                self.add_error("passphrase", "Give the passphrase that keys the archive.")
        elif data.get("keying") == BackupSchedule.KEY_FILE and str(data.get("key_file", "")).startswith("/"):
            path = Path(data["key_file"])
            try:
                if path.stat().st_size < 32:
                    self.add_error("key_file", "The key file must hold at least 32 bytes "
                                               "(e.g. head -c 32 /dev/urandom > FILE).")
            except OSError as exc:
                self.add_error("key_file", f"Cannot read it: {exc.strerror or exc}.")
        if data.get("target") == BackupSchedule.S3:
            if not data.get("s3_access_key"):
                self.add_error("s3_access_key", "Give the access key of the S3 account.")
            if not data.get("s3_secret_key") and not row.s3_secret_encrypted:
                self.add_error("s3_secret_key", "Give the secret key of the S3 account.")
        return data

    def save(self, commit: bool = True) -> BackupSchedule:
        row: BackupSchedule = super().save(commit=False)
        if self.cleaned_data.get("passphrase"):
            row.set_passphrase(self.cleaned_data["passphrase"])
        if self.cleaned_data.get("s3_secret_key"):
            row.set_s3_secret(self.cleaned_data["s3_secret_key"])
        if commit:
            row.save()
        return row
