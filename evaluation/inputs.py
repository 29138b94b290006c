"""What an evaluation reads: prompts (LeVo JSONL or a songprep dataset) and systems (one folder each).

A system folder holds one audio file per prompt named by the prompt's ``idx`` (any audio extension),
either at its top level or under ``audios/`` (LeVo's own output layout ``DIR/audios/{idx}.flac``).

>>> parse_system("base=out/levo")
System(name='base', directory=PosixPath('out/levo'))
>>> detect_language("我爱你"), detect_language("¿Dónde estás?"), detect_language("I love you")
('zh', 'es', 'en')
>>> detect_language("la la la") is None   # cannot be told: the prompt is refused, never scored as English
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from songprep.audio import AUDIO_EXTENSIONS
from songprep.errors import UsageError
from songprep.evaluation.normalise import LANGUAGES
from songprep.lyrics.prompts import read_levo_prompts

_KANA = re.compile(r"[\u3040-\u30ff\uff66-\uff9f]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")
#: py3langid must give the language at least this posterior: below it the text does not say, and the prompt is
#: refused rather than scored in a guessed language. Short texts are where it guesses: "la la la" is Occitan at
#: p=0.53, "hello world" English at 0.61, "baby baby" Turkmen at 0.98 (refused: no g2p); whole lyrics reach 0.99+.
MIN_TEXT_PROBABILITY = 0.9


@dataclass(frozen=True)
class Prompt:
    """One prompt: its id, the reference lyrics (plain lines, markup stripped) and their language.

    ``refused`` is why the prompt is not scored (its language cannot be told); ``language`` is then "".
    """

    idx: str
    lyrics: str
    language: str
    descriptions: str = ""
    markup: str = ""
    refused: str = ""


@dataclass(frozen=True)
class System:
    name: str
    directory: Path


def parse_system(spec: str) -> System:
    """``NAME=DIR`` -> System; the name must be unique and non-empty."""
    name, sep, directory = spec.partition("=")
    if not sep or not name.strip() or not directory.strip():
        raise UsageError(f"--system wants NAME=DIR, got {spec!r}")
    return System(name.strip(), Path(directory.strip()))


def text_language(text: str) -> tuple[str | None, float]:
    """The text's most likely language (any language) and the detector's confidence: the script for
    ja/zh/ko (1.0), else py3langid (songprep.language); ``(None, 0.0)`` when the text has no letters."""
    if _KANA.search(text):
        return "ja", 1.0
    if _HAN.search(text):
        return "zh", 1.0
    if _HANGUL.search(text):
        return "ko", 1.0
    from songprep.language import text_language as ranked

    return ranked(text.splitlines() or [text])


def detect_language(text: str) -> str | None:
    """The lyric's language from its text when the detector is sure (:data:`MIN_TEXT_PROBABILITY`) and the
    evaluator scores that language; None when the text does not tell."""
    language, probability = text_language(text)
    return language if language in LANGUAGES and probability >= MIN_TEXT_PROBABILITY else None


def prompt_language(given: str | None, lyrics: str, where: str) -> tuple[str, str]:
    """``(language, "")`` from the prompt's own ``language`` field, else from its text; ``("", reason)`` when
    the text does not tell a language the evaluator has a g2p for: that prompt is refused (a row with its
    reason in the report), never scored in a guessed language. A ``language`` field the evaluator does not
    score is a mistake in the file: :class:`UsageError` naming ``where``."""
    if given:
        if given not in LANGUAGES:
            raise UsageError(f"{where}: language {given!r} not one of {', '.join(LANGUAGES)}")
        return given, ""
    language = detect_language(lyrics)
    if language is None:
        guess, probability = text_language(lyrics)
        return "", (f"the language of this lyric cannot be told from its text (best guess {guess or 'none'!r} "
                    f"at p={probability:.2f}); give the prompt a \"language\" field (one of {', '.join(LANGUAGES)})")
    return language, ""


def reference_lyrics(markup: str) -> str:
    """The sung words of LeVo markup (tags and separators stripped), one line per lyric line."""
    from songprep.lyrics.reference import parse_lyric_lines

    return "\n".join(parse_lyric_lines(markup))


def load_prompts(path: str | Path) -> list[Prompt]:
    """Prompts from a LeVo JSONL file or a songprep dataset folder (its ``songs/`` Parquet rows)."""
    path = Path(path)
    if path.is_dir():
        return _dataset_prompts(path)
    if not path.is_file():
        raise UsageError(f"prompts not found: {path}")
    prompts: list[Prompt] = []
    for row in read_levo_prompts(path):
        lyrics = reference_lyrics(row.lyric)
        language, refused = prompt_language(row.language, lyrics, f"{path.name} line {row.line}")
        prompts.append(Prompt(row.idx, lyrics, language, row.descriptions, row.lyric, refused))
    return prompts


def _dataset_prompts(root: Path) -> list[Prompt]:
    import pandas as pd

    songs = root / "songs" if (root / "songs").is_dir() else root
    if not any(songs.glob("*.parquet")):
        raise UsageError(f"{root} is neither a JSONL file nor a songprep dataset (no songs/*.parquet)")
    table = pd.read_parquet(songs)
    prompts = []
    for row in table.itertuples():
        lyrics = str(getattr(row, "lyrics", "") or "")
        if not lyrics.strip():
            continue
        language, refused = prompt_language(str(getattr(row, "language", "") or "") or None, lyrics,
                                            f"song {row.id}")
        prompts.append(Prompt(str(row.id), lyrics, language, "", str(getattr(row, "levo_lyric", "") or ""),
                              refused))
    return prompts


def find_audio(system: System, idx: str) -> Path | None:
    """The system's file for prompt ``idx`` (``audios/`` first, LeVo's layout), or None."""
    return find_audio_file(system.directory, idx)


def find_audio_file(directory: Path, stem: str) -> Path | None:
    """``directory/audios/STEM.<any audio extension>``, else ``directory/STEM.<ext>``, or None."""
    for folder in (directory / "audios", directory):
        for ext in AUDIO_EXTENSIONS:
            candidate = folder / f"{stem}{ext}"
            if candidate.is_file():
                return candidate
    return None
