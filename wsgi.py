"""gunicorn entry point. Patching must come first, before anything imports ssl or socket."""

from gevent import monkey

monkey.patch_all()

from app import create_app  # noqa: E402

app = create_app()
