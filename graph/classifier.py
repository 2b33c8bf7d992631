"""Issue-type classifier: MiniLM + word TF-IDF logistic regressions, calibrated, with OOS rejection.

How a message is scored (all of it numpy, well under a millisecond once the vector is known):

1. Two multinomial logistic regressions, one on the sentence embedding and one on word 1–2-gram
   TF-IDF, are averaged (`text_weight` on the TF-IDF side): the embedding knows paraphrases, the
   n-grams know the admin's exact product words.
2. The raw score of a label is its probability times the cosine similarity of the message to that
   label's nearest training example, so a message far from everything the admin wrote scores low
   even when one label wins the softmax (softmax alone is over-confident on unrelated text).
3. A Platt calibrator, fitted on out-of-fold scores from stratified cross-validation on the
   training examples, turns the raw score into the probability that the label is right.
4. Below `oos_threshold`, or when an explicit out-of-scope class wins, the message is out of scope.
   When out-of-scope examples are given, the threshold is picked on those out-of-fold scores too,
   so no held-out data is spent on tuning.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from graph.interfaces import Classification
from graph.logistic import fit_logistic, stratified_folds
from graph.tfidf import WordTfidf
from knowledge.contracts import Embedder

OUT_OF_SCOPE = "out_of_scope"
FORMAT_VERSION = 2  # 2: weights stored transposed (n_features, n_classes)
DEFAULT_THRESHOLD = 0.5
MIN_OOS_TO_TUNE = 20
MIN_THRESHOLD = 0.3  # below a 30 % chance of being right we never answer, tuned or not
_EPS = 1e-6


@dataclass
class _Linear:
    """A multinomial linear model as plain arrays: a matrix product and a softmax per call."""

    weight_t: np.ndarray  # (n_features, n_classes), C-contiguous: sparse @ it stays sub-millisecond
    bias: np.ndarray

    def proba(self, features: Any) -> np.ndarray:
        """Softmax probabilities for a (n, n_features) dense or sparse matrix."""
        logits = np.asarray(features @ self.weight_t) + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        return np.asarray(logits / logits.sum(axis=1, keepdims=True))


def _fit_linear(features: Any, y: np.ndarray, n_classes: int, c: float) -> _Linear:
    """Fit an L2 logistic regression and return its weights in the multinomial layout."""
    weight, bias = fit_logistic(features, y, n_classes, c)
    return _Linear(np.ascontiguousarray(weight.T), bias)


def _logit(p: np.ndarray) -> np.ndarray:
    """Log-odds, clipped so 0 and 1 stay finite."""
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.asarray(np.log(p / (1 - p)))


def training_fingerprint(
    examples: list[tuple[str, str]], out_of_scope_labels: set[str] | frozenset[str] = frozenset()
) -> str:
    """Hash the examples (order-free) and out-of-scope labels, so callers retrain only on change."""
    digest = hashlib.sha256(f"v{FORMAT_VERSION}\n".encode())
    for text, label in sorted(examples, key=lambda pair: (pair[1], pair[0])):
        digest.update(f"{label}\t{text}\n".encode())
    digest.update(("oos:" + ",".join(sorted(out_of_scope_labels))).encode())
    return digest.hexdigest()[:16]


class EmbeddingClassifier:
    """Calibrated issue-type classifier over an Embedder; implements graph.interfaces.Classifier."""

    def __init__(
        self,
        embedder: Embedder | None,
        *,
        text_weight: float = 0.3,
        c_embed: float = 10.0,
        c_text: float = 30.0,
        oos_threshold: float | None = None,
        oos_recall_target: float = 0.8,
        cv_folds: int = 5,
        seed: int = 0,
    ) -> None:
        self.embedder = embedder
        self.text_weight = text_weight
        self.c_embed = c_embed
        self.c_text = c_text
        self.oos_recall_target = oos_recall_target
        self.cv_folds = cv_folds
        self.seed = seed
        self._fixed_threshold = oos_threshold
        self.oos_threshold = DEFAULT_THRESHOLD if oos_threshold is None else oos_threshold
        self.labels: list[str] = []
        self.out_of_scope_labels: frozenset[str] = frozenset()
        self.fingerprint = ""
        self.calibration = (1.0, 0.0)  # Platt (slope, intercept) on the logit of the raw score
        self.cv_report: dict[str, Any] = {}

    # ----------------------------------------------------------------------------- training
    def fit(
        self,
        examples: list[tuple[str, str]],
        out_of_scope_label: str = "oos",
        out_of_scope_labels: set[str] | None = None,
        vectors: np.ndarray | None = None,
    ) -> None:
        """Train on (text, label) pairs; labels in the out-of-scope set mark things we never handle."""
        if not examples:
            raise ValueError("need at least one example to fit")
        texts = [text for text, _ in examples]
        labels = [label for _, label in examples]
        oos = set(out_of_scope_labels or ()) | {out_of_scope_label}
        oos &= set(labels)
        if not set(labels) - oos:
            raise ValueError("every example is out of scope; give at least one in-scope issue type")
        vectors = self._vectors(texts, vectors)
        self.labels = sorted(set(labels))
        self.out_of_scope_labels = frozenset(oos)
        self.fingerprint = training_fingerprint(examples, self.out_of_scope_labels)
        y = np.array([self.labels.index(label) for label in labels])
        self._fit_models(texts, vectors, y)
        self._calibrate(texts, vectors, y)

    def _vectors(self, texts: list[str], vectors: np.ndarray | None) -> np.ndarray:
        """Use the caller's vectors (e.g. from a cache) or embed the texts now."""
        if vectors is None:
            if self.embedder is None:
                raise ValueError("no embedder given and no vectors passed")
            vectors = self.embedder.embed(texts)
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape[0] != len(texts):
            raise ValueError("vectors and texts differ in length")
        return vectors

    def _fit_models(self, texts: list[str], vectors: np.ndarray, y: np.ndarray) -> None:
        """Fit both regressions and keep the in-scope training vectors for nearest-example cosine."""
        n = len(self.labels)
        self._embed_model = _fit_linear(vectors, y, n, self.c_embed)
        self._tfidf = WordTfidf()
        self._text_model = _fit_linear(self._tfidf.fit_transform(texts), y, n, self.c_text)
        self._in_scope_mask = np.array([lab not in self.out_of_scope_labels for lab in self.labels])
        keep = self._in_scope_mask[y]
        order = np.argsort(y[keep], kind="stable")
        self._train_vectors = vectors[keep][order]
        self._train_y = y[keep][order]

    def _calibrate(self, texts: list[str], vectors: np.ndarray, y: np.ndarray) -> None:
        """Fit the Platt calibrator (and, with OOS examples, the threshold) on out-of-fold scores."""
        folds = min(self.cv_folds, min(Counter(y.tolist()).values()))
        if folds < 2 or len(self.labels) < 2:
            self.calibration = (1.0, 0.0)
            self.cv_report = {"folds": 0}
            self._set_threshold(None, None)
            return
        scores, correct, oos_wins = self._out_of_fold(texts, vectors, y, folds)
        self.calibration = _fit_platt(scores, correct)
        conf = np.where(oos_wins, -1.0, self._calibrated(scores))
        is_oos = ~self._in_scope_mask[y]
        self.cv_report = {"folds": folds, "n": len(y), "accuracy": float(correct[~is_oos].mean())}
        self._set_threshold(conf, (correct, is_oos))

    def _out_of_fold(
        self, texts: list[str], vectors: np.ndarray, y: np.ndarray, folds: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Score every training example with a model that never saw it (score, right, OOS won)."""
        scores = np.zeros(len(y))
        correct = np.zeros(len(y), bool)
        oos_wins = np.zeros(len(y), bool)
        for train_idx, test_idx in stratified_folds(y, folds, self.seed):
            fold = self._clone()
            fold.labels, fold.out_of_scope_labels = self.labels, self.out_of_scope_labels
            fold._fit_models([texts[i] for i in train_idx], vectors[train_idx], y[train_idx])
            raw = fold._raw([texts[i] for i in test_idx], vectors[test_idx])
            scores[test_idx] = raw.top_score
            correct[test_idx] = (raw.top == y[test_idx]) & ~raw.oos_wins
            oos_wins[test_idx] = raw.oos_wins
        return scores, correct, oos_wins

    def _clone(self) -> EmbeddingClassifier:
        """A fresh classifier with the same settings (for cross-validation folds)."""
        return EmbeddingClassifier(
            None, text_weight=self.text_weight, c_embed=self.c_embed, c_text=self.c_text
        )

    def _set_threshold(
        self, conf: np.ndarray | None, outcome: tuple[np.ndarray, np.ndarray] | None
    ) -> None:
        """Pick the OOS threshold on out-of-fold confidences unless the caller fixed one."""
        if self._fixed_threshold is not None:
            self.oos_threshold = self._fixed_threshold
            return
        if conf is None or outcome is None or outcome[1].sum() < MIN_OOS_TO_TUNE:
            self.oos_threshold = DEFAULT_THRESHOLD  # a handful of OOS examples says little
            return
        correct, is_oos = outcome
        picked = pick_threshold(conf, correct, is_oos, self.oos_recall_target)
        self.oos_threshold = max(picked, MIN_THRESHOLD)  # OOS examples never cover everything

    # ---------------------------------------------------------------------------- inference
    def classify(self, text: str, vector: np.ndarray | None = None) -> Classification:
        """Classify one message; pass its embedding when the caller already has it."""
        vectors = None if vector is None else np.asarray(vector, np.float32).reshape(1, -1)
        return self.classify_many([text], vectors)[0]

    def classify_many(
        self, texts: list[str], vectors: np.ndarray | None = None
    ) -> list[Classification]:
        """Classify a batch (evaluation, backfills) with one matrix product per model."""
        self._require_fitted()
        raw = self._raw(texts, self._vectors(texts, vectors))
        conf = self._calibrated(raw.scores)
        return [self._decide(raw, conf, row) for row in range(len(texts))]

    def confidences(
        self, texts: list[str], vectors: np.ndarray | None = None
    ) -> tuple[list[str], np.ndarray]:
        """Best in-scope label and calibrated confidence per text (-1 when an OOS class wins)."""
        self._require_fitted()
        raw = self._raw(texts, self._vectors(texts, vectors))
        conf = np.where(raw.oos_wins, -1.0, self._calibrated(raw.top_score))
        return [self.labels[i] for i in raw.top], conf

    def _decide(self, raw: _Raw, conf: np.ndarray, row: int) -> Classification:
        """Turn one row of scores into a Classification, applying the OOS rules."""
        order = np.argsort(-conf[row])
        alternatives = tuple(
            (self.labels[i], round(float(conf[row, i]), 4))
            for i in order[:3]
            if self._in_scope_mask[i]
        )
        best = int(raw.top[row])
        confidence = float(conf[row, best])
        if raw.oos_wins[row]:  # an explicit out-of-scope topic won: name it
            label = self.labels[int(raw.winner[row])]
            return Classification(
                OUT_OF_SCOPE,
                round(float(raw.winner_proba[row]), 4),
                False,
                alternatives,
                out_of_scope_label=label,
            )
        if confidence < self.oos_threshold:
            return Classification(OUT_OF_SCOPE, round(1.0 - confidence, 4), False, alternatives)
        return Classification(self.labels[best], round(confidence, 4), True, alternatives)

    def _raw(self, texts: list[str], vectors: np.ndarray) -> _Raw:
        """Ensemble probabilities times nearest-example cosine, per label."""
        proba = (1 - self.text_weight) * self._embed_model.proba(vectors)
        if self.text_weight:
            proba += self.text_weight * self._text_model.proba(self._tfidf.transform(texts))
        nearest = self._nearest_cosine(vectors)
        scores = np.where(self._in_scope_mask, proba * np.clip(nearest, 0.0, 1.0), -1.0)
        top = scores.argmax(axis=1)  # out-of-scope columns score -1: the best in-scope label
        oos_wins = ~self._in_scope_mask[proba.argmax(axis=1)]
        winner = proba.argmax(axis=1)
        winner_proba = proba[np.arange(len(winner)), winner]
        return _Raw(scores, top, scores[np.arange(len(top)), top], oos_wins, winner, winner_proba)

    def _nearest_cosine(self, vectors: np.ndarray) -> np.ndarray:
        """Cosine to the closest training example of every label (0 for out-of-scope labels)."""
        sims = vectors @ self._train_vectors.T
        out = np.zeros((len(vectors), len(self.labels)), np.float32)
        starts = np.flatnonzero(np.r_[True, np.diff(self._train_y) != 0])
        out[:, self._train_y[starts]] = np.maximum.reduceat(sims, starts, axis=1)
        return out

    def _calibrated(self, scores: np.ndarray) -> np.ndarray:
        """Map raw scores to probabilities with the fitted Platt slope and intercept."""
        slope, intercept = self.calibration
        return 1.0 / (1.0 + np.exp(-(slope * _logit(scores) + intercept)))

    def _require_fitted(self) -> None:
        """Fail loudly instead of classifying with no model."""
        if not self.labels:
            raise RuntimeError("classifier is not fitted; call fit() or load() first")

    # -------------------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> None:
        """Write the fitted model to one .npz file (arrays and JSON only; no pickle)."""
        self._require_fitted()
        meta = {
            "version": FORMAT_VERSION,
            "labels": self.labels,
            "out_of_scope_labels": sorted(self.out_of_scope_labels),
            "fingerprint": self.fingerprint,
            "calibration": list(self.calibration),
            "oos_threshold": self.oos_threshold,
            "text_weight": self.text_weight,
            "c_embed": self.c_embed,
            "c_text": self.c_text,
            "vocabulary": {term: int(i) for term, i in self._tfidf.vocabulary_.items()},
            "cv_report": self.cv_report,
            "embedder": getattr(self.embedder, "name", None),
        }
        with open(path, "wb") as handle:
            np.savez_compressed(
                handle,
                meta=np.array(json.dumps(meta)),
                embed_w=self._embed_model.weight_t,
                embed_b=self._embed_model.bias,
                text_w=self._text_model.weight_t,
                text_b=self._text_model.bias,
                idf=self._tfidf.idf_.astype(np.float32),
                train_vectors=self._train_vectors,
                train_y=self._train_y,
            )

    @classmethod
    def load(cls, path: str | Path, embedder: Embedder | None = None) -> EmbeddingClassifier:
        """Rebuild a classifier saved by save(); the embedder is supplied, never stored."""
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta["version"] != FORMAT_VERSION:
                raise ValueError(f"unsupported classifier file version {meta['version']}")
            self = cls(
                embedder,
                text_weight=meta["text_weight"],
                c_embed=meta["c_embed"],
                c_text=meta["c_text"],
                oos_threshold=meta["oos_threshold"],
            )
            self._fixed_threshold = None
            self.labels = meta["labels"]
            self.out_of_scope_labels = frozenset(meta["out_of_scope_labels"])
            self.fingerprint = meta["fingerprint"]
            self.calibration = tuple(meta["calibration"])
            self.cv_report = meta["cv_report"]
            self._embed_model = _Linear(data["embed_w"], data["embed_b"])
            self._text_model = _Linear(data["text_w"], data["text_b"])
            self._tfidf = WordTfidf(meta["vocabulary"], data["idf"])
            self._train_vectors = data["train_vectors"]
            self._train_y = data["train_y"]
        self._in_scope_mask = np.array([lab not in self.out_of_scope_labels for lab in self.labels])
        return self


@dataclass
class _Raw:
    """Uncalibrated per-label scores plus the winning in-scope label and whether OOS won."""

    scores: np.ndarray
    top: np.ndarray
    top_score: np.ndarray
    oos_wins: np.ndarray
    winner: np.ndarray  # argmax over all labels, out-of-scope classes included
    winner_proba: np.ndarray


def _fit_platt(scores: np.ndarray, correct: np.ndarray) -> tuple[float, float]:
    """Fit sigmoid(a * logit(score) + b) to correctness; identity if it cannot be fitted."""
    if correct.all() or not correct.any():
        return (1.0, 0.0)
    weight, bias = fit_logistic(_logit(scores)[:, None], correct.astype(int), 2, 1.0, max_iter=1000)
    slope, intercept = float(weight[1, 0]), float(bias[1])
    return (slope, intercept) if slope > 0 else (1.0, 0.0)


def pick_threshold(
    confidence: np.ndarray,
    correct: np.ndarray,
    is_oos: np.ndarray,
    recall_target: float = 0.8,
) -> float:
    """Best in-scope accuracy with OOS recall >= target; else the best accuracy + recall sum.

    An item is rejected when its confidence is below the threshold (give -1 to always reject).
    """
    candidates, accuracy, recall = threshold_curve(confidence, correct, is_oos)
    feasible = recall >= recall_target
    if feasible.any():
        return float(candidates[np.flatnonzero(feasible)[accuracy[feasible].argmax()]])
    return float(candidates[(accuracy + recall).argmax()])


def threshold_curve(
    confidence: np.ndarray, correct: np.ndarray, is_oos: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """In-scope accuracy and OOS recall at every distinct threshold, in O(n log n)."""
    confidence = np.asarray(confidence, float)
    candidates = np.unique(np.r_[0.0, confidence[confidence >= 0]])
    order = np.argsort(confidence)
    sorted_conf = confidence[order]
    right = np.r_[0, np.cumsum((correct & ~is_oos)[order])]
    oos = np.r_[0, np.cumsum(is_oos[order])]
    below = np.searchsorted(sorted_conf, candidates, side="left")  # rejected = conf < threshold
    n_in, n_oos = max(int((~is_oos).sum()), 1), max(int(is_oos.sum()), 1)
    accuracy = (right[-1] - right[below]) / n_in
    recall = oos[below] / n_oos
    return candidates, accuracy, recall
