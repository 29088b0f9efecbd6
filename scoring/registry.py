"""The model registry: every trained version with its artifact's content hash, metrics and card;
one champion that live decisions use, optionally one challenger that scores in shadow.

An artifact is verified twice on load: its files against its own manifest (scoring.artifact) and
the manifest's content hash against the one registered here, so a swapped directory refuses to
load too. Promotions are audited.
"""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Index, String, Text, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from compliance import audit
from risk_engine.db import Base, Database, UTCDateTime, utcnow
from risk_engine.decisions.ports import ReasonCode, Score
from risk_engine.errors import Conflict, DomainError, InvalidInput, NotFound
from risk_engine.ids import new_id
from scoring.artifact import ModelVersion, TamperedArtifact, load_version, model_card, save_version
from scoring.catalog import CATALOG
from scoring.snapshots import CATALOG_VERSION

STATUSES = ("candidate", "challenger", "champion", "retired")


log = logging.getLogger(__name__)

class ModelRecord(Base):
    __tablename__ = "model_version"
    __table_args__ = (
        Index("uq_model_version_one_champion", "status", unique=True,
              sqlite_where=text("status = 'champion'"), postgresql_where=text("status = 'champion'")),
        Index("uq_model_version_one_challenger", "status", unique=True,
              sqlite_where=text("status = 'challenger'"), postgresql_where=text("status = 'challenger'")),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[str] = mapped_column(String(64), unique=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    path: Mapped[str] = mapped_column(String(500), doc="artifact directory, relative to the models dir")
    status: Mapped[str] = mapped_column(String(16))
    metrics: Mapped[str] = mapped_column(Text, doc="JSON")
    training_fingerprint: Mapped[str] = mapped_column(String(64))
    card: Mapped[str] = mapped_column(Text, doc="the model card, Markdown")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128))
    promoted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    promoted_by: Mapped[str | None] = mapped_column(String(128), nullable=True)


class ModelUnavailable(DomainError):
    status = 503
    title = "No model available"
    default_code = "model_unavailable"


def register(session: Session, version: ModelVersion, models_dir: Path, *, actor: str,
             status: str = "candidate") -> ModelRecord:
    """Write the artifact under ``models_dir/<version>`` and record it (flushes; audited)."""
    if session.scalars(select(ModelRecord.id).where(ModelRecord.version == version.version)).first():
        raise Conflict(f"model version {version.version} already exists", field="version")
    directory = models_dir / version.version
    manifest = save_version(version, directory)
    record = ModelRecord(
        id=new_id("mdv"), version=version.version, content_hash=manifest["content_hash"], path=version.version,
        status="candidate", metrics=json.dumps(version.metrics, default=str),
        training_fingerprint=version.training_data.get("fingerprint", ""), card=model_card(version),
        created_by=actor,
    )
    session.add(record)
    session.flush()
    audit.record(session, actor=actor, action="model.registered", subject_type="model_version",
                 subject_id=record.id, payload={"version": record.version, "content_hash": record.content_hash,
                                                "training_fingerprint": record.training_fingerprint})
    if status != "candidate":
        set_status(session, record.version, status, actor=actor)
    return record


def get(session: Session, version: str) -> ModelRecord:
    record = session.scalars(select(ModelRecord).where(
        (ModelRecord.version == version) | (ModelRecord.id == version))).first()
    if record is None:
        raise NotFound(f"no model version {version}")
    return record


def set_status(session: Session, version: str, status: str, *, actor: str) -> ModelRecord:
    """Make a version champion (the current one retires), challenger, candidate or retired; audited."""
    if status not in STATUSES:
        raise DomainError(f"status must be one of {', '.join(STATUSES)}", field="status")
    record = get(session, version)
    previous = record.status
    if status in ("champion", "challenger"):
        for other in session.scalars(select(ModelRecord).where(ModelRecord.status == status,
                                                               ModelRecord.id != record.id)):
            other.status = "retired"
            audit.record(session, actor=actor, action="model.retired", subject_type="model_version",
                         subject_id=other.id, payload={"version": other.version, "replaced_by": record.version})
        session.flush()
    record.status = status
    if status == "champion":
        record.promoted_at, record.promoted_by = utcnow(), actor
    session.flush()
    audit.record(session, actor=actor, action=f"model.{status}", subject_type="model_version",
                 subject_id=record.id, payload={"version": record.version, "from": previous,
                                                "content_hash": record.content_hash})
    return record


