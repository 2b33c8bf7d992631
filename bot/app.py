"""Wires the parts together once per process: database, knowledge, classifier, graph, service."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import revisions
from bot.candidate_parts import CandidateParts
from bot.config import Config, load_config
from bot.contracts import Member
from bot.db import make_engine
from bot.desk import EscalationDesk
from bot.desk_service import DeskService
from bot.escalation import EscalationSteps
from bot.improve.flywheel import ClassifierJob
from bot.legacy_checkpoints import migrate_legacy_checkpoints
from bot.outbox import Outbox
from bot.policy import Actor, Policy
from bot.runtime_settings import SettingsStore
from bot.scope import ScopeStore
from bot.self_calibration import (
    FAILURE_KEY,
    CalibrationJob,
    DomainBuilder,
    kb_stamp,
    self_calibrate,
)
from bot.service import SupportService
from graph.builder import build_graph
from graph.classifier import EmbeddingClassifier
from graph.deps import ClarifierHook, GraphDeps, HandoffAnalystHook, ScopeEntry
from graph.domain import DomainModel
from graph.extractive import ExtractiveAnswerer, ExtractiveSummariser
from graph.interfaces import Answerer, Summariser
from knowledge.contracts import Embedder, Hit
from knowledge.embeddings import get_embedder
from knowledge.snapshot import SnapshotFile
from knowledge.store import KnowledgeBase, article_versions

if TYPE_CHECKING:  # the LLM stack loads only when DESKHAND_LLM is set
    from bot.llm.setup import LlmRuntime
    from knowledge.read_path import KnowledgeIndex

log = logging.getLogger(__name__)
SAMPLE_DIR = Path(__file__).parent / "sample"


class KbRetriever:
    """Adapts the knowledge base to the graph's Retriever interface."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    def search(self, text: str, k: int = 5, vector: Any = None) -> list[Hit]:
        """Hybrid search through the knowledge base."""
        return self.kb.search(text, k=k)


