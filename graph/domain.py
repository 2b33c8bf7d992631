"""What this help center is about: questions near its own articles are in domain, the rest are not.

The domain score of a message is its cosine to the nearest phrasing synthesised from the team's
articles (titles, headings, first sentences) minus its cosine to the nearest sentence of a shipped
background set of generic off-topic and small-talk questions. Routing declines a message whose
score is below `domain_margin` (a threshold, so admins can move it and evals can replay it).

`calibrate` picks `domain_margin` and the answer threshold without labels: background sentences
(each scored against the others, leave-one-out) stand in for off-topic traffic, and rough
paraphrases of the synthesised phrasings (random word dropout) stand in for member questions,
with the article they came from as the right answer.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.contracts import Embedder, Hit
from knowledge.synth import paraphrase_by_dropout

BACKGROUND_FILE = Path(__file__).parent / "data" / "background.txt"
OFF_TOPIC_SHARE = 0.3  # assumed share of off-topic messages in a busy channel (for expected rates)
MARGINS = np.round(np.arange(-0.05, 0.1501, 0.01), 2)
ANSWERS = np.round(np.arange(0.60, 0.9501, 0.01), 2)
MAX_PROBES = 400
MAX_OFF_TOPIC_PASS = 0.03  # background sentences (leave-one-out) allowed through the domain gate
MAX_IN_SCOPE_DECLINED = 0.05  # synthesised phrasings (leave-self-out) the gate may turn away
TWIN_SIMILARITY = 0.85  # articles whose bodies are this alike say nearly the same: offer both


def load_background(path: Path = BACKGROUND_FILE) -> list[str]:
    """The shipped off-topic/small-talk sentences (comments and blank lines skipped)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


class DomainModel:
    """Nearest-phrasing cosine against the KB's synthesised questions and the background set."""

    def __init__(
        self,
        embedder: Embedder,
        phrasings: list[str],
        background: list[str] | None = None,
        positive: np.ndarray | None = None,
        negative: np.ndarray | None = None,
        article_vectors: dict[int, np.ndarray] | None = None,
    ) -> None:
        self.embedder = embedder
        self.article_vectors = article_vectors or {}
        self.phrasings = list(phrasings)
        self.background = list(background if background is not None else load_background())
        if positive is None and self.phrasings:
            positive = embedder.embed(self.phrasings)
        self.positive = _unit(positive) if positive is not None and len(positive) else None
        self.negative = _unit(embedder.embed(self.background) if negative is None else negative)

    def score(self, text: str, vector: np.ndarray | None = None) -> float:
        """In-domain score: cosine to the closest article phrasing minus closest background one."""
        if self.positive is None:
            return 1.0  # no knowledge yet: nothing to compare with, never decline on this
        vec = self.embedder.embed([text])[0] if vector is None else np.asarray(vector)
        return float((self.positive @ vec).max() - (self.negative @ vec).max())

    def article_similarity(self, first: int, second: int) -> float | None:
        """Cosine between two articles' opening text (None when either is unknown)."""
        a, b = self.article_vectors.get(int(first)), self.article_vectors.get(int(second))
        return None if a is None or b is None else float(np.dot(a, b))

    def twins(self, hits: list[Any]) -> bool:
        """The top two hits are different articles saying nearly the same thing."""
        if len(hits) < 2:
            return False
        first, second = (_article_id(h) for h in hits[:2])
        sim = self.article_similarity(first, second) if first != second else None
        return sim is not None and sim >= TWIN_SIMILARITY

    def in_domain_self_scores(self) -> np.ndarray:
        """Each phrasing's score against the other phrasings (leave-self-out)."""
        if self.positive is None:
            return np.zeros(0)
        same = self.positive @ self.positive.T
        np.fill_diagonal(same, -1.0)
        return np.asarray(same.max(axis=1) - (self.positive @ self.negative.T).max(axis=1))

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """score() for many vectors at once."""
        if self.positive is None:
            return np.ones(len(vectors))
        return np.asarray(
            (vectors @ self.positive.T).max(axis=1) - (vectors @ self.negative.T).max(axis=1)
        )


