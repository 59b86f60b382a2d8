"""Magnitude-aware fine-tuning (Feng & Watanabe, arXiv 2602.09229) and its diagnostics.

Heavy imports (torch, sentence-transformers) happen inside the functions that need them.
"""

from hybrid_search.training.io import load_trained, read_pairs
from hybrid_search.training.trainer import Pair, TrainConfig, TrainResult, train

__all__ = ["Pair", "TrainConfig", "TrainResult", "load_trained", "read_pairs", "train"]
