"""The database on the app: Flask-SQLAlchemy's engine (DATABASE_URL, else a SQLite file
in the instance folder) and Flask-Migrate's ``flask db`` commands over migrations/.

Tables are mapped on streamchat.database.Base (plain SQLAlchemy, so the domain layers
that own them need no Flask); Flask-SQLAlchemy holds their MetaData, builds the engine
from the app's config and gives Alembic its target.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.engine import Engine

from ..database import Base, prepare_engine
from ..settings.database import DatabaseSettings

# The extensions are bound to an app in install_database (no engine at import time).
db = SQLAlchemy(metadata=Base.metadata)
migrate = Migrate()
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
DEFAULT_FILE = "streamchat.db"


def database_url(app: Flask, settings: DatabaseSettings) -> str:
    """DATABASE_URL, or the SQLite file in the app's instance folder (made if missing)."""
    if settings.url:
        return settings.url
    folder = Path(app.instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / DEFAULT_FILE}"


def install_database(app: Flask, settings: DatabaseSettings) -> Engine:
    """Bind the database and ``flask db`` to ``app``; its engine (no connection yet)."""
    url = database_url(app, settings)
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    if not url.startswith("sqlite"):
        # A server's connection can be closed under a pool (a restart, an idle timeout):
        # test it at checkout rather than fail the request that gets it.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True}
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS))
    with app.app_context():
        engine = db.engine
    prepare_engine(engine)
    return engine
