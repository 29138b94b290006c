"""Scoring songs from any system (installed as ``songprep.evaluation``): PER/WER/CER, aesthetics,
signal checks, bootstrap comparisons and reports. Built on the record schema in ``songprep.records``.

Modules, one job each:

* :mod:`~songprep.evaluation.inputs` prompts (LeVo JSONL or a songprep dataset) and system folders;
* :mod:`~songprep.evaluation.normalise`, :mod:`~songprep.evaluation.g2p`, :mod:`~songprep.evaluation.per`
  the text side of PER/WER/CER;
* :mod:`~songprep.evaluation.signal` loudness, true peak, clipping, duration, silence;
* :mod:`~songprep.evaluation.aesthetics` audiobox-aesthetics and SongEval behind one interface;
* :mod:`~songprep.evaluation.aggregate` bootstrap CIs, paired differences and tests;
* :mod:`~songprep.evaluation.run` the orchestration with its cache (``songprep eval run``);
* :mod:`~songprep.evaluation.report` report.html / report.md / results.json / per_song.parquet;
* :mod:`~songprep.evaluation.protocol` what every number depends on, hashed;
* :mod:`~songprep.evaluation.dpo` chosen/rejected pairs for preference training;
* :mod:`~songprep.evaluation.published` published reference numbers (not measured here).
"""
