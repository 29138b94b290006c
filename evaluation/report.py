"""Writes an evaluation's files: report.html (self-contained), report.md, results.json, per_song.parquet.

The report is built once as a list of :class:`Section` (paragraphs, tables, figures) and rendered to
Markdown and to HTML, so the two never disagree. Figures are matplotlib PNGs: embedded as base64 in
the HTML (one file to mail around) and written under ``plots/`` for the Markdown. Nothing time- or
machine-dependent goes into results.json: two runs of the same protocol write the same numbers.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from songprep.atomic import atomic_path, write_text_atomic
from songprep.evaluation.published import LABEL as PUBLISHED_LABEL

RATE_LABELS = {"per": "PER", "wer": "WER", "cer": "CER"}


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass
class Figure:
    name: str
    caption: str
    png: bytes


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    code: str = ""


def write_report(out: Path, per_song: pd.DataFrame, results: dict[str, Any], protocol) -> None:
    """Write every output file of an evaluation into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    timing = results.get("timing")
    stable = {k: v for k, v in results.items() if k != "timing"}
    write_text_atomic(out / "results.json",
                      json.dumps(_json_safe(stable), indent=2, ensure_ascii=False, sort_keys=True))
    if timing is not None:
        write_text_atomic(out / "timing.json", json.dumps(timing, indent=2))
    _write_parquet(out / "per_song.parquet", per_song)
    sections = build_sections(per_song, results)
    plots = out / "plots"
    plots.mkdir(exist_ok=True)
    for section in sections:
        for fig in section.figures:
            (plots / f"{fig.name}.png").write_bytes(fig.png)
    title = f"Evaluation report (protocol {results['protocol']['config_hash']})"
    write_text_atomic(out / "report.md", render_markdown(title, sections))
    write_text_atomic(out / "report.html", render_html(title, sections))


