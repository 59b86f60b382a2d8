"""Command groups of the ``hybrid-search`` CLI, one per room (API, OpenSearch, evaluation).

Each module has ``register(subparsers)``; its parsers set ``handler=`` to a function of the parsed
arguments that returns the exit code. Handlers stay thin: parse, call the room, print.
"""
