"""Each default of the ranking coefficients is declared once, in the settings (config.py): the
dataclasses the pure functions take follow them."""

from __future__ import annotations

from dataclasses import fields

from hybrid_search.config import CommercialSettings, SearchSettings
from hybrid_search.ranking.adaptive import AdaptiveParams
from hybrid_search.ranking.commercial import CommercialParams
from hybrid_search.ranking.plan import adaptive_params


def test_commercial_params_default_to_the_settings():
    settings = CommercialSettings()
    assert CommercialParams() == CommercialParams.from_settings(settings)
    names = {f.name for f in fields(CommercialParams)}
    assert names == set(CommercialSettings.model_fields) - {"enabled"}
    changed = CommercialSettings(margin_weight=0.4, max_margin=0.5)
    params = CommercialParams.from_settings(changed)
    assert (params.margin_weight, params.max_margin) == (0.4, 0.5)


def test_adaptive_params_default_to_the_settings():
    assert AdaptiveParams() == adaptive_params(SearchSettings())
    assert AdaptiveParams().code_vector_weight == SearchSettings().adaptive_code_vector_weight
    tuned = adaptive_params(SearchSettings(adaptive_cosine_slope=1.5, vector_weight=0.7))
    assert tuned.cosine_slope == 1.5 and tuned.vector_weight == 0.5
