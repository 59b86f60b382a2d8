"""Install and evolve what ``index_templates/`` describes on a cluster: bootstrap and reindex.

``bootstrap`` is idempotent: each object (index template, search pipelines, stored script) is read
back and only written when it differs; the first index version is created with its alias in one
call. ``reindex`` builds the next version, re-embeds every document, verifies the count and moves
the alias in one atomic ``_aliases`` call, so searches never see a half-built index.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hybrid_search.backends.base import Capabilities, IndexInfo
from hybrid_search.backends.opensearch import admin, stage
from hybrid_search.backends.opensearch.client import OpenSearchClient, Request, root_cause
from hybrid_search.backends.opensearch.versions import Version, parse_version, version_text
from hybrid_search.config import Settings
from hybrid_search.errors import (
    BackendError,
    BackendUnavailableError,
    IndexNotFoundError,
    ModelMismatchError,
)
from hybrid_search.hits import IngestReport
from hybrid_search.templates import IndexTemplate

__all__ = ["Bootstrapper", "OpenSearchVersion", "Step", "object_name"]

logger = logging.getLogger(__name__)

_RETRY_ITEM = 429
# Item-level 429s: the first resend after ~0.1 s, doubling up to opensearch.retry_max_wait_s;
# the jitter (at most the first wait) spreads the senders out and keeps the waits increasing.
_BULK_BACKOFF_INITIAL_S = 0.1
_HEALTH_POLL_S = 5.0  # the longest one _cluster/health wait, so the client's timeout holds
_UNSET: Any = object()


def object_name(request: Request) -> str:
    """The cluster object a bootstrap request writes (``/_scripts/<id>/<context>``: the id)."""
    parts = request.path.strip("/").split("/")
    return parts[1] if parts[0] == "_scripts" else parts[-1]


@dataclass(frozen=True)
class Step:
    """What bootstrap did to one object: ``created``, ``updated``, ``unchanged``, ``skipped``."""

    kind: str
    name: str
    action: str
    detail: str = ""


class Bootstrapper:
    """Cluster-side objects of one template behind one alias."""

    def __init__(
        self,
        client: OpenSearchClient,
        template: IndexTemplate,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.template = template
        self.settings = settings
        self.names = admin.Names(settings.opensearch.index_alias)
        self._sleep = sleep
        self._clock = clock
        self._version: Version | None = _UNSET

    # ------------------------------------------------------------ cluster
    def cluster_version(self) -> Version | None:
        """The cluster's version from ``GET /`` (read once), None when it names none.

        Raises:
            BackendUnavailableError: the cluster cannot be reached.
        """
        if self._version is _UNSET:
            info = self.client.send(Request("GET", "/"), what="read the cluster version")
            version = parse_version(info)
            if version is None:
                logger.warning("GET / names no version (%.200r): assuming the newest", info)
            self._version = version
        return self._version

    def wait_for_cluster(self, timeout_s: float) -> None:
        """Wait until ``GET /_cluster/health?wait_for_status=yellow`` answers, for ``timeout_s``.

        A container that starts beside OpenSearch runs this before bootstrap: unreachable and
        red are waited out, polling at most every ``_HEALTH_POLL_S`` seconds.

        Raises:
            BackendUnavailableError: not yellow or green within ``timeout_s`` (the CLI exits 3).
        """
        deadline = self._clock() + timeout_s
        last = "no answer yet"
        while True:
            remaining = deadline - self._clock()
            wait = max(1, int(min(remaining, _HEALTH_POLL_S, self.client.settings.timeout_s - 1)))
            params = {"wait_for_status": "yellow", "timeout": f"{wait}s"}
            try:
                # 408: the wait timed out (the body still says the status).
                got = self.client.send(
                    Request("GET", "/_cluster/health", None, params),
                    what="wait for cluster health",
                    ignore=(408,),
                )
                status = got.get("status")
                if status in ("yellow", "green") and not got.get("timed_out"):
                    logger.info("cluster %s is %s", got.get("cluster_name"), status)
                    return
                last = f"status {status}"
            except BackendUnavailableError as exc:
                last = str(exc)
            remaining = deadline - self._clock()
            if remaining <= 0:
                msg = (
                    f"OpenSearch at {self.client.hosts} was not ready (health yellow) within "
                    f"{timeout_s:g} s (--wait / HYBRID_SEARCH_OPENSEARCH__BOOTSTRAP_WAIT_S): {last}"
                )
                raise BackendUnavailableError(msg)
            self._sleep(min(1.0, remaining))

    # ----------------------------------------------------------- requests
    def requests(
        self, *, model_id: str, dimension: int, version: Version | None = None
    ) -> list[tuple[str, Request]]:
        """Every write bootstrap may send, labelled (``plan`` writes these), for the cluster's
        ``version`` (None: the newest; the RRF pipeline body depends on it)."""
        names = self.names
        out = [
            (
                "index_template",
                Request(
                    "PUT",
                    f"/_index_template/{names.template}",
                    admin.template_body(self.template, names),
                ),
            ),
        ]
        pipelines = admin.pipeline_bodies(self.settings.search, names, version=version)
        for name, body in pipelines.items():
            out.append(("search_pipeline", Request("PUT", f"/_search/pipeline/{name}", body)))
        source = stage.commercial_script_source(self.template)
        script = Request("PUT", admin.script_path(names.script), admin.script_body(source))
        out.append(("script", script))
        body = admin.create_index_body(
            self.template, model_id=model_id, dimension=dimension, alias=names.alias
        )
        out.append(("create_index", Request("PUT", f"/{names.index(1)}", body)))
        return out

    # ----------------------------------------------------------- bootstrap
    def _get(self, path: str) -> Any:
        resp = self.client.send(Request("GET", path), what=f"GET {path}", ignore=(400, 404))
        return None if resp.get("status") == 404 or "error" in resp else resp

    def _put_if_changed(self, kind: str, name: str, req: Request, current: Any) -> Step:
        if current == req.body:
            return Step(kind, name, "unchanged")
        self.client.send(req, what=f"install {kind} {name}")
        return Step(kind, name, "created" if current is None else "updated")

    def run(self, *, model_id: str, dimension: int, required_only: bool = False) -> list[Step]:
        """Install the template, pipelines and script, and the first index version if none.

        Pipelines need the neural-search plugin: a refused pipeline is skipped (with the reason)
        unless it is the one native mode searches with (RRF weights need 3.1, for example).
        ``required_only`` (what a write needs) leaves out the pipelines in sidecar mode and the
        stored script when the inline source is used.

        Raises:
            BackendError: the cluster refused an object.
            BackendUnavailableError: the cluster cannot be reached.
        """
        steps: list[Step] = []
        cfg = self.settings.opensearch
        pipelines = not required_only or cfg.mode == "native"
        version = self.cluster_version() if pipelines else None
        if pipelines and admin.rrf_weights_dropped(self.settings.search, version):
            logger.warning(
                "RRF pipeline %s: OpenSearch %s cannot weight RRF (weights need 3.1), so the "
                "configured weights %s are not applied to native RRF searches",
                self.names.rrf_pipeline,
                version_text(version),
                admin.weights_of(self.settings.search),
            )
        for kind, req in self.requests(model_id=model_id, dimension=dimension, version=version):
            name = object_name(req)
            if required_only and (
                (kind == "search_pipeline" and cfg.mode != "native")
                or (kind == "script" and cfg.commercial_script != "stored")
            ):
                continue
            if kind == "index_template":
                got = self._get(req.path)
                templates = (got or {}).get("index_templates") or []
                current = templates[0].get("index_template") if templates else None
                # The cluster echoes settings as strings: compare the digest stored in _meta.
                digest = ((current or {}).get("_meta") or {}).get("hybrid_search_digest")
                same = digest == self.template.digest and current is not None
                steps.append(self._put_if_changed(kind, name, req, req.body if same else current))
            elif kind == "search_pipeline":
                steps.append(self._pipeline(req, name))
            elif kind == "script":
                steps.append(self._script(req, name))
            else:
                steps.append(self._first_index(req, model_id))
        for step in steps:
            logger.info("bootstrap %s %s: %s %s", step.kind, step.name, step.action, step.detail)
        return steps

    def _pipeline(self, req: Request, name: str) -> Step:
        try:
            current = (self._get(req.path) or {}).get(name)
            return self._put_if_changed("search_pipeline", name, req, current)
        except BackendError as exc:
            rrf = self.settings.search.combination == "rrf"
            used = self.names.rrf_pipeline if rrf else self.names.minmax_pipeline
            if self.settings.opensearch.mode == "native" and name == used:
                raise  # the pipeline native searches name: without it they would be wrong
            return Step("search_pipeline", name, "skipped", f"{exc.reason or exc}")

    def _script(self, req: Request, name: str) -> Step:
        try:
            got = self._get(f"/_scripts/{name}")
            current = {"script": got["script"]} if got and got.get("found") else None
            return self._put_if_changed("script", name, req, current)
        except BackendError as exc:
            # A compile error fails either way: the inline source is the same painless.
            compile_error = "script_exception" in (exc.reason or "")
            if self.settings.opensearch.commercial_script == "stored" or compile_error:
                raise
            return Step("script", name, "skipped", f"{exc.reason or exc} (inline source is used)")

    def current_index(self) -> str | None:
        """The index the alias points at, or None when the alias does not exist."""
        got = self._get(f"/_alias/{self.names.alias}")
        if not got:
            return None
        indices = sorted(str(name) for name in got)
        if len(indices) != 1:
            msg = f"alias {self.names.alias} points at {indices}; expected exactly one index"
            raise BackendError(msg)
        return indices[0]

    def _first_index(self, req: Request, model_id: str) -> Step:
        current = self.current_index()
        if current is None:
            self.client.send(req, what=f"create index {req.path.strip('/')}")
            return Step("create_index", req.path.strip("/"), "created", f"alias {self.names.alias}")
        meta = self.index_meta(current)
        if meta.get("template_digest") != self.template.digest:
            detail = (
                f"built from template digest {meta.get('template_digest')}, the template is now "
                f"{self.template.digest}: run `hybrid-search opensearch reindex`"
            )
            return Step("create_index", current, "stale", detail)
        if meta.get("model_id") != model_id:
            detail = (
                f"embedded with {meta.get('model_id')!r}: run `hybrid-search opensearch reindex`"
            )
            return Step("create_index", current, "stale", detail)
        return Step("create_index", current, "unchanged", f"alias {self.names.alias}")

    def index_meta(self, index: str) -> dict[str, Any]:
        """The ``_meta.hybrid_search`` block stored in an index mapping."""
        got = self.client.send(Request("GET", f"/{index}/_mapping"), what="read index _meta")
        first: dict[str, Any] = next(iter(got.values()), {}) if got else {}
        mappings = first.get("mappings") or {}
        meta = (mappings.get("_meta") or {}).get(admin.META_KEY)
        return dict(meta) if isinstance(meta, dict) else {}

    def info(self) -> IndexInfo:
        """Model, dimension, digest and count of the alias's index.

        Raises:
            IndexNotFoundError: the alias does not exist.
        """
        current = self.current_index()
        if current is None:
            msg = (
                f"alias {self.names.alias} does not exist: run `hybrid-search opensearch bootstrap`"
            )
            raise IndexNotFoundError(msg)
        meta = self.index_meta(current)
        count = self.client.send(Request("GET", f"/{current}/_count"), what="count")
        return IndexInfo(
            model_id=str(meta.get("model_id")),
            dimension=int(meta.get("dimension", 0)),
            template_digest=str(meta.get("template_digest")),
            documents=int(count.get("count", 0)),
        )

    def check_model(self, model_id: str) -> IndexInfo:
        """The index info, refusing an index embedded with another model.

        Raises:
            ModelMismatchError: the stored model id differs.
        """
        info = self.info()
        if info.model_id != model_id:
            msg = (
                f"alias {self.names.alias} was embedded with model {info.model_id!r}, but the "
                f"configured model is {model_id!r}: use the same model "
                "(HYBRID_SEARCH_EMBEDDING__MODEL) or run `hybrid-search opensearch reindex`"
            )
            raise ModelMismatchError(msg)
        return info

    # ---------------------------------------------------------------- bulk
    def _bulk_backoff(self, attempt: int) -> float:
        """Seconds before resending the 429 items of try ``attempt`` (0-based): jittered,
        exponential, capped at ``opensearch.retry_max_wait_s``."""
        # tenacity's wait_exponential_jitter, without its argument names that changed in 9.x
        jitter = random.uniform(0.0, _BULK_BACKOFF_INITIAL_S)
        wait = _BULK_BACKOFF_INITIAL_S * 2.0**attempt + jitter
        return min(wait, self.settings.opensearch.retry_max_wait_s)

    def bulk_index(
        self, index: str, docs: Sequence[dict[str, Any]], vectors: np.ndarray, *, refresh: str
    ) -> IngestReport:
        """One ``_bulk`` of upserts; items refused with 429 are resent after a backoff (bounded
        by ``opensearch.max_retries``), the rest of the failures are reported with OpenSearch's
        reason."""
        report = IngestReport()
        pending = list(range(len(docs)))
        id_field = self.template.id_field
        for attempt in range(self.settings.opensearch.max_retries + 1):
            lines = admin.bulk_index_lines(
                index, [docs[i] for i in pending], vectors[pending], self.template
            )
            resp = self.client.send(
                Request("POST", "/_bulk", lines, {"refresh": refresh}), what="bulk"
            )
            retry: list[int] = []
            for row, item in zip(pending, resp.get("items", []), strict=False):
                result: dict[str, Any] = next(iter(item.values()), {})
                status = int(result.get("status", 500))
                if status < 300:
                    report.indexed += 1
                elif status == _RETRY_ITEM and attempt < self.settings.opensearch.max_retries:
                    retry.append(row)
                else:
                    report.failed.append((str(docs[row][id_field]), root_cause(result)))
            answered = len(resp.get("items", []))
            for row in pending[answered:]:  # never silently dropped
                report.failed.append((str(docs[row][id_field]), "no bulk item in the response"))
            if not retry:
                break
            wait = self._bulk_backoff(attempt)
            logger.warning("bulk: %d items refused with 429, resending in %.2f s", len(retry), wait)
            self._sleep(wait)
            pending = retry
        return report

    # ------------------------------------------------------------- reindex
    def scan_index(self, index: str, page: int = 500) -> Iterator[list[dict[str, Any]]]:
        """Pages of every document's ``_source`` in ``index``, by id (``search_after``); the
        knn vector comes along only with ``vector_blocks`` (its non-text blocks are kept)."""
        id_field, after = self.template.id_field, None
        while True:
            body: dict[str, Any] = {
                "size": page,
                "sort": [id_field],  # ascending; the object forms are ambiguous in the spec
                # With vector_blocks the knn vector comes along: its non-text blocks are kept.
                "_source": (
                    True
                    if self.template.blocks is not None
                    else {"excludes": [self.template.vector.name]}
                ),
                "query": {"match_all": {}},
            }
            if after is not None:
                body["search_after"] = after
            hits = self.client.send(Request("POST", f"/{index}/_search", body), what="scan")
            hits = hits.get("hits", {}).get("hits", [])
            if not hits:
                return
            yield [h.get("_source") or {} for h in hits]
            after = hits[-1]["sort"]

    def drop_indices(self) -> list[str]:
        """Delete every version of this alias's index, by name (the alias goes with them); the
        template, pipelines and script stay. Returns the indices deleted."""
        got = self._get(f"/{self.names.pattern}/_alias") or {}
        indices = sorted(n for n in got if self.names.version_of(n) is not None)
        # by name: clusters refuse wildcard deletes (action.destructive_requires_name)
        for name in indices:
            self.client.send(Request("DELETE", f"/{name}"), what=f"delete {name}", ignore=(404,))
        return indices

    def next_version(self) -> int:
        """One more than the highest existing version of this alias's indices."""
        got = self._get(f"/{self.names.pattern}/_alias") or {}
        versions = [v for v in (self.names.version_of(name) for name in got) if v is not None]
        return max(versions, default=0) + 1

    def new_version(self, *, model_id: str) -> OpenSearchVersion:
        """The next index version (``products-v3``), created on its first ``ensure_index``.

        Raises:
            IndexNotFoundError: the alias does not exist (run bootstrap first).
        """
        old = self.current_index()
        if old is None:
            msg = (
                f"alias {self.names.alias} does not exist: run `hybrid-search opensearch bootstrap`"
            )
            raise IndexNotFoundError(msg)
        return OpenSearchVersion(self, self.names.index(self.next_version()), old, model_id)

    def swap(self, version: Any, *, drop_old: bool = False) -> bool:
        """Move the alias from the old index to ``version`` in one ``_aliases`` call; delete the
        old index if asked (True when it was)."""
        swap = admin.alias_swap_body(self.names.alias, version.name, version.replaces)
        self.client.send(Request("POST", "/_aliases", swap), what="alias swap")
        if drop_old:
            self.client.send(Request("DELETE", f"/{version.replaces}"), what="delete old")
        return drop_old


