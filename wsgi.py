"""gunicorn entry point. Patching must come first, before anything imports ssl or socket."""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

from dotenv import load_dotenv  # noqa: E402

from app import create_app  # noqa: E402
from streamchat.settings import SettingsError  # noqa: E402

# A .env file beside the code is read in development; real environment variables win,
# and platforms that set config vars have no .env (it is not committed).
load_dotenv(override=False)

try:
    app = create_app()
except SettingsError as error:
    print(f"streamchat: configuration error: {error}", file=sys.stderr, flush=True)
    # gunicorn's "worker failed to boot" code: the master stops instead of respawning.
    raise SystemExit(3) from None
