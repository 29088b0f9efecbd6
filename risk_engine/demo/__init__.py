"""The synthetic ordering platform used by ``risk-engine demo seed``, the tests and the benchmarks."""

from risk_engine.demo.synthetic import Platform, generate_platform

__all__ = ["Platform", "generate_platform"]
