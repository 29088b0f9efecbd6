"""Training a dealer PD model from the stored trade and putting it in the registry."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from risk_engine.db import Database, utcnow
from risk_engine.trade.frames import load_trade_frames
from scoring import registry
from scoring.training import train_dealer_model


def next_version_name(db: Database) -> str:
    stamp = utcnow().strftime("%Y%m%d")
    with db.session() as s:
        n = s.scalar(select(func.count()).select_from(registry.ModelRecord)
                     .where(registry.ModelRecord.version.like(f"pd-{stamp}-%")))
    return f"pd-{stamp}-{n + 1}"


def train_and_register(db: Database, models_dir: Path, *, actor: str, status: str = "candidate", seed: int = 0,
                       progress: Callable[[str], None] = lambda _m: None) -> registry.ModelRecord:
    with db.session() as s:
        frames, _ids = load_trade_frames(s)
    progress(f"loaded {len(frames.dealers)} dealers and {len(frames.orders)} orders")
    version = train_dealer_model(frames, version=next_version_name(db), seed=seed, progress=progress)
    with db.unit_of_work() as s:
        record = registry.register(s, version, models_dir, actor=actor, status=status)
    return record
