"""Learning to rank: the model file (``model.py``) and the re-rank step of the request path
(``stage.py``). The features are pure functions in ``ranking/ltr_features.py``; training is
``training/ltr.py`` (``hybrid-search ltr train``)."""

from hybrid_search.ltr.model import LtrModel, load_model, save_model
from hybrid_search.ltr.stage import FeatureRecorder, LtrResult, LtrStage

__all__ = ["FeatureRecorder", "LtrModel", "LtrResult", "LtrStage", "load_model", "save_model"]
