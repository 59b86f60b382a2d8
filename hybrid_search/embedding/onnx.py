"""ONNX Runtime embedder: the transformer exported once from the local model files, then served
with onnxruntime + tokenizers (no torch on the query path).

Measured on a 2-core CPU (``benchmarks/results/encoders.md``): the same vectors as torch at about
2.5x less latency per query; the int8 variant is faster again at a measured fidelity cost.
The export runs torch's exporter on the bundled weights (no network) and is cached under
``<cache_dir>/onnx/<model fingerprint>/``. The exporter's own chatter (progress lines on stdout,
warnings, torch log lines, the weight-loading bar) is captured: one INFO line says the export
runs, and the captured text goes to the DEBUG log, or into the error if the export fails.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hybrid_search.embedding.models import ModelFiles
from hybrid_search.errors import EmbedderError, MissingDependencyError

__all__ = ["OnnxEmbedder", "export_onnx"]

logger = logging.getLogger(__name__)

# onnxruntime's telemetry thread tries to reach an outside host; this variable stops it.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

_EXPORT_LOCK = threading.Lock()
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_W8_BLOCK = 32

Quant = Literal["fp32", "int8", "w8"]
_GRAPH_FILES: dict[str, str] = {
    "fp32": "model.onnx",
    "int8": "model-int8-matmul-pc.onnx",
    "w8": f"model-w8-b{_W8_BLOCK}.onnx",
}


def _export_fp32(files: ModelFiles, target: Path) -> None:
    try:
        import torch
        from transformers import AutoModel, AutoTokenizer
    except ImportError as exc:
        msg = "exporting to ONNX needs torch and transformers: pip install hybrid-search"
        raise MissingDependencyError(msg) from exc

    model = AutoModel.from_pretrained(str(files.path), attn_implementation="eager")
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(str(files.path))
    sample = tokenizer(
        ["a short query", "a somewhat longer product title here"], padding=True, return_tensors="pt"
    )

    class _Encoder(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    batch = torch.export.Dim("batch", min=1, max=4096)
    seq = torch.export.Dim("seq", min=1, max=max(files.max_seq_length, 8))
    shapes = {name: {0: batch, 1: seq} for name in _INPUTS}
    args = tuple(sample[name] for name in _INPUTS)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        tmp_file = Path(tmp) / "model.onnx"
        torch.onnx.export(
            _Encoder(model).eval(),
            args,
            str(tmp_file),
            input_names=list(_INPUTS),
            output_names=["last_hidden_state"],
            dynamic_shapes=shapes,
            dynamo=True,
            external_data=False,
        )
        os.replace(tmp_file, target)


@contextlib.contextmanager
def _captured() -> Iterator[io.StringIO]:
    """Collect what torch's exporter prints, warns and logs (about 20 lines on a first run).

    torch logs through its own handlers on ``torch`` and ``torch.onnx`` (bound to the real
    stderr), so their level is raised for the duration rather than redirected. Redirecting
    stdout and stderr is process-wide: the export runs once, under ``_EXPORT_LOCK``.
    """
    buffer = io.StringIO()
    torch_loggers = [logging.getLogger(name) for name in ("torch", "torch.onnx")]
    levels = [lg.level for lg in torch_loggers]
    with (
        contextlib.redirect_stdout(buffer),
        contextlib.redirect_stderr(buffer),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        for lg in torch_loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield buffer
        finally:
            for lg, level in zip(torch_loggers, levels, strict=True):
                lg.setLevel(level)


def _quantize(fp32: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        tmp_file = Path(tmp) / "model-int8.onnx"  # renamed into place below
        # Per-channel int8 on the MatMul weights only: quantising the embedding table (Gather)
        # too, or per-tensor scales, cost 2-7 points of cosine to fp32 in our measurements.
        quantize_dynamic(
            str(fp32),
            str(tmp_file),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
        )
        os.replace(tmp_file, target)


def _quantize_w8(fp32: Path, target: Path) -> None:
    """8-bit block-wise weights (``MatMulNBits``, 32 weights per scale) with int8 compute.

    A batch-1 query is bound by reading the weights, so 4x smaller weights are most of the
    gain. Unlike ``quantize_dynamic`` (one activation scale per tensor), the activations are
    quantised per row and block, so a vector does not depend on its batch-mates, and the finer
    scales keep it close to fp32 (cosine 0.9996 on average against 0.993 for per-channel
    int8; ``benchmarks/results/query-encoder.md``).
    """
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    quantizer = MatMulNBitsQuantizer(
        onnx.load(str(fp32)),
        bits=8,
        block_size=_W8_BLOCK,
        is_symmetric=True,
        accuracy_level=4,  # int8 compute; 0/1 dequantise to fp32 and ran 8x slower
    )
    quantizer.process()
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        tmp_file = Path(tmp) / "model-w8.onnx"  # renamed into place below
        quantizer.model.save_model_to_file(str(tmp_file), use_external_data_format=False)
        os.replace(tmp_file, target)


def export_onnx(files: ModelFiles, cache_dir: Path, *, quant: Quant = "fp32") -> Path:
    """Export (once) and return the path of the ONNX graph for ``files``.

    ``quant`` picks the graph: ``fp32`` (the export itself), ``int8`` (dynamic, per-channel
    MatMul weights) or ``w8`` (8-bit block-wise weights); the quantised graphs are derived
    from the fp32 one once and cached beside it.

    Raises:
        MissingDependencyError: torch, transformers or onnxscript is missing.
        EmbedderError: the export or the quantisation failed.
    """
    if files.path is None:
        msg = f"model {files.model_id!r} is not a local folder; ONNX export needs local files"
        raise EmbedderError(msg)
    folder = cache_dir / "onnx" / files.fingerprint()
    fp32 = folder / _GRAPH_FILES["fp32"]
    wanted = folder / _GRAPH_FILES[quant]
    with _EXPORT_LOCK:
        if wanted.exists():
            return wanted
        folder.mkdir(parents=True, exist_ok=True)
        if not fp32.exists():
            logger.info("exporting the model to ONNX once (about 10 s)")
            logger.debug("exporting %s to ONNX in %s", files.model_id, folder)
            with _captured() as output:
                try:
                    _export_fp32(files, fp32)
                except MissingDependencyError:
                    raise
                except Exception as exc:
                    tail = output.getvalue().strip()[-2000:]
                    msg = f"ONNX export of {files.model_id} failed: {type(exc).__name__}: {exc}"
                    raise EmbedderError(
                        msg + (f"\nexporter output:\n{tail}" if tail else "")
                    ) from exc
            logger.debug("ONNX exporter output:\n%s", output.getvalue())
        if not wanted.exists():
            # DEBUG: about 1.5 s, under the export's one announced line on a first run.
            logger.debug("quantising %s to %s once", fp32, quant)
            with _captured() as output:
                try:
                    (_quantize_w8 if quant == "w8" else _quantize)(fp32, wanted)
                except Exception as exc:
                    msg = f"{quant} quantisation of {fp32} failed: {type(exc).__name__}: {exc}"
                    raise EmbedderError(msg) from exc
            logger.debug("quantiser output:\n%s", output.getvalue())
    return wanted


class OnnxEmbedder:
    """Mean-pooled (or CLS) sentence embeddings from an exported transformer.

    ``graph`` serves queries on one thread; ``document_graph`` (default: the same graph) serves
    document batches on every core. ``runtime`` names the query graph (``onnx``, ``onnx-int8``,
    ``onnx-w8``). ``query_max_tokens`` caps a query's tokens ([CLS] and [SEP] included) below
    the model's limit, which bounds the cost of a pathological long query.
    """

    def __init__(
        self,
        files: ModelFiles,
        graph: Path,
        *,
        threads: int = 1,
        query_prefix: str = "",
        document_prefix: str = "",
        runtime: str = "onnx",
        document_graph: Path | None = None,
        query_max_tokens: int | None = None,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        if files.path is None:
            msg = f"model {files.model_id!r} has no local files"
            raise EmbedderError(msg)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Spinning threads burn a core between queries for ~0.1 ms less latency: not worth it.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(graph), options, providers=["CPUExecutionProvider"]
        )
        # Documents may use another graph: with int8, dynamic activation quantisation makes a
        # document's vector depend on the batch it is embedded in (cosine 0.99 to itself
        # alone vs in a batch of 64), so the index is embedded in fp32 and only queries,
        # always a batch of one, use int8 (benchmarks/results/encoders.md, "q-only").
        self._graph = document_graph or graph
        self._bulk_session: Any = None
        self._input_names = {i.name for i in self._session.get_inputs()}
        self._tokenizer = Tokenizer.from_file(str(files.path / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=files.max_seq_length)
        self._tokenizer.no_padding()
        self._query_tokenizer = self._tokenizer
        if query_max_tokens is not None and query_max_tokens < files.max_seq_length:
            self._query_tokenizer = Tokenizer.from_file(str(files.path / "tokenizer.json"))
            self._query_tokenizer.enable_truncation(max_length=query_max_tokens)
            self._query_tokenizer.no_padding()
        self._pad_id = self._tokenizer.token_to_id("[PAD]") or 0
        self._files = files
        self.model_id = files.model_id
        self.runtime = runtime
        # Documents always come from an fp32 graph: caches of document vectors key on this.
        self.document_runtime = "onnx"
        self.normalized = files.normalize
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix
        self.dimension = int(self._run([self._tokenizer.encode("probe")]).shape[1])

    def _bulk(self) -> Any:
        """A second session using every core, for document batches (queries stay on one)."""
        if self._bulk_session is None:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = os.cpu_count() or 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._bulk_session = ort.InferenceSession(
                str(self._graph), options, providers=["CPUExecutionProvider"]
            )
        return self._bulk_session

    def _run(self, encodings: Sequence[Any], session: Any = None) -> np.ndarray:
        length = max(len(e.ids) for e in encodings)
        n = len(encodings)
        ids = np.full((n, length), self._pad_id, dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.int64)
        types = np.zeros((n, length), dtype=np.int64)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
            types[row, : len(enc.ids)] = enc.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        runner = session or self._session
        hidden = runner.run(None, {k: v for k, v in feeds.items() if k in self._input_names})
        states = hidden[0]
        if self._files.pooling == "cls":
            pooled = states[:, 0, :]
        else:
            weights = mask[:, :, None].astype(np.float32)
            pooled = (states * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        pooled = pooled.astype(np.float32)
        if self.normalized:
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            pooled /= np.maximum(norms, 1e-12)
        out: np.ndarray = pooled
        return out

    def encode_query(self, text: str) -> np.ndarray:
        """Encode one query (no padding: a short query costs only its own tokens)."""
        vec: np.ndarray = self._run([self._query_tokenizer.encode(self.query_prefix + text)])[0]
        return vec

    def query_tokens(self, text: str) -> int:
        """How many tokens the query encoder sees for ``text`` (after any truncation)."""
        return len(self._query_tokenizer.encode(self.query_prefix + text).ids)

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        """Encode documents in batches sorted by length (less padding), in input order."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch([self.document_prefix + t for t in texts])
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), unit="doc", desc="embedding")
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            out[rows] = self._run([encodings[i] for i in rows], self._bulk())
            if bar is not None:
                bar.update(len(rows))
        if bar is not None:
            bar.close()
        return out