class Deskhand:
    """The running application: every adapter and CLI command goes through one of these."""

    def __init__(
        self,
        config: Config | None = None,
        embedder: Embedder | None = None,
        read_path: bool = False,
    ) -> None:
        self.config = config or load_config()
        self.engine = make_engine(self.config.db_url)
        self.embedder = embedder or get_embedder(self.config.embedder)
        self.index: KnowledgeIndex = self._index(read_path)
        self.kb = KnowledgeBase(self.engine, self.index, self.embedder)
        self.settings = SettingsStore(self.engine)
        self.policy = Policy(self.config, self.settings, self.engine)
        self.scope = ScopeStore(self.engine)
        self.desk = EscalationDesk(self.engine, self.kb)
        self.desk_service = DeskService(self)
        self.outbox = Outbox(self.engine)
        self.escalations = EscalationSteps(self.engine)
        migrate_legacy_checkpoints(self.config, self.engine)  # pre-issue-14 homes, once
        self.graph = build_graph()  # no checkpointer: bot.conversation_state keeps the memory
        # The LLM parts: extractive until enable_llm (bot.llm.setup) swaps them and sets `llm`.
        self.answerer: Answerer = ExtractiveAnswerer()
        self.summariser: Summariser = ExtractiveSummariser()
        self.clarifier: ClarifierHook | None = None
        self.handoff_analyst: HandoffAnalystHook | None = None
        self.llm: LlmRuntime | None = None
        self._classifier: EmbeddingClassifier | None = None
        self.trained_on: list[tuple[str, str]] = []  # the (text, label) pairs it was trained on
        self._scope_entries: dict[str, ScopeEntry] = {}
        self._help_topics: list[str] = []
        self._scope_stamp: tuple[Any, ...] | None = None
        self._kb_stamp: tuple[int, str] | None = None
        self._domain: DomainModel | None = None
        self.domain_builder = DomainBuilder(self)
        self._lock = threading.Lock()
        self.repair_report = self.kb.repair()
        self.calibration_job = CalibrationJob(self)
        self.classifier_job = ClassifierJob(self)
        self.kb.on_added.append(self.calibration_job.start)
        self.service = SupportService(
            self.engine, self.graph, self.graph_deps, self.settings, self.desk, self.policy
        )
        from bot.monitoring.version import BotVersion

        self.version = BotVersion(
            self.engine, self.config.llm or f"extractive/{self.config.embedder}"
        )
        self.service.version_stamp = self.version.stamp
        self.service.candidate_parts = CandidateParts(self.kb, self.scope)
        self.service.is_staff = self._is_staff_member
        if self.config.llm:
            from bot.llm.setup import enable_llm

            enable_llm(self)
        self.calibration_job.start()  # an imported but never calibrated KB: now, not on a message

    def _index(self, read_path: bool) -> KnowledgeIndex:
        """LanceDB (kept in sync with the snapshot file), or the snapshot-first read path (`ask`)."""
        snapshot = SnapshotFile(self.config.snapshot_path)
        if read_path:
            from knowledge.read_path import ReadPathIndex

            engine = self.engine
            return ReadPathIndex(
                self.config.lance_path, self.embedder, snapshot, lambda: article_versions(engine)
            )
        from knowledge.index import LanceIndex

        return LanceIndex(self.config.lance_path, self.embedder, snapshot_file=snapshot)

    def _is_staff_member(self, platform: str, member: Member) -> bool:
        """The Policy's view of a message author (roles as the adapter saw them)."""
        actor = Actor(platform, member.user_id, member.display_name, roles=member.roles)
        return self.policy.is_staff(actor)

    # ---- graph dependencies ---------------------------------------------------------------------
    def graph_deps(self) -> GraphDeps:
        """Fresh deps for one message: picks up scope changes without a restart."""
        self._refresh_classifier()
        self._refresh_domain()
        return GraphDeps(
            retriever=KbRetriever(self.kb),
            answerer=self.answerer,
            summariser=self.summariser,
            classifier=self._classifier,
            scope=self._scope_entries,
            clarifier=self.clarifier,
            handoff_analyst=self.handoff_analyst,
            domain=self._domain,
            help_topics=self._help_topics,
        )

    def _refresh_domain(self) -> None:
        """Rebuild the domain model when articles change (calibration runs at import/start-up)."""
        stamp = kb_stamp(self)
        if stamp == self._kb_stamp:
            return
        if self.calibration_job.needed():
            self.calibration_job.start()  # only if start-up and import both missed it
        self.calibration_job.wait()  # normally finished long before the first member writes
        with self._lock:
            self._domain = self.domain_builder.build()[0] if stamp[0] else None
            self._help_topics = self.help_topics()
            self._kb_stamp = stamp

    def recalibrate(self, actor: str = "import") -> dict[str, Any]:
        """Self-calibrate on the current articles now (after an import) and use the new model."""
        with self._lock:
            result = self_calibrate(self, actor=actor)
            self._kb_stamp = None
        if self.settings.stored(FAILURE_KEY):
            self.settings.record(FAILURE_KEY, {})  # succeeded since: no longer news
        return result

    def help_topics(self) -> list[str]:
        """What the bot can help with, for greetings and declines: KB topics, else scope types."""
        topics = sorted({a.topic for a in self.kb.list() if a.topic and a.topic != "general"})
        if not topics:
            topics = [
                name.replace("_", " ") for name, e in self._scope_entries.items() if e.in_scope
            ]
        return topics[:6]

    def _scope_version(self) -> tuple[Any, ...]:
        revs = revisions.read(self.engine)
        return revs.issue_types, revs.issue_types_updated

    def _refresh_classifier(self) -> None:
        stamp = self._scope_version()
        if stamp == self._scope_stamp:
            return
        if self._classifier is not None and self.classifier_job.running():
            return  # the background job is retraining: this message uses the current classifier
        with self._lock:
            self.retrain()
            self._scope_stamp = stamp

    def retrain_now(self) -> None:
        """Retrain on the scope as it is now (the background job's step; a cached one loads)."""
        with self._lock:
            stamp = self._scope_version()
            self.retrain()
            self._scope_stamp = stamp

    def current_classifier(self) -> EmbeddingClassifier | None:
        """The classifier messages are classified with right now."""
        return self._classifier

    def retrain(self) -> str:
        """Train the issue-type classifier on the scope's example phrasings (cached by fingerprint)."""
        self._scope_entries = self.scope.entries()
        examples, out_labels = self.scope.training_examples()
        self.trained_on = examples
        if len({label for _, label in examples}) < 2:
            self._classifier = None
            return "no scope"
        fingerprint = self.scope.fingerprint()
        path = self.config.home_path / f"classifier-{fingerprint}.npz"
        classifier = None
        if path.exists():
            try:
                classifier = EmbeddingClassifier.load(path, self.embedder)
            except Exception:
                log.warning("classifier cache %s unreadable; retraining", path)
        if classifier is None:
            classifier = EmbeddingClassifier(self.embedder)
            classifier.fit(examples, out_of_scope_labels=out_labels)
            try:
                classifier.save(path)
            except Exception:
                log.warning("could not cache classifier at %s", path)
        self._classifier = classifier
        return fingerprint

    # ---- first run ------------------------------------------------------------------------------
    def load_sample(self, progress: Any = None) -> dict[str, int]:
        """Load the bundled sample help center and scope when the knowledge base is empty."""
        from knowledge.ingest import import_path

        result = {"articles": 0, "issue_types": 0}
        if not self.kb.list():
            report = import_path(self.kb, SAMPLE_DIR / "articles", progress=progress)
            result["articles"] = report.added
            self.calibration_job.wait()  # calibrated as part of the import
        if not self.scope.all():
            imported = self.scope.import_file(SAMPLE_DIR / "scope.yaml", actor="sample")
            result["issue_types"] = imported.in_scope + imported.out_of_scope
        return result


_APPS: dict[str, Deskhand] = {}


def get_app(config: Config | None = None, read_path: bool = False) -> Deskhand:
    """One Deskhand per data directory per process (`read_path`: searches from the snapshot file)."""
    config = config or load_config()
    key = config.db_url + "|" + str(config.home_path) + ("|read" if read_path else "")
    if key not in _APPS:
        _APPS[key] = Deskhand(config, read_path=read_path)
    return _APPS[key]
