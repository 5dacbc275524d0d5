"""Alembic's entry for ``flask --app app db ...`` (Flask-Migrate): the schema migrations
of streamchat's database, run against the app's own engine (DATABASE_URL, else the
SQLite file in the instance folder) with the tables' MetaData as the target.

The app's logging is left as the app set it up (no fileConfig here: it would switch
off every logger that exists already).
"""

import logging

from alembic import context
from flask import current_app

LOG = logging.getLogger("alembic.env")
config = context.config
migrate = current_app.extensions["migrate"]


def run_offline() -> None:
    """``flask db upgrade --sql``: print the SQL rather than run it."""
    url = migrate.db.engine.url.render_as_string(hide_password=False)
    context.configure(url=url, target_metadata=migrate.db.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run the migrations on a connection of the app's engine, in one transaction."""

    def skip_empty(_context, _revision, directives):
        # ``flask db migrate`` with no change to the tables writes no empty migration.
        if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []
            LOG.info("No changes in schema detected.")

    options = dict(migrate.configure_args)
    options.setdefault("process_revision_directives", skip_empty)
    with migrate.db.engine.connect() as connection:
        context.configure(connection=connection, target_metadata=migrate.db.metadata, **options)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