def _write_parquet(path: Path, frame: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def _json_safe(obj: Any) -> Any:
    """NaN/inf become null (JSON has no NaN); everything else as is."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


# ------------------------------------------------------------------------------------------ content


def _fmt(value: Any, rate: bool = False) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a" if not (isinstance(value, float) and math.isinf(value)) else ("-inf" if value < 0 else "inf")
    if rate:
        return f"{100 * value:.2f}%"
    return f"{value:.3f}" if abs(value) < 1000 else f"{value:.1f}"


def _fmt_p(p: Any) -> str:
    if p is None or not math.isfinite(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _ci(summary: dict[str, Any], rate: bool = False) -> str:
    return f"{_fmt(summary['mean'], rate)} [{_fmt(summary['ci_low'], rate)}, {_fmt(summary['ci_high'], rate)}]"


def build_sections(per_song: pd.DataFrame, results: dict[str, Any]) -> list[Section]:
    metrics = results["metrics"]
    systems = list(results["systems"])
    sections = [_overview(results, systems)]
    rate_metrics = [m for m in metrics if m["part"] == "per"]
    aesthetic = [m for m in metrics if m["part"] not in ("per", "signal")]
    signal = [m for m in metrics if m["part"] == "signal"]
    if rate_metrics:
        sections.append(_rates_section(results, systems, rate_metrics))
    if aesthetic:
        sections.append(_metric_section("Aesthetics (learned predictors)", results, systems, aesthetic,
                                        "Mean over songs [95% bootstrap CI], median in brackets after."))
    sections.append(_metric_section(
        "Signal checks", results, systems, signal,
        "Measurements of the files, not judgements of quality: loudness differences alone move listeners' and "
        "predictors' preferences, and clipping or long silences point to broken outputs."))
    sections.append(_paired_section(results))
    sections.append(_figures_section(per_song, results, systems))
    sections.append(_published_section(results))
    sections.append(Section("Protocol", ["Everything the numbers above depend on. Two runs with the same protocol "
                                         "hash give the same numbers."],
                            code=json.dumps(_json_safe(results["protocol"]), indent=2, ensure_ascii=False)))
    return sections


def _overview(results: dict[str, Any], systems: list[str]) -> Section:
    rows = []
    for name in systems:
        entry = results["systems"][name]
        rows.append([name, str(entry["prompts"]), str(entry["scored"]), str(len(entry["problems"]))])
    section = Section("Systems", ["Every prompt is counted: a missing or unreadable file, a song the recogniser "
                                  "failed on, or a prompt refused (its language cannot be told from its text) is "
                                  "listed below with its reason and left out of that system's means, never "
                                  "silently."],
                      [Table(["system", "prompts", "scored", "not scored"], rows)])
    problems = [[name, p["idx"], p["status"], p["reason"]] for name in systems
                for p in results["systems"][name]["problems"]]
    if problems:
        section.tables.append(Table(["system", "idx", "status", "reason"], problems))
    for part, reason in sorted(results["not_computed"].items()):
        section.paragraphs.append(f"{part}: not computed: {reason}")
    return section


def _rates_section(results: dict[str, Any], systems: list[str], metrics: list[dict[str, Any]]) -> Section:
    section = Section("Lyric accuracy: PER, WER, CER", [
        "Corpus rate = sum of errors over sum of reference lengths (long songs weigh more); mean of per-song rates "
        "weighs every song alike. Both with 95% bootstrap CIs over songs. Lower is better.",
    ])
    section.paragraphs.append(per_protocol_line(results["protocol"]["parts"].get("per", {})))
    languages = results["languages"] if len(results["languages"]) > 1 else []
    for scope in ["overall"] + [f"language {lang}" for lang in languages]:
        rows = []
        for name in systems:
            entry = results["systems"][name]
            block = entry["overall"] if scope == "overall" else entry["by_language"][scope.split()[-1]]
            for m in metrics:
                s = block[m["column"]]
                rows.append([name, RATE_LABELS[m["column"]], _ci(s["corpus"], True), _ci(s["mean_of_songs"], True),
                             _fmt(s["mean_of_songs"]["median"], True), str(s["corpus"]["n"])])
        section.tables.append(Table([f"system ({scope})", "metric", "corpus rate [95% CI]",
                                     "mean of per-song rates [95% CI]", "median", "songs"], rows))
    return section


def per_protocol_line(per: dict[str, Any]) -> str:
    """The choices that change PER/WER/CER, in one sentence (the full record is in the Protocol section)."""
    if "transcription" not in per:
        return f"Not computed: {per.get('not_computed', '')}"
    asr = per["transcription"]
    separation = per["separation"]["model"] if isinstance(per["separation"], dict) else per["separation"]
    g2p = "; ".join(f"{lang}: {choice['backend']}" for lang, choice in sorted(per["g2p"].items()))
    heard = f" hearing {per['heard']}" if per.get("heard") else ""
    return (f"Measured with: separation {separation}; ASR {asr['model']} ({asr['version']}){heard}, "
            f"{asr.get('decoding', '')}, beam {asr.get('beam_size', '?')}; voice-activity gating "
            f"{asr.get('voice_activity_gating', '?')}; loop removal {asr.get('loop_removal', '?')}; normaliser "
            f"v{per['normaliser'].get('version', '?')}; g2p {g2p}.")


def _metric_section(title: str, results: dict[str, Any], systems: list[str], metrics: list[dict[str, Any]],
                    note: str) -> Section:
    rows = []
    for m in metrics:
        for name in systems:
            s = results["systems"][name]["overall"][m["column"]]["mean_of_songs"]
            rows.append([m["label"], name, _ci(s), _fmt(s["median"]), str(s["n"])])
    section = Section(title, [note], [Table(["metric", "system", "mean [95% CI]", "median", "songs"], rows)])
    if len(results["languages"]) > 1 and title.startswith("Aesthetics"):
        by_lang = []
        for lang in results["languages"]:
            for m in metrics:
                for name in systems:
                    s = results["systems"][name]["by_language"][lang][m["column"]]["mean_of_songs"]
                    by_lang.append([lang, m["column"], name, _ci(s), str(s["n"])])
        section.tables.append(Table(["language", "metric", "system", "mean [95% CI]", "songs"], by_lang))
    return section


def _paired_section(results: dict[str, Any]) -> Section:
    rows = []
    for d in results["paired"]:
        rate = d["metric"] in RATE_LABELS
        rows.append([f"{d['a']} - {d['b']}", d["metric"], str(d["n"]),
                     f"{_fmt(d['mean_difference'], rate)} [{_fmt(d['ci_low'], rate)}, {_fmt(d['ci_high'], rate)}]",
                     _fmt_p(d["p_wilcoxon"]), _fmt_p(d["p_bootstrap"])])
    return Section("Paired differences", [
        "Differences on the prompts both systems were scored on (a - b; for PER/WER/CER, differences of per-song "
        "rates). CI: paired bootstrap over prompts. p: Wilcoxon signed-rank (scipy) and paired bootstrap, "
        "two-sided. A CI that excludes 0 means the ordering holds on this prompt set."],
        [Table(["pair", "metric", "prompts", "mean difference [95% CI]", "p (Wilcoxon)", "p (bootstrap)"], rows)])


def _published_section(results: dict[str, Any]) -> Section:
    rows = []
    for row in results["published"]:
        metrics = ", ".join(f"{k} {_fmt(v, k == 'per')}" for k, v in row["metrics"].items())
        rows.append([row["system"], row["language"] or "not stated", metrics, row["source"]])
    return Section(f"Reference numbers ({PUBLISHED_LABEL})", [
        f"{PUBLISHED_LABEL.capitalize()}: other test sets, ASR models and normalisers. Context for orders of "
        "magnitude, not a comparison with the systems above."],
        [Table(["system", "language", f"metrics ({PUBLISHED_LABEL})", "source"], rows)])


# ------------------------------------------------------------------------------------------ figures


def _figures_section(per_song: pd.DataFrame, results: dict[str, Any], systems: list[str]) -> Section:
    section = Section("Figures")
    ok = per_song[per_song.status == "ok"]
    columns = [m for m in results["metrics"] if m["column"] in ok and ok[m["column"]].notna().any()]
    if columns and len(ok):
        section.figures.append(Figure("distributions", "Per-song values per system (box: quartiles; dots: songs).",
                                      _distribution_png(ok, columns, systems)))
    paired = [d for d in results["paired"] if d["n"]]
    if paired:
        section.figures.append(Figure("paired_differences", "Mean paired difference (a - b) with 95% bootstrap CI; "
                                      "the dashed line is no difference.", _paired_png(paired)))
    if not section.figures:
        section.paragraphs.append("No scored songs: nothing to plot.")
    return section


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _distribution_png(ok: pd.DataFrame, columns: list[dict[str, Any]], systems: list[str]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    cols = 3
    rows = math.ceil(len(columns) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.8 * rows), squeeze=False)
    for ax, m in zip(axes.flat, columns):
        data = [ok[ok.system == s][m["column"]].to_numpy(dtype=float) for s in systems]
        data = [d[np.isfinite(d)] for d in data]
        ax.boxplot(data, showfliers=False)
        ax.set_xticks(range(1, len(systems) + 1), systems)
        for i, d in enumerate(data, 1):
            jitter = np.linspace(-0.12, 0.12, len(d)) if len(d) > 1 else np.zeros(len(d))
            ax.plot(i + jitter, d, "o", ms=3, alpha=0.6)
        ax.set_title(m["column"], fontsize=9)
    for ax in list(axes.flat)[len(columns):]:
        ax.axis("off")
    fig.tight_layout()
    return _png(fig)


def _paired_png(paired: list[dict[str, Any]]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = list(dict.fromkeys(d["metric"] for d in paired))
    cols = 3
    rows = math.ceil(len(metrics) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 0.6 + 0.9 * rows * max(1, len(paired) // len(metrics))),
                             squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        ds = [d for d in paired if d["metric"] == metric]
        for y, d in enumerate(ds):
            ax.errorbar([d["mean_difference"]], [y], xerr=[[d["mean_difference"] - d["ci_low"]],
                                                         [d["ci_high"] - d["mean_difference"]]], fmt="o", capsize=3)
        ax.set_yticks(range(len(ds)), [f"{d['a']} - {d['b']}" for d in ds], fontsize=8)
        ax.axvline(0, ls="--", c="grey")
        ax.set_title(metric, fontsize=9)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    fig.tight_layout()
    return _png(fig)


# ------------------------------------------------------------------------------------------ rendering


def render_markdown(title: str, sections: list[Section]) -> str:
    lines = [f"# {title}", ""]
    for s in sections:
        lines += [f"## {s.title}", ""]
        for p in s.paragraphs:
            lines += [p, ""]
        for t in s.tables:
            lines.append("| " + " | ".join(t.header) + " |")
            lines.append("|" + "---|" * len(t.header))
            lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in t.rows]
            lines.append("")
        for f in s.figures:
            lines += [f"![{f.caption}](plots/{f.name}.png)", "", f"*{f.caption}*", ""]
        if s.code:
            lines += ["```json", s.code, "```", ""]
    return "\n".join(lines)


def render_html(title: str, sections: list[Section]) -> str:
    e = html.escape
    body = [f"<h1>{e(title)}</h1>"]
    for s in sections:
        body.append(f"<h2>{e(s.title)}</h2>")
        body += [f"<p>{e(p)}</p>" for p in s.paragraphs]
        for t in s.tables:
            head = "".join(f"<th>{e(c)}</th>" for c in t.header)
            rows = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in t.rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        for f in s.figures:
            data = base64.b64encode(f.png).decode()
            body.append(f'<figure><img alt="{e(f.caption)}" src="data:image/png;base64,{data}">'
                        f"<figcaption>{e(f.caption)}</figcaption></figure>")
        if s.code:
            body.append(f"<details><summary>show</summary><pre>{e(s.code)}</pre></details>")
    style = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;margin:0.8em 0;font-size:0.9em}td,th{border:1px solid #ccc;"
             "padding:3px 8px;text-align:left}th{background:#f2f2f2}img{max-width:100%}pre{background:#f7f7f7;"
             "padding:1em;overflow:auto;font-size:0.8em}figcaption{font-size:0.85em;color:#555}")
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{e(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n")