@dataclass
class Calibration:
    """Picked thresholds and the rates they are expected to give, for import output and admins."""

    domain_margin: float
    answer: float
    expected_wrong_rate: float  # of all messages, at OFF_TOPIC_SHARE off-topic
    expected_off_topic_answered: float  # of off-topic messages
    expected_in_scope_correct: float  # of in-scope messages (synthetic paraphrases)
    expected_in_scope_declined: float  # of in-scope messages wrongly called off-topic
    target_wrong_rate: float
    probes: int
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for settings and JSON output."""
        return {
            "domain_margin": self.domain_margin,
            "answer": self.answer,
            "expected_wrong_rate": self.expected_wrong_rate,
            "expected_off_topic_answered": self.expected_off_topic_answered,
            "expected_in_scope_correct": self.expected_in_scope_correct,
            "expected_in_scope_declined": self.expected_in_scope_declined,
            "target_wrong_rate": self.target_wrong_rate,
            "probes": self.probes,
        }


Search = Callable[[str], list[Hit]]
Confidence = Callable[[list[Hit]], float]


def calibrate(
    model: DomainModel,
    sources: list[Any],
    search: Search,
    confidence: Confidence,
    target_wrong: float = 0.02,
    seed: int = 0,
) -> Calibration:
    """Pick domain_margin, then the lowest answer threshold expected to stay within the target.

    `sources[i]` is the article id that `model.phrasings[i]` came from.
    """
    rng = random.Random(seed)
    assert model.positive is not None, "calibrate needs at least one article"
    pos, neg = model.positive, model.negative
    # off-topic stand-ins: each background sentence against the others
    nn = neg @ neg.T
    np.fill_diagonal(nn, -1.0)
    off_score = (neg @ pos.T).max(axis=1) - nn.max(axis=1)
    off_conf = np.array([_answerable(model, search(text), confidence) for text in model.background])
    # in-scope stand-ins: dropout paraphrases of the phrasings, right when the source comes first
    order = list(range(len(model.phrasings)))
    rng.shuffle(order)
    order = order[:MAX_PROBES]
    probes = [paraphrase_by_dropout(model.phrasings[i], rng) for i in order]
    probe_vecs = _unit(model.embedder.embed(probes))
    in_score = model.scores(probe_vecs)
    in_conf, in_right = np.zeros(len(probes)), np.zeros(len(probes), bool)
    for j, (i, text) in enumerate(zip(order, probes, strict=True)):
        hits = search(text)
        in_conf[j] = _answerable(model, hits, confidence)
        in_right[j] = bool(hits) and hits[0].article_id == sources[i]
    margin = pick_margin(off_score, model.in_domain_self_scores())
    off_pass, in_pass = off_score >= margin, in_score >= margin
    met = False
    answer = float(ANSWERS[-1])
    for candidate in ANSWERS:  # the lowest answer threshold whose expected wrong rate fits
        off_answered = float(np.mean(off_pass & (off_conf >= candidate)))
        in_wrong = float(np.mean(in_pass & (in_conf >= candidate) & ~in_right))
        if OFF_TOPIC_SHARE * off_answered + (1 - OFF_TOPIC_SHARE) * in_wrong <= target_wrong:
            answer, met = float(candidate), True
            break
    off_answered = float(np.mean((off_score >= margin) & (off_conf >= answer)))
    in_answered = (in_score >= margin) & (in_conf >= answer)
    wrong = OFF_TOPIC_SHARE * off_answered + (1 - OFF_TOPIC_SHARE) * float(
        np.mean(in_answered & ~in_right)
    )
    return Calibration(
        domain_margin=round(margin, 2),
        answer=round(answer, 2),
        expected_wrong_rate=round(wrong, 4),
        expected_off_topic_answered=round(off_answered, 4),
        expected_in_scope_correct=round(float(np.mean(in_answered & in_right)), 4),
        expected_in_scope_declined=round(float(np.mean(model.in_domain_self_scores() < margin)), 4),
        target_wrong_rate=target_wrong,
        probes=len(probes),
        details={
            "met_target": met,
            "probes": probes,
            "probe_sources": order,  # index of the phrasing each probe paraphrases
            "in_pass": in_pass,
            "off_pass": off_pass,
            "in_conf": in_conf,
            "off_conf": off_conf,
        },
    )


def match_answer_share(
    model: DomainModel,
    cal: Calibration,
    search: Search,
    confidence: Confidence,
    probe_search: Callable[[int, str], list[Hit]],
) -> float:
    """The answer threshold under another search (e.g. through the query adapter) that answers
    no larger a share of the calibration's stand-in messages than `cal.answer` did.

    The adapter raises every score, so thresholds from the plain search do not carry over, and
    its own phrasings cannot estimate its errors (it was fitted on them). At an equal answered
    share it ranked better on both dev sets, so the wrong rate is expected to be no higher.
    `probe_search(i, text)` searches a paraphrase of phrasing i with a map fitted without it.
    """
    d = cal.details
    in_pass, off_pass = d["in_pass"], d["off_pass"]

    def share(in_conf: np.ndarray, off_conf: np.ndarray, threshold: float) -> float:
        off = float(np.mean(off_pass & (off_conf >= threshold)))
        return OFF_TOPIC_SHARE * off + (1 - OFF_TOPIC_SHARE) * float(
            np.mean(in_pass & (in_conf >= threshold))
        )

    wanted = share(d["in_conf"], d["off_conf"], cal.answer)
    in_conf = np.array(
        [
            _answerable(model, probe_search(i, t), confidence)
            for i, t in zip(d["probe_sources"], d["probes"], strict=True)
        ]
    )
    off_conf = np.array([_answerable(model, search(t), confidence) for t in model.background])
    for candidate in ANSWERS:
        if share(in_conf, off_conf, float(candidate)) <= wanted:
            return round(float(candidate), 2)
    return round(float(ANSWERS[-1]), 2)


def pick_margin(off_scores: np.ndarray, in_scores: np.ndarray) -> float:
    """Smallest margin letting few background sentences through, unless it turns away members."""
    margin = float(MARGINS[-1])
    for candidate in MARGINS:
        if np.mean(off_scores >= candidate) <= MAX_OFF_TOPIC_PASS:
            margin = float(candidate)
            break
    while (
        margin > MARGINS[0]
        and len(in_scores)
        and np.mean(in_scores < margin) > MAX_IN_SCOPE_DECLINED
    ):
        margin = round(margin - 0.01, 2)
    return margin


def _answerable(model: DomainModel, hits: list[Hit], confidence: Confidence) -> float:
    """The confidence routing would answer at, 0 when near-duplicate articles make it ask."""
    return 0.0 if model.twins(hits) else confidence(hits)


def _article_id(hit: Any) -> int:
    return int(hit["article_id"] if isinstance(hit, dict) else hit.article_id)


def _unit(vectors: np.ndarray) -> np.ndarray:
    """Row-normalised float32 copy (embedders promise unit vectors; hashing ones may not)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)
