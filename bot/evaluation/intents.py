"""Intent-classification harness: CLINC150-style JSONL in, accuracy / OOS / latency figures out.

Train on `train_path`, report on `test_path`. The OOS threshold is picked by cross-validation on
the training file (inside EmbeddingClassifier.fit), so the test file stays a clean held-out set;
`val_tuned` is also reported, picked on the test file itself, and is optimistic by construction.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from graph.classifier import EmbeddingClassifier, threshold_curve
from graph.classifier import pick_threshold as _pick_from_arrays
from knowledge.contracts import Embedder

Progress = Callable[[str], None] | None
OOS = "oos"


def load_jsonl(path: str | Path) -> list[dict[str, str]]:
    """Read {"text", "intent"} rows; the harness never copies data into the repository."""
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def embed_cached(
    embedder: Embedder, texts: list[str], cache_path: str | Path | None = None
) -> np.ndarray:
    """Embed texts, reusing vectors from an .npz cache keyed by embedder name and text hash."""
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    key = f"{getattr(embedder, 'name', 'embedder')}-{digest}".replace("/", "_")
    stored: dict[str, np.ndarray] = {}
    if cache_path and Path(cache_path).exists():
        with np.load(cache_path, allow_pickle=False) as data:
            stored = {name: data[name] for name in data.files}
        if key in stored:
            return stored[key].astype(np.float32)
    vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
    if cache_path:
        stored[key] = vectors
        with open(cache_path, "wb") as handle:
            np.savez(handle, **stored)
    return vectors


def _default_embedder(embedder: Embedder | None) -> Embedder:
    """The shared MiniLM embedder unless the caller brings one."""
    if embedder is not None:
        return embedder
    from knowledge.embeddings import get_embedder

    return get_embedder("minilm")


def _say(progress: Progress, message: str) -> None:
    """Report a stage to the caller's progress callback, if any."""
    if progress is not None:
        progress(message)


