"""The one place that talks to OpenSearch: lazy client, bounded retries, error translation.

Every call goes through ``OpenSearchClient.send(Request)``, a ``(method, path, body, params)``
value, so the ``plan`` command can write the very requests the backend would send. Errors are
translated in one context manager (like httpx's ``map_httpcore_exceptions``)::

    opensearchpy.ConnectionTimeout (no answer in timeout_s)      ->  BackendUnavailableError (503)
    opensearchpy.ConnectionError / SSLError                      ->  BackendUnavailableError (503)
    TransportError 404 index_not_found_exception                 ->  IndexNotFoundError (404)
    any other TransportError                                     ->  BackendError(status, reason)

Retries (tenacity): connection errors and HTTP 429/502/503/504 are retried up to
``opensearch.max_retries`` times with full-jitter exponential backoff capped at
``opensearch.retry_max_wait_s``; a timeout (a node that connects and does not answer) only
with ``opensearch.retry_on_timeout``, so that a hung node costs a storefront one
``timeout_s``, not ``(max_retries + 1) * timeout_s``; anything else fails at once.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from hybrid_search.config import OpenSearchSettings, redact_url
from hybrid_search.errors import (
    BackendError,
    BackendUnavailableError,
    ConfigError,
    IndexNotFoundError,
    MissingDependencyError,
)

__all__ = ["RETRY_STATUSES", "OpenSearchClient", "Request", "map_opensearch_errors", "root_cause"]

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class Request:
    """One HTTP request to OpenSearch. ``body`` is a dict, or a list of NDJSON lines."""

    method: str
    path: str
    body: Any = None
    params: dict[str, str] = field(default_factory=dict)

    def plan(self) -> dict[str, Any]:
        """``{"method", "path", "body"}`` as the ``plan`` command writes it (params in the path)."""
        path = self.path
        if self.params:
            path += "?" + "&".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return {"method": self.method, "path": path, "body": self.body}


def root_cause(info: Any) -> str:
    """The most specific ``type: reason`` in an OpenSearch error body."""
    error = info.get("error") if isinstance(info, dict) else None
    if isinstance(error, str):
        return error
    if not isinstance(error, dict):
        return str(info)[:500]
    causes = error.get("root_cause") or []
    top = causes[0] if causes and isinstance(causes[0], dict) else error
    text = f"{top.get('type', 'error')}: {top.get('reason', '')}"
    deepest = error
    while isinstance(deepest.get("caused_by"), dict):
        deepest = deepest["caused_by"]
    if deepest is not error and deepest is not top:
        text += f" (caused by {deepest.get('type', 'error')}: {deepest.get('reason', '')})"
    return text[:1000]


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def _retryable(exc: BaseException, *, on_timeout: bool = False) -> bool:
    from opensearchpy import exceptions as os_exc

    if isinstance(exc, os_exc.SSLError):
        return False  # a certificate problem does not heal by retrying
    if isinstance(exc, os_exc.ConnectionTimeout):
        return on_timeout
    if isinstance(exc, os_exc.ConnectionError):
        return True
    return isinstance(exc, os_exc.TransportError) and _status(exc) in RETRY_STATUSES


@contextmanager
def map_opensearch_errors(
    what: str, hosts: str, *, timeout_s: float | None = None, attempts: int = 1
) -> Iterator[None]:
    """Translate opensearch-py exceptions into the package's error tree, keeping the cause.

    ``timeout_s`` and ``attempts`` (the client's settings) go into the message of a timeout.

    Raises:
        BackendUnavailableError: the cluster cannot be reached (or kept answering 429/5xx).
        IndexNotFoundError: the index or alias does not exist.
        BackendError: the cluster rejected the request; status and root cause are kept.
    """
    from opensearchpy import exceptions as os_exc

    try:
        yield
    except os_exc.ConnectionTimeout as exc:
        # A hung node connects and never answers: "unreachable, check the URL" would mislead.
        budget = (
            f" within {timeout_s:g} s (HYBRID_SEARCH_OPENSEARCH__TIMEOUT_S)" if timeout_s else ""
        )
        tries = (
            f", {attempts} tries (HYBRID_SEARCH_OPENSEARCH__MAX_RETRIES)" if attempts > 1 else ""
        )
        msg = (
            f"OpenSearch at {hosts} did not answer {what}{budget}{tries}: "
            f"ConnectionTimeout: {getattr(exc, 'error', exc)}"
        )
        raise BackendUnavailableError(msg) from exc
    except os_exc.ConnectionError as exc:
        msg = (
            f"OpenSearch at {hosts} is unreachable during {what}: {type(exc).__name__}: "
            f"{getattr(exc, 'error', exc)} (check HYBRID_SEARCH_OPENSEARCH__URL, or start one "
            "with `docker compose up -d opensearch`)"
        )
        raise BackendUnavailableError(msg) from exc
    except os_exc.TransportError as exc:
        status = _status(exc)
        reason = root_cause(exc.info)
        if status == 404 and "index_not_found" in reason:
            msg = f"{what}: {reason} (run `hybrid-search opensearch bootstrap`)"
            raise IndexNotFoundError(msg) from exc
        if status in RETRY_STATUSES:
            msg = f"OpenSearch at {hosts} kept answering {status} during {what}: {reason}"
            raise BackendUnavailableError(msg) from exc
        msg = f"OpenSearch rejected {what} (HTTP {status}): {reason}"
        raise BackendError(msg, status=status, reason=reason) from exc


class OpenSearchClient:
    """A lazily created ``opensearchpy.OpenSearch`` with retries; safe to share between threads.

    Args:
        settings: the ``opensearch`` settings section (hosts, auth, TLS, timeouts, retries).
    """

    def __init__(self, settings: OpenSearchSettings) -> None:
        self.settings = settings
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def hosts(self) -> str:
        """The configured hosts, for messages (never with credentials)."""
        return ", ".join(redact_url(h) for h in self.settings.host_list())

    def _build(self) -> Any:
        try:
            from opensearchpy import OpenSearch
        except ImportError as exc:  # pragma: no cover - a core dependency
            msg = 'opensearch-py is not installed: pip install "hybrid-search"'
            raise MissingDependencyError(msg) from exc
        cfg = self.settings
        kwargs: dict[str, Any] = {
            "hosts": cfg.host_list(),
            "timeout": cfg.timeout_s,
            "max_retries": 0,  # tenacity retries, with jitter and a bound
            "retry_on_timeout": False,
            "verify_certs": cfg.verify_certs,
            "ssl_show_warn": cfg.verify_certs,
            "http_compress": cfg.http_compress,
        }
        if cfg.username is not None:
            if cfg.password is None:
                msg = "HYBRID_SEARCH_OPENSEARCH__USERNAME is set but __PASSWORD is not"
                raise ConfigError(msg)
            kwargs["http_auth"] = (cfg.username, cfg.password.get_secret_value())
        if cfg.ca_certs is not None:
            kwargs["ca_certs"] = str(cfg.ca_certs)
        if cfg.client_cert is not None:
            kwargs["client_cert"] = str(cfg.client_cert)
        if cfg.client_key is not None:
            kwargs["client_key"] = str(cfg.client_key)
        if not cfg.verify_certs:
            kwargs["ssl_assert_hostname"] = False
        return OpenSearch(**kwargs)

    @property
    def raw(self) -> Any:
        """The underlying ``opensearchpy.OpenSearch`` (created on first use)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._build()
        return self._client

    def send(
        self, request: Request, *, what: str | None = None, ignore: tuple[int, ...] = ()
    ) -> Any:
        """Send one request with retries; returns the decoded JSON response.

        Raises:
            BackendUnavailableError: unreachable, or still 429/5xx after the retries.
            IndexNotFoundError: the index or alias does not exist.
            BackendError: the cluster rejected the request.
        """
        label = what or f"{request.method} {request.path}"
        body: Any = request.body
        headers = None
        if isinstance(body, list):
            body = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in body)
            headers = {"content-type": "application/x-ndjson"}
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s %.500s", request.method, request.path, json.dumps(request.body))
        retrying = Retrying(
            stop=stop_after_attempt(self.settings.max_retries + 1),
            wait=wait_random_exponential(multiplier=0.05, max=self.settings.retry_max_wait_s),
            retry=retry_if_exception(
                lambda exc: _retryable(exc, on_timeout=self.settings.retry_on_timeout)
            ),
            reraise=True,
            before_sleep=lambda state: logger.warning(
                "retrying %s after %s (attempt %d)",
                label,
                type(state.outcome.exception()).__name__ if state.outcome else "?",
                state.attempt_number,
            ),
        )
        with map_opensearch_errors(
            label,
            self.hosts,
            timeout_s=self.settings.timeout_s,
            attempts=self.settings.max_retries + 1 if self.settings.retry_on_timeout else 1,
        ):
            return retrying(
                self.raw.transport.perform_request,
                request.method,
                request.path,
                params=request.params or None,
                body=body,
                headers=headers,
                # Explicit, so that a `timeout` URL parameter (_cluster/health) reaches the
                # cluster: without one the transport takes params["timeout"] as its own.
                timeout=self.settings.timeout_s,
                ignore=ignore,
            )

    def close(self) -> None:
        """Close the connection pool."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
