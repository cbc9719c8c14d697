"""A generated mail corpus for the learned junk filter: spam and ham that overlap, seeded, no downloads.

No public spam corpus ships in a PyPI or Debian package, so the tests and
``bench/junkfilter.py`` make their own. It is built to be not too easy: both
classes share a vocabulary of common words; ham includes receipts and newsletters
that use shopping words; a tenth of the spam is written in the words of ham topics;
spam comes from ever new senders and domains, ham mostly from a stable set of
contacts. Bodies are plain text, HTML (alone or beside text), quoted-printable or
base64. Each :class:`Corpus` is deterministic for its seed.
"""

from __future__ import annotations

import base64
import quopri
import random
from dataclasses import dataclass

COMMON = """the and for you that this with have are not your from will can all but our was one about
what when there their they more out just like time some into them other only new also any these how
then now people than first been would which because over after back work day week well way make take
please thanks thank hello dear best regards today tomorrow here know need want look good great get see
""".split()

HAM_TOPICS = {
    "work": """meeting agenda budget review project deadline report schedule quarterly slides draft
        colleague team minutes proposal client roadmap milestone sprint release planning notes feedback
        presentation office conference room calendar invite attached document spreadsheet""".split(),
    "family": """dinner weekend kids school birthday party holiday trip grandma visit photos garden
        recipe cake sunday saturday football practice doctor appointment pick""".split(),
    "receipt": """order shipped tracking package delivery invoice receipt payment total subtotal shipping
        item quantity account store purchase confirmed return refund warranty""".split(),
    "newsletter": """newsletter issue edition article community release notes changelog update subscribe
        unsubscribe readers weekly digest links open source python conference talk""".split(),
    "crypto": """bitcoin ethereum blockchain wallet token market price exchange staking defi coin
        portfolio trading chart analysis""".split(),
}
SPAM_TOPICS = {
    "pharmacy": """viagra cialis pills pharmacy prescription discount cheap generic meds online
        order now lowest price guaranteed shipping worldwide""".split(),
    "lottery": """winner prize lottery claim million dollars congratulations selected award transfer
        beneficiary fund urgent confidential bank""".split(),
    "phishing": """verify account suspended password login security alert confirm identity unusual
        activity click link immediately restore access locked""".split(),
    "crypto": """bitcoin investment profit guaranteed returns double your money crypto opportunity
        exclusive limited offer act fast rich""".split(),
    "seo": """seo ranking traffic website google first page backlinks marketing leads boost sales
        affordable package offer free audit""".split(),
    "dating": """lonely singles date tonight meet beautiful women profile photos chat hot""".split(),
}
CONTACT_NAMES = ["Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory", "Oscar"]
SHOPS = ["shop.example", "books.example", "rail.example"]
LISTS = ["python-list.example", "weekly.example"]


@dataclass
class Sample:
    raw: bytes
    spam: bool
    topic: str
    message_id: str


