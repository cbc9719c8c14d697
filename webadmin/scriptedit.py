"""One Sieve editor round (load, check and save, or the form error) for both web faces.

Webmail and the dashboard differ only in who may reach a mailbox and where they go back to;
what an edit does to the scripts is the same, so it lives here, beside ``sievescripts``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import Http404, QueryDict

from webadmin import rulescript, sievescripts


@dataclass(frozen=True)
class ScriptEdit:
    """What the editor page shows, or ``saved`` when the posted script was stored."""

    name: str
    text: str
    error: sievescripts.ScriptError | None
    saved: bool
    builder_made: bool

    def context(self) -> dict[str, object]:
        return {"name": self.name, "text": self.text, "error": self.error, "builder_made": self.builder_made}


def edit_script(mailbox_id: int, original: str, post: QueryDict | None, new_text: str) -> ScriptEdit:
    """Load ``original`` (or ``new_text`` for a new script); with ``post``, save its name and text.

    A name that is not among the mailbox's scripts is a 404, never another mailbox's script.
    """
    try:
        text = sievescripts.get_script(mailbox_id, original) if original else new_text
    except sievescripts.ScriptError as exc:
        raise Http404("No such script.") from exc
    name, error, saved = original, None, False
    if post is not None:
        name, text = str(post.get("name", "")), str(post.get("script", ""))
        try:
            sievescripts.save_edit(mailbox_id, original, name, text)
            saved = True
        except sievescripts.ScriptError as exc:
            error = exc
    builder_made = bool(original) and original == rulescript.SCRIPT_NAME and not rulescript.hand_written(mailbox_id)
    return ScriptEdit(name=name, text=text, error=error, saved=saved, builder_made=builder_made)
