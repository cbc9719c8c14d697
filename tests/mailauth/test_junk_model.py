"""The learned junk filter's model, without the web stack: learning, unlearning, per-user opinions,
the global fallback, sender reputation, a model that moves with its mailbox, and hostile input."""

from __future__ import annotations

import base64
import os
import shutil

import pytest

from agents.mailauth import bayes, junkmodel, learn
from agents.store import Store
from tests.fakes.junkcorpus import Corpus


def mail(subject: str, body: str, sender: str = "promo@deals.example", mid: str = "1", extra: str = "") -> bytes:
    return (f"From: Deals <{sender}>\r\nTo: bob@example.com\r\nSubject: {subject}\r\n"
            f"Message-ID: <{mid}@t>\r\n{extra}\r\n{body}\r\n").encode()


SPAM = [mail("Cheap pills online", f"Buy cheap pills at our online pharmacy, discount {i} for you",
             sender=f"x{i}@pills{i}.example", mid=f"s{i}") for i in range(3)]
HAM = [mail("Budget meeting", f"Hi Bob, the budget review meeting moves to Tuesday {i}. Regards, Carol",
            sender="carol@work.example", mid=f"h{i}") for i in range(2)]
PROBE = mail("Pharmacy discount", "Cheap pills from the online pharmacy", sender="new@elsewhere.example", mid="p")


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path / "mail")


def teach(store: Store, address: str, spam=SPAM, ham=HAM) -> None:
    box = store.mailbox(address)
    for i, raw in enumerate(spam):
        learn.learn_message(store, box, raw, junkmodel.SPAM, f"<s{i}@t>")
    for i, raw in enumerate(ham):
        learn.learn_message(store, box, raw, junkmodel.HAM, f"<h{i}@t>")


def opinion(store: Store, address: str, raw: bytes = PROBE, authenticated: bool = False):
    return learn.assessment(store.mailbox(address), raw, authenticated)


def test_after_a_few_junk_moves_a_similar_message_is_spam_for_that_user_only(store):
    teach(store, "bob@example.com")
    bob = opinion(store, "bob@example.com")
    assert bob is not None and bob.model == "user" and bob.probability > 0.9 and bob.points >= 5.0
    assert opinion(store, "alice@example.com") is None  # one user's moves do not make the global model speak
    assert opinion(store, "bob@example.com", HAM[0]).points < 0


def test_learning_a_message_twice_counts_it_once(store):
    teach(store, "bob@example.com")
    box = store.mailbox("bob@example.com")
    before = opinion(store, "bob@example.com")
    assert learn.learn_message(store, box, SPAM[0], junkmodel.SPAM, "<s0@t>") == "known"
    assert opinion(store, "bob@example.com") == before


def test_unjunking_unlearns_spam_and_lowers_the_score(store):
    teach(store, "bob@example.com")
    box = store.mailbox("bob@example.com")
    before = opinion(store, "bob@example.com")
    assert learn.learn_message(store, box, SPAM[0], junkmodel.HAM, "<s0@t>") == "relearned"
    assert learn.learn_message(store, box, SPAM[1], junkmodel.HAM, "<s1@t>") == "relearned"
    after = opinion(store, "bob@example.com")
    assert after.points < before.points
    assert junkmodel.learned_as(learn.user_model(box), "<s0@t>") == junkmodel.HAM


def test_the_global_model_stands_in_once_three_users_taught_it(store, monkeypatch):
    monkeypatch.setattr(junkmodel, "GLOBAL_MIN_MESSAGES", 3)
    for user in ("carol", "dave"):
        teach(store, f"{user}@example.com")
    assert opinion(store, "newcomer@example.com") is None
    teach(store, "erin@example.com")
    newcomer = opinion(store, "newcomer@example.com")
    assert newcomer is not None and newcomer.model == "global" and newcomer.points >= 5.0


def test_a_users_own_verdicts_win_over_the_global_model(store, monkeypatch):
    monkeypatch.setattr(junkmodel, "GLOBAL_MIN_MESSAGES", 3)
    for user in ("carol", "dave", "erin"):
        teach(store, f"{user}@example.com")
    # frank likes pharmacy mail: what the others junk, he keeps
    teach(store, "frank@example.com", spam=HAM, ham=SPAM)
    frank = opinion(store, "frank@example.com")
    assert frank.model.startswith("user") and frank.points < 0


