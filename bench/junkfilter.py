"""The learned junk filter: precision and recall after N training moves, and the scoring cost per message.

    .venv/bin/python bench/junkfilter.py [--moves 5,10,20,50,100,200] [--test 400] [--seed 1]
                                         [--corpus DIR]

For each N, a fresh store and one user who moved N spam messages into Junk and
kept 2N read messages in the INBOX (what ``agents.mailauth.learn`` learns from),
then ``--test`` new spam and as many new ham messages are scored the way delivery
scores them (``learn.assessment``: tokenise, read both models, combine). A message
counts as junk when the learned points alone reach 5.0 (the default junk score, with
no rule points from the MX door). Also: the global model standing in for a user who
never trained (three others did), and the cost of hostile messages.

The corpus is generated (``tests/fakes/junkcorpus.py``). ``--corpus DIR`` reads
``DIR/spam/*`` and ``DIR/ham/*`` instead (for example the SpamAssassin public
corpus, unpacked): files are shuffled with the seed, the first ones train, the
last ``--test`` of each class are scored.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agents.mailauth import bayes, junkmodel, learn  # noqa: E402
from agents.store import Store  # noqa: E402
from tests.fakes.junkcorpus import Corpus  # noqa: E402

JUNK_AT = 5.0


class Source:
    """Messages to train and test with: generated, or read from a corpus directory."""

    def __init__(self, seed: int, corpus: str | None) -> None:
        self.generated = Corpus(seed) if not corpus else None
        self.files: dict[bool, list[Path]] = {}
        if corpus:
            rng = random.Random(seed)
            for spam, sub in ((True, "spam"), (False, "ham")):
                names = sorted(p for p in (Path(corpus) / sub).iterdir() if p.is_file())
                rng.shuffle(names)
                self.files[spam] = names
        self.used = {True: 0, False: 0}

    def take(self, spam: bool, n: int, test: bool = False) -> list[tuple[bytes, str]]:
        if self.generated is not None:
            return [(s.raw, s.message_id) for s in (self.generated.next(spam) for _ in range(n))]
        files = self.files[spam]
        if test:
            chosen = files[-n:]
        else:
            chosen = files[self.used[spam] : self.used[spam] + n]
            self.used[spam] += n
        return [(p.read_bytes(), f"<{p.name}@corpus>") for p in chosen]


LEARNING: list[float] = []  # seconds per learned message (both models, each write fsynced)


def train(store: Store, address: str, spam: list[tuple[bytes, str]], ham: list[tuple[bytes, str]]) -> None:
    box = store.mailbox(address)
    for verdict, messages in ((junkmodel.SPAM, spam), (junkmodel.HAM, ham)):
        for raw, mid in messages:
            start = time.perf_counter()
            learn.learn_message(store, box, raw, verdict, mid)
            LEARNING.append(time.perf_counter() - start)


def evaluate(store: Store, address: str, tests: list[tuple[bytes, bool]],
             cpu: list[float] | None = None) -> tuple[dict[str, int], list[float]]:
    box = store.mailbox(address)
    counts = {"tp": 0, "fp": 0, "tn": 0, "fn": 0}
    costs = []
    for raw, spam in tests:
        start, start_cpu = time.perf_counter(), time.process_time()
        opinion = learn.assessment(box, raw, False)
        costs.append(time.perf_counter() - start)
        if cpu is not None:
            cpu.append(time.process_time() - start_cpu)
        junk = opinion is not None and opinion.points >= JUNK_AT
        counts[("t" if junk == spam else "f") + ("p" if junk else "n")] += 1
    return counts, costs


def line(label: str, counts: dict[str, int]) -> str:
    tp, fp, fn, tn = counts["tp"], counts["fp"], counts["fn"], counts["tn"]
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    fpr = fp / (fp + tn) if fp + tn else 0.0
    return f"{label:<34} precision {precision:6.1%}  recall {recall:6.1%}  false positives {fpr:6.2%}"


def ms(values: list[float]) -> str:
    values = sorted(values)
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    return (f"mean {statistics.mean(values) * 1000:.3f} ms  p50 {values[len(values) // 2] * 1000:.3f} ms  "
            f"p99 {p99 * 1000:.3f} ms  max {values[-1] * 1000:.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--moves", default="5,10,20,50,100,200")
    parser.add_argument("--test", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3, help="users (seeds) per N, generated corpus only")
    parser.add_argument("--corpus", default=None)
    args = parser.parse_args()
    moves = [int(n) for n in args.moves.split(",")]
    all_costs: list[float] = []
    all_cpu: list[float] = []
    sizes: list[int] = []
    print(f"corpus: {args.corpus or 'generated (tests/fakes/junkcorpus.py), seed ' + str(args.seed)}; "
          f"{args.test} spam + {args.test} ham scored per user, {args.runs} users per line; "
          f"junk at {JUNK_AT} learned points")
    for n in moves:
        total = {"tp": 0, "fp": 0, "tn": 0, "fn": 0}
        for run in range(1 if args.corpus else args.runs):
            source = Source(args.seed + 1000 * run + n, args.corpus)
            with tempfile.TemporaryDirectory() as root:
                store = Store(root)
                train(store, "bob@example.com", source.take(True, n), source.take(False, 2 * n))
                tests = [(raw, True) for raw, _ in source.take(True, args.test, test=True)]
                tests += [(raw, False) for raw, _ in source.take(False, args.test, test=True)]
                sizes += [len(raw) for raw, _ in tests]
                counts, costs = evaluate(store, "bob@example.com", tests, all_cpu)
                all_costs += costs
                for k, v in counts.items():
                    total[k] += v
        print(line(f"after {n} junk moves + {2 * n} kept", total))
    if not args.corpus:
        n = max(20, moves[len(moves) // 2])
        source = Source(args.seed + 7, None)
        with tempfile.TemporaryDirectory() as root:
            store = Store(root)
            for user in ("carol", "dave", "erin"):
                train(store, f"{user}@example.com", source.take(True, n), source.take(False, 2 * n))
            tests = [(raw, True) for raw, _ in source.take(True, args.test)]
            tests += [(raw, False) for raw, _ in source.take(False, args.test)]
            counts, _ = evaluate(store, "newcomer@example.com", tests)
            print(line(f"untrained user, global model ({n}x3)", counts))
    print(f"scoring cost per message ({len(all_costs)} messages, mean size {statistics.mean(sizes) / 1024:.1f} KiB)")
    print(f"  wall clock: {ms(all_costs)}")
    print(f"  CPU time:   {ms(all_cpu)}")
    print(f"learning cost per message ({len(LEARNING)} messages, two fsynced model writes): {ms(LEARNING)}")
    with tempfile.TemporaryDirectory() as root:
        store = Store(root)
        source = Source(args.seed, None)
        train(store, "bob@example.com", source.take(True, 50), source.take(False, 100))
        box = store.mailbox("bob@example.com")
        words = " ".join(f"w{i:07d}x" for i in range(200_000))
        hostile = {
            "10 MiB of text": b"Subject: big\r\n\r\n" + b"cheap pills online now " * (10 * 1024 * 1024 // 23),
            "2 MiB of unique words": b"Subject: words\r\n\r\n" + words.encode(),
            "1 MiB of binary": b"Subject: bin\r\n\r\n" + os.urandom(1024 * 1024),
            "5000 MIME parts": b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
                               + b"--b\r\nContent-Type: text/plain\r\n\r\nhello there friend\r\n" * 5000 + b"--b--\r\n",
        }
        rng = random.Random(args.seed)
        vocabulary = [f"{rng.choice('bcdfglmnprst')}{rng.choice('aeiou')}{rng.choice('lmnrst')}{i}"
                      for i in range(5000)]
        for size in (2, 8, 32, 128, 1024):
            words, length = [], 0
            while length < size * 1024:
                words.append(rng.choice(vocabulary))
                length += len(words[-1]) + 1
            raw = b"From: a@b.example\r\nSubject: size test\r\n\r\n" + " ".join(words).encode()
            start = time.process_time()
            for _ in range(20):
                learn.assessment(box, raw, False)
            print(f"cost by size: {size:5d} KiB of text, {len(bayes.tokenize(raw).words):4d} tokens: "
                  f"{(time.process_time() - start) / 20 * 1000:.2f} ms CPU per message")
        for label, raw in hostile.items():
            start = time.perf_counter()
            tokens = bayes.tokenize(raw)
            learn.assessment(box, raw, False)
            print(f"hostile: {label:<24} {len(tokens.words):5d} tokens, tokenised then scored in "
                  f"{(time.perf_counter() - start) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
