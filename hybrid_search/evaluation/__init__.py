"""Offline evaluation: BEIR datasets, retrieval metrics with paired significance, runs, tuning."""