def test_a_junked_sender_loses_reputation_and_a_kept_one_gains_it_only_when_authenticated(store):
    teach(store, "bob@example.com")
    spam_sender = mail("Hello", "nothing telling here at all", sender="x0@pills0.example", mid="q")
    assert opinion(store, "bob@example.com", spam_sender).sender > 0
    assert opinion(store, "bob@example.com", spam_sender).domain > 0
    kept = mail("Hello", "nothing telling here at all", sender="carol@work.example", mid="r")
    assert opinion(store, "bob@example.com", kept, authenticated=False).sender == 0
    assert opinion(store, "bob@example.com", kept, authenticated=True).sender < 0


def test_the_header_shows_the_contribution(store):
    teach(store, "bob@example.com")
    result = opinion(store, "bob@example.com")
    header = result.header(1.0, 5.0)
    assert header.startswith(f"X-Spam-Learned: {result.points:+.1f} (bayes={result.bayes:+.1f}")
    assert f"score={1.0 + result.points:.1f} required=5.0" in header and "model=user" in header


def test_the_model_moves_with_the_mailbox_directory(tmp_path, store):
    teach(store, "bob@example.com")
    before = opinion(store, "bob@example.com")
    elsewhere = Store(tmp_path / "moved")
    target = elsewhere.path_for("bob@example.com")
    target.parent.mkdir(parents=True)
    shutil.move(store.path_for("bob@example.com"), target)
    (store.root / ".mailapp-junkfilter.sqlite").unlink()  # the global model stays behind: only bob's own speaks
    after = opinion(elsewhere, "bob@example.com")
    assert after is not None and after.model == "user" and after.points == before.points


def test_a_generated_corpus_is_learned(store):
    """Behaviour on the bench's corpus: after 50 junk moves, most new spam is junk and no ham is."""
    corpus = Corpus(seed=5)
    box = store.mailbox("bob@example.com")
    for _ in range(50):
        for spam in (True, False, False):
            sample = corpus.next(spam)
            learn.learn_message(store, box, sample.raw, junkmodel.SPAM if spam else junkmodel.HAM, sample.message_id)
    spam_points = [opinion(store, "bob@example.com", corpus.next(True).raw).points for _ in range(40)]
    ham_points = [opinion(store, "bob@example.com", corpus.next(False).raw).points for _ in range(40)]
    assert sum(p >= 5.0 for p in spam_points) > 20
    assert not any(p >= 5.0 for p in ham_points)


# --- hostile input: bounded --------------------------------------------------------------------


def test_a_huge_message_is_read_only_up_to_the_scan_limit():
    raw = b"Subject: big\r\n\r\n" + b"filler words here " * (bayes.MAX_SCAN // 18 + 10) + b" latecomerword\r\n"
    tokens = bayes.tokenize(raw + b"x" * (8 * 1024 * 1024))
    assert "latecomerword" not in tokens.words and "filler" in tokens.words


def test_many_distinct_words_are_capped():
    body = " ".join(f"word{i:06d}" for i in range(40_000)).encode()
    tokens = bayes.tokenize(b"Subject: words\r\n\r\n" + body)
    assert len(tokens.words) == bayes.MAX_TOKENS


def test_binary_and_broken_encodings_make_bounded_tokens():
    junk = os.urandom(200_000)
    raw = (b"Subject: bin\r\nContent-Type: text/plain; charset=no-such-charset\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(junk)[:-3] + b"!!\x00\xff")
    tokens = bayes.tokenize(raw)
    assert len(tokens.words) <= bayes.MAX_TOKENS
    assert all(len(t) < 200 for t in tokens.words)
    assert len(bayes.tokenize(junk).words) <= bayes.MAX_TOKENS


def test_thousands_of_parts_and_deep_nesting_are_walked_within_caps():
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\nhello part%d\r\n" % i for i in range(5000))
    tokens = bayes.tokenize(b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + parts + b"--b--\r\n")
    assert "part0" in tokens.words and f"part{bayes.MAX_TEXT_PARTS - 1}" in tokens.words
    assert f"part{bayes.MAX_TEXT_PARTS}" not in tokens.words  # parts past the cap are not read
    nested = b"".join(b'Content-Type: multipart/mixed; boundary="n%d"\r\n\r\n--n%d\r\n' % (i, i) for i in range(3000))
    assert len(bayes.tokenize(nested + b"deep text\r\n").words) <= bayes.MAX_TOKENS


def test_a_hostile_message_is_scored_without_error(store):
    teach(store, "bob@example.com")
    raw = b"Subject: " + b"A" * 100_000 + b"\r\nFrom: " + b"<" * 50_000 + b"\r\n\r\n" + os.urandom(500_000)
    result = opinion(store, "bob@example.com", raw)
    assert result is not None and 0.0 <= result.probability <= 1.0
