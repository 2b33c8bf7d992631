"""The graph parts an experiment's candidate arm swaps in: drafts in retrieval, its own scope.

The baseline never sees them. A DraftView over the published index (built once per set of draft
texts, cached) serves the experiment's pending KB drafts; a classifier trained on the baseline
scope plus the candidate's additions (cached by fingerprint) classifies. Both are made on the
first candidate message and reused, so no index or classifier is rebuilt per message.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import replace
from typing import Any

from bot.experiments import CandidateChange, Experiments, candidate_scope, pending_drafts
from bot.monitoring.version import version_hash
from bot.scope import ScopeStore
from graph.classifier import EmbeddingClassifier
from graph.deps import GraphDeps, ScopeEntry
from knowledge.contracts import Hit
from knowledge.drafts import DraftArticle, DraftView
from knowledge.search import HybridRetriever
from knowledge.store import KnowledgeBase

MAX_CACHED = 4  # candidate views and classifiers kept (one experiment runs at a time)


class DraftRetriever:
    """The graph's Retriever over a DraftView, with the KB's current query adapter."""

    def __init__(self, kb: KnowledgeBase, view: DraftView) -> None:
        self.kb = kb
        self.retriever = HybridRetriever(view, kb.embedder, kb.retriever.weights)

    def search(self, text: str, k: int = 5, vector: Any = None) -> list[Hit]:
        """Hybrid search over published articles with the drafts swapped in."""
        return self.retriever.search(text, k=k, adapter=self.kb.retriever.adapter)


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


class CandidateParts:
    """Builds and caches the candidate arm's retriever and classifier for the running experiment."""

    def __init__(self, kb: KnowledgeBase, scope: ScopeStore) -> None:
        self.kb = kb
        self.scope = scope
        self.experiments = Experiments(kb.engine)
        self._lock = threading.Lock()
        self._views: dict[str, DraftView] = {}
        self._classifiers: dict[str, EmbeddingClassifier | None] = {}

    def change(self, experiment: str) -> CandidateChange:
        """The change of an experiment (none when it is gone)."""
        exp = self.experiments.get(experiment)
        return CandidateChange.from_json(exp.change) if exp else CandidateChange()

    def deps(self, deps: GraphDeps, experiment: str) -> GraphDeps:
        """The baseline deps with the experiment candidate's drafts and scope swapped in."""
        return self.apply(deps, self.change(experiment))

    def apply(self, deps: GraphDeps, change: CandidateChange) -> GraphDeps:
        """The deps with a change's drafts and scope swapped in (also for replays before a start)."""
        if change.kb_drafts:
            view = self._view(change)
            if view is not None:
                deps = replace(deps, retriever=DraftRetriever(self.kb, view))
        if change.scope:
            classifier, entries = self._scope(change)
            deps = replace(deps, classifier=classifier or deps.classifier, scope=entries)
        return deps

    def version(self, stamp: str, experiment: str) -> str:
        """The candidate's bot version: the settings stamp plus its drafts' text and scope."""
        change = self.change(experiment)
        if not (change.kb_drafts or change.scope):
            return stamp
        drafts = [(d.id, d.edits, d.question, d.answer) for d in self._drafts(change)]
        scope = [a.to_dict() | {"name": a.name} for a in change.scope]
        return version_hash({"base": stamp, "drafts": drafts, "scope": scope})

    def _drafts(self, change: CandidateChange) -> list[Any]:
        return pending_drafts(self.kb.engine, change.kb_drafts)

    def _view(self, change: CandidateChange) -> DraftView | None:
        drafts = self._drafts(change)
        if not drafts:
            return None
        articles = []
        for d in drafts:
            assert d.id is not None
            version = self.kb.get(d.edits).version + 1 if d.edits is not None else 1
            articles.append(
                DraftArticle(
                    d.edits if d.edits is not None else -d.id,
                    version,
                    d.question,
                    d.answer,
                    topic=d.topic,
                )
            )
        key = _key([(a.id, a.version, a.title, a.body, a.topic) for a in articles])
        with self._lock:
            view = self._views.get(key)
            if view is None:
                view = DraftView(self.kb.index, articles)  # embeds the drafts once
                if len(self._views) >= MAX_CACHED:
                    self._views.clear()
                self._views[key] = view
            return view

    def _scope(
        self, change: CandidateChange
    ) -> tuple[EmbeddingClassifier | None, dict[str, ScopeEntry]]:
        """A classifier on the baseline scope plus the candidate's additions, and its entries."""
        rows = {r.name: r for r in self.scope.all()}
        rows.update(candidate_scope(self.kb.engine, change))
        entries = {
            r.name: ScopeEntry(
                r.name, r.in_scope, r.handoff, r.team or "support", r.resolution, r.escalate
            )
            for r in rows.values()
        }
        pairs = [(text, r.name) for r in rows.values() for text in json.loads(r.examples)]
        out = {r.name for r in rows.values() if not r.in_scope}
        key = _key(sorted(pairs), sorted(out))
        with self._lock:
            if key not in self._classifiers:
                classifier = None
                if len({label for _, label in pairs}) >= 2:
                    classifier = EmbeddingClassifier(self.kb.embedder)
                    classifier.fit(pairs, out_of_scope_labels=out)
                if len(self._classifiers) >= MAX_CACHED:
                    self._classifiers.clear()
                self._classifiers[key] = classifier
            return self._classifiers[key], entries
