"""An app served on a free loopback port by a thread of the test process: browser tests, contract tests."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from werkzeug.serving import WSGIRequestHandler, make_server


class _QuietRequestHandler(WSGIRequestHandler):
    """No access line per request: the app logs its own, and a fuzzer's thousands would bury a failure."""

    def log_request(self, *args, **kwargs) -> None:
        pass


@contextmanager
def serving(app, *, threaded: bool = True, quiet: bool = False) -> Iterator[str]:
    """`app` served on a free local port while the block runs; yields its base URL. `threaded=False` answers one
    request at a time; `quiet` drops werkzeug's access line per request."""
    server = make_server("127.0.0.1", 0, app, threaded=threaded,
                         request_handler=_QuietRequestHandler if quiet else None)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()
