"""``hybrid-search serve``: the HTTP sidecar (FastAPI on uvicorn) over the configured index.

``--demo`` serves the bundled demo catalogue from ``<data_dir>/demo`` (built on first use,
exactly like ``hybrid-search demo``), so the playground at ``/`` works out of the box.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

__all__ = ["register"]

logger = logging.getLogger(__name__)

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _say(message: str) -> None:
    sys.stderr.write(message + "\n")


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``serve`` to the top-level parser."""
    p = sub.add_parser("serve", help="run the HTTP sidecar API and its playground page")
    p.add_argument("--demo", action="store_true", help="serve the bundled demo catalogue")
    p.add_argument("--rebuild", action="store_true", help="with --demo: rebuild the demo index")
    p.add_argument(
        "--template",
        help="index template (HYBRID_SEARCH_TEMPLATE); with --demo, products-behaviour serves the "
        "demo catalogue with behaviour vectors",
    )
    p.add_argument("--host", help="bind address (HYBRID_SEARCH_API__HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (HYBRID_SEARCH_API__PORT, default 8000)")
    p.add_argument("--no-access-log", action="store_true", help="do not log one line per request")
    p.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from hybrid_search.api import create_app
    from hybrid_search.commands.common import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, settings_from_args

    settings = settings_from_args(args, **({"template": args.template} if args.template else {}))
    searcher = None
    if args.demo:
        from hybrid_search.demo import demo_settings, open_demo_index

        settings = demo_settings(settings)
        searcher, report = open_demo_index(settings, rebuild=args.rebuild, announce=_say)
        if report is not None and report.failed:
            searcher.close()
            sys.stderr.write(f"demo catalogue rejected: {report.failed}\n")
            return EXIT_PARTIAL
    host = args.host or settings.api.host
    port = settings.api.port if args.port is None else args.port
    if not 0 <= port <= 65535:
        if searcher is not None:
            searcher.close()
        sys.stderr.write(f"error: --port {port} is out of range; allowed 0..65535\n")
        return EXIT_USAGE
    if settings.api.api_key is None and host not in _LOOPBACK:
        logger.warning(
            "serving on %s with no API key: anyone who reaches it can write "
            "(set HYBRID_SEARCH_API__API_KEY)",
            host,
        )
    app = create_app(settings, searcher=searcher)
    sys.stderr.write(f"playground: http://{host}:{port}/   API docs: http://{host}:{port}/docs\n")
    try:
        uvicorn.run(app, host=host, port=port, access_log=not args.no_access_log)
    except SystemExit as exc:  # uvicorn exits when it cannot bind; say so with our exit code
        if exc.code not in (0, None):
            sys.stderr.write(f"error: could not serve on {host}:{port} (see the log above)\n")
            return EXIT_USAGE
    finally:
        if searcher is not None:
            searcher.close()
    return EXIT_OK
