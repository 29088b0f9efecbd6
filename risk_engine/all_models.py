"""Imports every domain's tables so that ``Base.metadata`` is complete (Alembic, tests)."""
from __future__ import annotations

import api.console.models  # noqa: F401
import api.models  # noqa: F401
import compliance.models  # noqa: F401
import limits.models  # noqa: F401
import loan_monitoring.models  # noqa: F401
import risk_engine.decisions.models  # noqa: F401
import risk_engine.parties.models  # noqa: F401
import risk_engine.rules.models  # noqa: F401
import risk_engine.scheduler  # noqa: F401  (job_run)
import risk_engine.trade.models  # noqa: F401
import scoring.models  # noqa: F401
import scoring.registry  # noqa: F401
from risk_engine.db import Base

metadata = Base.metadata