class OpenSearchVersion:
    """A new index version being written: ``_bulk`` into it without refresh, one refresh at the
    end (``finish``). Searches keep going to the alias, on the old index."""

    def __init__(self, boot: Bootstrapper, name: str, replaces: str, model_id: str) -> None:
        self.boot = boot
        self.name = name
        self.replaces = replaces
        self.model_id = model_id
        self.capabilities = Capabilities()
        self._created = False

    def ensure_index(self, *, model_id: str, dimension: int) -> IndexInfo:
        """Create the version's index (once), with the template's mapping and the model's
        ``_meta``."""
        if not self._created:
            body = admin.create_index_body(
                self.boot.template, model_id=model_id, dimension=dimension
            )
            self.boot.client.send(Request("PUT", f"/{self.name}", body), what=f"create {self.name}")
            self._created = True
        return IndexInfo(model_id, dimension, self.boot.template.digest, 0)

    def index(self, docs: Sequence[dict[str, Any]], vectors: np.ndarray) -> IngestReport:
        """One ``_bulk`` of upserts into the version (429s resent, failures reported)."""
        return self.boot.bulk_index(self.name, docs, vectors, refresh="false")

    def finish(self) -> int:
        """Refresh the version; its document count."""
        client = self.boot.client
        client.send(Request("POST", f"/{self.name}/_refresh"), what=f"refresh {self.name}")
        return int(client.send(Request("GET", f"/{self.name}/_count")).get("count", 0))

    def close(self) -> None:
        """Nothing held (the client is the backend's)."""