def load_verified(record: Any, models_dir: Path) -> ModelVersion:
    """The artifact of ``record`` (a ``ModelRecord`` or a row with its ``path`` and ``content_hash``)."""
    version = load_version(models_dir / record.path)
    if version.model_id != record.content_hash:
        raise TamperedArtifact(f"artifact of {record.version} does not match the registered content hash",
                               field="content_hash")
    return version


def _grade_for_limits(grade: str) -> str:
    """The limit policy's scale folds the master scale's C and D into one ineligible grade."""
    return "C/D" if grade in ("C", "D") else grade


@dataclass
class _Loaded:
    record_id: str
    version: ModelVersion


_MODELS = ModelRecord.__table__
_CURRENT = select(_MODELS.c.status, _MODELS.c.version, _MODELS.c.content_hash, _MODELS.c.path).where(
    _MODELS.c.status.in_(("champion", "challenger"))
)


class RegistryScorer:
    """The decision core's ``Scorer``: the current champion, with the challenger in shadow.

    Versions are cached by content hash; the champion is looked up on every decision (one indexed
    query, in the decision's own transaction) so a promotion takes effect at once, in every worker.
    """

    def __init__(self, db: Database, models_dir: Path) -> None:
        self.db = db
        self.models_dir = models_dir
        self._cache: dict[str, ModelVersion] = {}
        self._lock = threading.Lock()

    def _version(self, record: Any) -> ModelVersion:
        with self._lock:
            cached = self._cache.get(record.content_hash)
            if cached is None:
                try:
                    cached = self._cache[record.content_hash] = load_verified(record, self.models_dir)
                except InvalidInput as exc:  # missing or tampered files: the server's problem, not the caller's
                    log.error("model artifact unusable", extra={"version": record.version, "code": exc.code,
                                                                "detail": exc.detail})
                    raise ModelUnavailable(
                        f"model {record.version} cannot be loaded ({exc.code}): an operator must restore its "
                        "files or retrain it", extra={"reason": exc.code}) from None
        trained_on = cached.training_data.get("catalog_version")
        if trained_on is not None and trained_on != CATALOG_VERSION:
            # snapshots are computed under the current catalog: a renamed feature would read as missing,
            # a changed unit as a different value
            raise ModelUnavailable(f"model {record.version} was trained on feature catalog {trained_on[:16]}, "
                                   f"the engine computes catalog {CATALOG_VERSION[:16]}: retrain it")
        return cached

    def _current(self, session: Session | None = None) -> tuple[Any, Any]:
        """The champion's and the challenger's rows (``version``, ``content_hash``, ``path``), or None: read
        in the decision's own ``session`` when given, else in a reader session of their own (which on
        SQLite never waits for the write lock a decision in progress holds)."""
        if session is not None:
            rows = session.execute(_CURRENT).all()
        else:
            with self.db.reader() as s:
                rows = s.execute(_CURRENT).all()
        by_status = {r.status: r for r in rows}
        return by_status.get("champion"), by_status.get("challenger")

    def score(
        self, features: Mapping[str, Any], attributes: Mapping[str, Any], *, session: Session | None = None
    ) -> Score:
        champion, challenger = self._current(session)
        if champion is None:
            raise ModelUnavailable("no champion model: train one (`risk-engine model train`) and promote it")
        version = self._version(champion)
        rating = version.rate(features, catalog=CATALOG)
        extra: dict[str, Any] = {"calibration": version.model.calibration_, "margin": rating.margin,
                                 "master_scale_grade": rating.grade}
        if challenger is not None:
            try:
                shadow = self._version(challenger).rate(features, catalog=CATALOG)
                extra["shadow"] = {"model_version": challenger.version, "model_hash": challenger.content_hash,
                                   "pd": shadow.pd, "grade": shadow.grade, "score": round(shadow.score)}
            except DomainError as exc:  # a broken challenger never blocks a live decision
                extra["shadow"] = {"model_version": challenger.version, "error": exc.detail}
        return Score(
            pd=rating.pd, grade=_grade_for_limits(rating.grade), score=round(rating.score),
            contributions=rating.contributions, base=rating.base,
            reason_codes=tuple(ReasonCode(code=f"R_{r['feature']}".upper(), feature=r["feature"],
                                          contribution=r["contribution"], zh=r["zh"], en=r["en"])
                               for r in rating.reasons),
            model_version=champion.version, model_hash=champion.content_hash, extra=extra,
        )