class Corpus:
    """``next(spam)`` makes one message; ``ham_topics`` decides what this user's ham is about."""

    def __init__(self, seed: int = 1, recipient: str = "bob@example.com",
                 ham_topics: tuple[str, ...] = ("work", "family", "receipt", "newsletter")) -> None:
        self.random = random.Random(seed)
        self.recipient = recipient
        self.ham_topics = ham_topics
        self.count = 0
        self.seed = seed

    def _words(self, topic: list[str], n: int, share: float) -> list[str]:
        r = self.random
        return [r.choice(topic) if r.random() < share else r.choice(COMMON) for _ in range(n)]

    def _text(self, topic: list[str], paragraphs: int, share: float) -> str:
        r = self.random
        out = []
        for _ in range(paragraphs):
            words = self._words(topic, r.randint(15, 60), share)
            words[0] = words[0].capitalize()
            out.append(" ".join(words) + ".")
        return "\n\n".join(out)

    def _spam_sender(self) -> tuple[str, str]:
        r = self.random
        letters = "abcdefghijklmnopqrstuvwxyz"
        domain = "".join(r.choice(letters) for _ in range(r.randint(5, 10))) + r.choice([".example", ".test"])
        local = "".join(r.choice(letters) for _ in range(r.randint(4, 8))) + str(r.randint(1, 999))
        return r.choice(["Support", "Best Deals", "Prize Team", "Admin", "Sarah", "Info"]), f"{local}@{domain}"

    def _ham_sender(self, topic: str) -> tuple[str, str]:
        r = self.random
        if topic == "receipt":
            return "Orders", f"orders@{r.choice(SHOPS)}"
        if topic in ("newsletter", "crypto"):
            return "Weekly digest", f"news@{r.choice(LISTS)}"
        name = r.choice(CONTACT_NAMES)
        return name, f"{name.lower()}@{r.choice(['work.example', 'family.example'])}"

    def next(self, spam: bool) -> Sample:
        r = self.random
        self.count += 1
        if spam:
            topic = r.choice(list(SPAM_TOPICS))
            disguised = r.random() < 0.1  # written in ham's words
            words = HAM_TOPICS[r.choice(list(HAM_TOPICS))] if disguised else SPAM_TOPICS[topic]
            name, address = self._spam_sender()
        else:
            topic = r.choice(self.ham_topics)
            words = HAM_TOPICS[topic] + (SPAM_TOPICS["seo"][-4:] if r.random() < 0.1 else [])
            name, address = self._ham_sender(topic)
        subject = " ".join(self._words(words, r.randint(2, 6), 0.7)).capitalize()
        if spam and r.random() < 0.3:
            subject = subject.upper()
        text = self._text(words, r.randint(1, 5), 0.35)
        link_host = f"{address.partition('@')[2]}" if not spam or r.random() < 0.5 else \
            r.choice(["bit.example", "cheap-meds.test", "prize-claim.test", "login-verify.test"])
        text += f"\n\nhttps://{link_host}/{r.randint(1, 99999)}\n"
        message_id = f"<{self.seed}.{self.count}.{r.getrandbits(32)}@{address.partition('@')[2]}>"
        headers = [f"From: {name} <{address}>", f"To: {self.recipient}", f"Subject: {subject}",
                   "Date: Mon, 23 Nov 2026 14:00:00 +0000", f"Message-ID: {message_id}", "MIME-Version: 1.0"]
        if not spam and topic == "newsletter":
            headers.append(f"List-Id: <{address.partition('@')[2]}>")
        if r.random() < 0.3:
            headers.append(f"X-Mailer: {r.choice(['Mutt 2.2', 'Thunderbird 115', 'MailBlaster 3'])}")
        body = self._body(text, html_only=spam and r.random() < 0.5, both=r.random() < 0.2, headers=headers)
        raw = "\r\n".join(headers).encode() + b"\r\n" + body
        return Sample(raw, spam, topic, message_id)

    def _body(self, text: str, html_only: bool, both: bool, headers: list[str]) -> bytes:
        r = self.random
        html = "<html><body>" + "".join(f"<p>{p}</p>" for p in text.split("\n\n")) + "</body></html>"
        if html_only or both:
            parts = [("text/html", html)] if html_only else [("text/plain", text), ("text/html", html)]
            boundary = f"b{r.getrandbits(40):x}"
            headers.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
            chunks = [f"--{boundary}\r\nContent-Type: {ctype}; charset=utf-8\r\n"
                      f"Content-Transfer-Encoding: {self._cte()}\r\n\r\n".encode() + self._encode(content)
                      for ctype, content in parts]
            return b"\r\n" + b"\r\n".join(chunks) + f"\r\n--{boundary}--\r\n".encode()
        cte = self._cte()
        headers += ["Content-Type: text/plain; charset=utf-8", f"Content-Transfer-Encoding: {cte}"]
        return b"\r\n" + self._encode(text, cte)

    def _cte(self) -> str:
        self._last = self.random.choice(["7bit", "7bit", "quoted-printable", "base64"])
        return self._last

    def _encode(self, text: str, cte: str | None = None) -> bytes:
        cte = cte or self._last
        data = text.encode()
        if cte == "base64":
            return base64.encodebytes(data.replace(b"\n", b"\r\n")).replace(b"\n", b"\r\n")
        if cte == "quoted-printable":
            return quopri.encodestring(data).replace(b"\n", b"\r\n")
        return data.replace(b"\n", b"\r\n") + b"\r\n"
