"""Published reference numbers, shown in every report as "published, not measured here".

They come from other people's test sets, ASR models and normalisers, so they are context, not a
comparison: a system's PER here is comparable to them only in order of magnitude.

Sources (copied by hand; each row names its own):

* SongGeneration 2 (LeVo 2) README: PER 8.55% for SongGeneration 2, Suno v5 12.4%, Mureka v8 9.96%
  (language mix not stated there).
* SongGeneration (LeVo v1) README, section "Evaluation Performance" (tencent-ailab/SongGeneration,
  commit 7a672bc1): per language PER, audiobox-aesthetics CE/CU/PC/PQ and SongEval COH/MUS/MEM/CLA/NAT
  for commercial and open systems, SongGeneration rows measured on 200 generated songs. The English
  row of SongGeneration-base is "-" in the source and is left out here.
"""

from __future__ import annotations

LEVO2_README = "SongGeneration 2 (LeVo 2) README, tencent-ailab/SongGeneration"
LEVO1_README = "SongGeneration (LeVo) README 'Evaluation Performance', tencent-ailab/SongGeneration @ 7a672bc1"

_AXES = ("per", "audiobox_CE", "audiobox_CU", "audiobox_PC", "audiobox_PQ", "songeval_coherence",
         "songeval_musicality", "songeval_memorability", "songeval_clarity", "songeval_naturalness")

_LEVO1 = {
    "zh": [
        ("Suno", 0.216, 7.65, 7.86, 5.94, 8.35, 4.41, 4.34, 4.44, 4.38, 4.26),
        ("Mureka", 0.072, 7.71, 7.83, 6.39, 8.44, 4.01, 3.85, 3.73, 3.87, 3.75),
        ("Haimian", 0.118, 7.56, 7.85, 5.89, 8.27, 3.69, 3.43, 3.51, 3.52, 3.34),
        ("ACE-Step", 0.371, 7.37, 7.52, 6.26, 7.85, 3.68, 3.45, 3.54, 3.48, 3.38),
        ("DiffRhythm v1.2", 0.0878, 6.91, 7.45, 5.45, 7.99, 2.93, 2.60, 2.70, 2.71, 2.60),
        ("YuE", 0.149, 7.29, 7.53, 6.19, 7.96, 3.68, 3.43, 3.49, 3.49, 3.42),
        ("SongGeneration-base", 0.072, 7.78, 7.90, 6.03, 8.42, 3.96, 3.80, 3.85, 3.74, 3.71),
        ("SongGeneration-base-new", 0.057, 7.82, 7.94, 6.07, 8.43, 4.07, 3.92, 3.98, 3.93, 3.86),
        ("SongGeneration-base-full", 0.084, 7.81, 7.94, 6.07, 8.41, 4.02, 3.88, 3.94, 3.87, 3.80),
        ("SongGeneration-large", 0.051, 7.82, 7.95, 6.09, 8.46, 4.08, 3.94, 4.00, 3.94, 3.87),
    ],
    "en": [
        ("Suno", 0.156, 7.64, 7.85, 5.84, 8.19, 4.49, 4.35, 4.47, 4.35, 4.23),
        ("Mureka", 0.126, 7.71, 7.93, 6.46, 8.39, 4.06, 3.88, 3.90, 3.90, 3.73),
        ("Haimian", 0.266, 7.85, 8.01, 5.28, 8.44, 3.83, 3.68, 3.71, 3.61, 3.45),
        ("ACE-Step", 0.321, 7.19, 7.37, 6.16, 7.57, 3.59, 3.34, 3.43, 3.36, 3.27),
        ("DiffRhythm v1.2", 0.178, 7.02, 7.58, 5.96, 7.81, 3.51, 3.12, 3.32, 3.21, 3.08),
        ("YuE", 0.273, 7.04, 7.22, 5.89, 7.67, 3.58, 3.24, 3.42, 3.37, 3.30),
        ("SongGeneration-base-new", 0.162, 7.78, 7.97, 6.03, 8.37, 4.05, 3.90, 3.99, 3.91, 3.79),
        ("SongGeneration-base-full", 0.201, 7.76, 7.98, 5.96, 8.39, 4.02, 3.87, 3.97, 3.86, 3.74),
        ("SongGeneration-large", 0.149, 7.85, 8.05, 6.17, 8.46, 4.08, 3.94, 4.03, 3.93, 3.82),
    ],
}

#: One dict per published row: system, language ("" when the source does not say), source, metrics.
PUBLISHED: list[dict[str, object]] = [
    {"system": "SongGeneration 2", "language": "", "source": LEVO2_README, "metrics": {"per": 0.0855}},
    {"system": "Suno v5", "language": "", "source": LEVO2_README, "metrics": {"per": 0.124}},
    {"system": "Mureka v8", "language": "", "source": LEVO2_README, "metrics": {"per": 0.0996}},
] + [
    {"system": row[0], "language": lang, "source": LEVO1_README, "metrics": dict(zip(_AXES, row[1:]))}
    for lang, rows in _LEVO1.items() for row in rows
]

LABEL = "published, not measured here"
