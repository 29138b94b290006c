"""Scoring songs from any system (installed as ``songprep.evaluation``): PER/WER/CER, aesthetics,
signal checks, bootstrap comparisons and reports. Built on the record schema in ``songprep.records``."""
