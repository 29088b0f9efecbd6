"""ASGI entry point for uvicorn: ``api.main:app``. Each worker process imports it afresh (uvicorn starts
workers as new interpreters), so the JSON logging is set up here, in every worker, not only in the process
that started them."""
from api.app import create_app
from api.observability import configure_logging
from risk_engine.settings import get_settings

configure_logging(get_settings().log_level)
app = create_app()