def evaluate_intents(
    train_path: str | Path,
    test_path: str | Path,
    embedder: Embedder | None = None,
    threshold: float | None = None,
    progress: Progress = None,
    *,
    use_oos_train: bool = True,
    recall_target: float = 0.8,
    cache_path: str | Path | None = None,
    latency_sample: int = 300,
    classifier_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fit on train, report in-scope accuracy, OOS recall/precision, macro F1, latency and a sweep."""
    embedder = _default_embedder(embedder)
    train, test = load_jsonl(train_path), load_jsonl(test_path)
    if not use_oos_train:
        train = [row for row in train if row["intent"] != OOS]
    _say(progress, f"embedding {len(train)} train and {len(test)} test texts")
    train_vectors = embed_cached(embedder, [r["text"] for r in train], cache_path)
    test_vectors = embed_cached(embedder, [r["text"] for r in test], cache_path)
    _say(progress, "fitting (with cross-validated calibration and threshold)")
    started = time.perf_counter()
    options = {"oos_threshold": threshold, "oos_recall_target": recall_target}
    classifier = EmbeddingClassifier(embedder, **options, **(classifier_options or {}))
    classifier.fit(_pairs(train), out_of_scope_label=OOS, vectors=train_vectors)
    fit_seconds = time.perf_counter() - started
    report = score_classifier(classifier, test, test_vectors, recall_target)
    report.update(
        threshold_source="given" if threshold is not None else "cross-validation on train",
        fit_seconds=round(fit_seconds, 1),
        n_train=len(train),
        oos_train=use_oos_train,
        calibration=list(classifier.calibration),
        cv=classifier.cv_report,
    )
    if latency_sample:
        _say(progress, f"timing {latency_sample} single messages")
        report.update(measure_latency(classifier, [r["text"] for r in test], latency_sample))
    return report


def _pairs(rows: Iterable[dict[str, str]]) -> list[tuple[str, str]]:
    """JSONL rows to the (text, label) pairs the classifier takes."""
    return [(row["text"], row["intent"]) for row in rows]


def score_classifier(
    classifier: EmbeddingClassifier,
    test: list[dict[str, str]],
    vectors: np.ndarray,
    recall_target: float = 0.8,
) -> dict[str, Any]:
    """All accuracy figures at the classifier's threshold, plus the sweep and a test-tuned point."""
    texts = [row["text"] for row in test]
    truth = np.array([row["intent"] for row in test])
    labels, confidence = classifier.confidences(texts, vectors)
    figures = _figures(truth, np.array(labels), confidence, classifier.oos_threshold)
    candidates, accuracy, recall = threshold_curve(
        confidence, np.array(labels) == truth, truth == OOS
    )
    best = _pick_from_arrays(confidence, np.array(labels) == truth, truth == OOS, recall_target)
    figures["sweep"] = _sweep_points(candidates, accuracy, recall)
    predicted = np.where(confidence < classifier.oos_threshold, OOS, np.array(labels))
    figures["worst_intents"] = worst_intents(truth, predicted)
    figures["val_tuned"] = {
        "note": "threshold picked on this same test file: optimistic",
        **_figures(truth, np.array(labels), confidence, best),
    }
    return figures


def f1_per_label(truth: np.ndarray, predicted: np.ndarray, names: list[str]) -> np.ndarray:
    """F1 of each named label (0 where it has no true or predicted items), as sklearn computes it."""
    scores = np.zeros(len(names))
    for i, name in enumerate(names):
        true_pos = int(((truth == name) & (predicted == name)).sum())
        denominator = int((truth == name).sum()) + int((predicted == name).sum())
        scores[i] = 2 * true_pos / denominator if denominator else 0.0
    return scores


def macro_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Unweighted mean F1 over every label seen in either the truth or the predictions."""
    names = sorted(set(truth.tolist()) | set(predicted.tolist()))
    return float(f1_per_label(truth, predicted, names).mean()) if names else 0.0


def worst_intents(truth: np.ndarray, predicted: np.ndarray, top: int = 10) -> list[dict[str, Any]]:
    """The lowest-F1 intents and what they were most often mistaken for (confusion summary)."""
    from collections import Counter

    names = sorted(set(truth))
    scores = f1_per_label(truth, predicted, names)
    rows = []
    for index in np.argsort(scores)[:top]:
        name = names[index]
        wrong = Counter(predicted[(truth == name) & (predicted != name)])
        confused, count = wrong.most_common(1)[0] if wrong else ("", 0)
        rows.append(
            {
                "intent": name,
                "f1": round(float(scores[index]), 4),
                "confused_with": confused,
                "count": int(count),
            }
        )
    return rows


def _figures(
    truth: np.ndarray, labels: np.ndarray, confidence: np.ndarray, threshold: float
) -> dict[str, Any]:
    """In-scope accuracy, OOS recall/precision and macro F1 at one threshold."""
    predicted = np.where(confidence < threshold, OOS, labels)
    in_scope, rejected = truth != OOS, predicted == OOS
    return {
        "n": int(len(truth)),
        "n_in_scope": int(in_scope.sum()),
        "n_oos": int((~in_scope).sum()),
        "threshold": round(float(threshold), 4),
        "in_scope_accuracy": round(float((predicted == truth)[in_scope].mean()), 4),
        "oos_recall": round(float(rejected[~in_scope].mean()), 4) if (~in_scope).any() else None,
        "oos_precision": round(float((~in_scope)[rejected].mean()), 4) if rejected.any() else None,
        "macro_f1": round(float(macro_f1(truth, predicted)), 4),
    }


def _sweep_points(
    candidates: np.ndarray, accuracy: np.ndarray, recall: np.ndarray, points: int = 101
) -> list[dict[str, float]]:
    """Thin the full threshold curve to evenly spaced thresholds for plotting."""
    grid = np.linspace(0.0, 1.0, points)
    index = np.clip(np.searchsorted(candidates, grid, side="left"), 0, len(candidates) - 1)
    return [
        {
            "threshold": round(float(t), 3),
            "in_scope_accuracy": round(float(accuracy[i]), 4),
            "oos_recall": round(float(recall[i]), 4),
        }
        for t, i in zip(grid, index, strict=True)
    ]


def measure_latency(
    classifier: EmbeddingClassifier, texts: list[str], sample: int = 300, seed: int = 0
) -> dict[str, float]:
    """Per-message wall time of embed + classify, and of classify alone, in milliseconds."""
    chosen = random.Random(seed).sample(texts, min(sample, len(texts)))
    embedder = classifier.embedder
    total, alone = [], []
    for text in chosen:
        started = time.perf_counter()
        vector = embedder.embed([f"{text} "])[0] if embedder is not None else None  # miss the LRU
        middle = time.perf_counter()
        classifier.classify(text, vector)
        ended = time.perf_counter()
        total.append(ended - started)
        alone.append(ended - middle)
    return {
        "p50_ms": round(1000 * float(np.percentile(total, 50)), 2),
        "p95_ms": round(1000 * float(np.percentile(total, 95)), 2),
        "classify_p50_ms": round(1000 * float(np.percentile(alone, 50)), 3),
        "classify_p95_ms": round(1000 * float(np.percentile(alone, 95)), 3),
    }


def pick_threshold(
    classifier: EmbeddingClassifier,
    rows: list[dict[str, str]],
    vectors: np.ndarray | None = None,
    recall_target: float = 0.8,
) -> float:
    """Threshold on labelled rows: best in-scope accuracy with OOS recall >= target, else best sum.

    Tuning on the rows you then report on is optimistic; fit() already picks one by
    cross-validation on the training examples, which keeps the validation file clean.
    """
    texts = [row["text"] for row in rows]
    truth = np.array([row["intent"] for row in rows])
    labels, confidence = classifier.confidences(texts, vectors)
    return _pick_from_arrays(confidence, np.array(labels) == truth, truth == OOS, recall_target)


def sample_shots(rows: list[dict[str, str]], k: int, seed: int = 0) -> list[dict[str, str]]:
    """k rows per intent (all of them if fewer), reproducibly."""
    by_intent: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_intent[row["intent"]].append(row)
    rng = random.Random(seed)
    picked: list[dict[str, str]] = []
    for intent in sorted(by_intent):
        picked += rng.sample(by_intent[intent], min(k, len(by_intent[intent])))
    return picked


def learning_curve(
    train_path: str | Path,
    test_path: str | Path,
    shots: Iterable[int] = (5, 10, 20, 50),
    embedder: Embedder | None = None,
    progress: Progress = None,
    *,
    seed: int = 0,
    use_oos_train: bool = True,
    cache_path: str | Path | None = None,
) -> list[dict[str, Any]]:
    """Accuracy and OOS figures when each intent (and oos) has only k training examples."""
    embedder = _default_embedder(embedder)
    train, test = load_jsonl(train_path), load_jsonl(test_path)
    if not use_oos_train:
        train = [row for row in train if row["intent"] != OOS]
    train_vectors = embed_cached(embedder, [r["text"] for r in train], cache_path)
    test_vectors = embed_cached(embedder, [r["text"] for r in test], cache_path)
    position = {id(row): i for i, row in enumerate(train)}
    results = []
    for k in shots:
        _say(progress, f"{k} shots per intent")
        subset = sample_shots(train, k, seed)
        classifier = EmbeddingClassifier(embedder)
        vectors = train_vectors[[position[id(row)] for row in subset]]
        classifier.fit(_pairs(subset), out_of_scope_label=OOS, vectors=vectors)
        figures = score_classifier(classifier, test, test_vectors)
        figures.pop("sweep")
        results.append({"shots": k, "n_train": len(subset), **figures})
    return results


def plot_sweep(report: dict[str, Any], path: str | Path) -> None:
    """Save the accuracy-vs-recall trade-off curve, marking the chosen threshold."""
    from bot.evaluation.report import _pyplot

    plt = _pyplot()
    if plt is None:
        from bot.charts_extra import NO_CHARTS

        print(NO_CHARTS, file=sys.stderr)
        return

    sweep = report["sweep"]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([p["oos_recall"] for p in sweep], [p["in_scope_accuracy"] for p in sweep], ".-")
    ax.plot(report["oos_recall"], report["in_scope_accuracy"], "r*", markersize=12)
    ax.set_xlabel("OOS recall")
    ax.set_ylabel("in-scope accuracy")
    ax.set_title(f"threshold {report['threshold']}")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """`python -m bot.evaluation.intents TRAIN TEST [--curve] [--plot PNG]`: print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train")
    parser.add_argument("test")
    parser.add_argument("--threshold", type=float)
    parser.add_argument("--no-oos-train", action="store_true")
    parser.add_argument("--cache", help="npz file for cached embeddings (keep it out of the repo)")
    parser.add_argument("--curve", action="store_true", help="also run the learning curve")
    parser.add_argument("--plot", help="write the threshold sweep to this PNG")
    args = parser.parse_args(argv)
    say = lambda message: print(message, file=sys.stderr)  # noqa: E731
    options = {"use_oos_train": not args.no_oos_train, "cache_path": args.cache}
    report = evaluate_intents(args.train, args.test, None, args.threshold, say, **options)
    if args.curve:
        report["learning_curve"] = learning_curve(args.train, args.test, progress=say, **options)
    if args.plot:
        plot_sweep(report, args.plot)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
