"""Results live in code, not in markdown (issue 33).

A markdown cell of a chapter describes methods, questions and how to read a figure; a sentence that
says which method wins, by how much, or whether a claim holds is printed by code from the numbers
beside it, so that it cannot disagree with them. This test fails on a markdown sentence that states a
result: a number in dB or F1, or a comparison word (beats, better, worse, higher, lower, ...) applied to
a method or a metric. A sentence that must stay (a textbook fact, the design of a method) is on
``REVIEWED`` with the reason it is not a result.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))

NUMBER = re.compile(r"[+-]?\d+(\.\d+)?\s*dB\b|\bF1\s*(=|of|:)?\s*[01]?\.\d", re.I)
COMPARISON = re.compile(r"\b(beats?|beating|outperform\w*|better|worse|best|worst|loses?|losing|wins?|winning|"
                        r"helps?|helped|hurts?|higher|lower|superior|inferior|more|less|improves?|improved|"
                        r"degrades?|stronger|weaker)\b", re.I)
SUBJECT = re.compile(r"\b(PSNR|SSIM|F1|ARI|NMI|gain|accuracy|purity|BM3D|CDAE|DAE|DnCNN|Noise2Void|NL-means|"
                     r"k-means|Wiener|Gaussian|U-Net|denoisers?|cascade|networks?|models?|methods?|baselines?|"
                     r"Topaz|Cov2D|clustering)\b", re.I)

# (chapter stem, start of the sentence) -> why it states no result. Kept short and reviewed.
REVIEWED: dict[tuple[str, str], str] = {
}


def sentences(text: str) -> list[str]:
    """Sentences of a markdown cell: code spans, math, links' targets and HTML removed; list items and
    table rows are sentences of their own."""
    text = re.sub(r"```.*?```|:::.*?\n|\$\$.*?\$\$|\$[^$]*\$|`[^`]*`|\]\([^)]*\)|<[^>]+>", " ", text, flags=re.S)
    out = []
    for line_block in re.split(r"\n(?=\s*(?:[-*|#]|\d+\.)\s)|\n\s*\n", text):
        for s in re.split(r"(?<=[.!?])\s+(?=[A-Z(*])", " ".join(line_block.split())):
            if s.strip():
                out.append(s.strip())
    return out


def states_result(sentence: str) -> bool:
    """Whether a sentence states a result: a dB or F1 figure, or a comparison applied to a method or metric.

    >>> states_result("CDAE beats BM3D on every protein.")
    True
    >>> states_result("BM3D groups similar patches and filters them in 3D.")
    False
    >>> states_result("The cascade scores 23.1 dB.")
    True
    """
    s = sentence.strip()
    if s.startswith("#") or s.endswith("?"):
        return False  # headings and questions state nothing
    return bool(NUMBER.search(s) or (COMPARISON.search(s) and SUBJECT.search(s)))


def offending(path: Path) -> list[str]:
    """The sentences of ``path``'s markdown cells that state a result and are not reviewed."""
    cells = json.loads(path.read_text())["cells"]
    found = []
    for c in cells:
        if c["cell_type"] != "markdown":
            continue
        for s in sentences("".join(c["source"])):
            if states_result(s) and not any(stem == path.stem and s.startswith(start)
                                            for stem, start in REVIEWED):
                found.append(s)
    return found


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_markdown_states_no_result(path):
    bad = offending(path)
    assert not bad, (f"{path.name}: {len(bad)} markdown sentence(s) state a result; print them from code "
                     "(paper.verdict) or reword them as a method or a question:\n- " + "\n- ".join(bad))


def test_every_reviewed_sentence_still_exists():
    # a reviewed entry whose sentence is gone would let a new sentence with the same start through unseen
    texts = {p.stem: " ".join(" ".join(sentences("".join(c["source"])))
                              for c in json.loads(p.read_text())["cells"] if c["cell_type"] == "markdown")
             for p in CHAPTERS}
    stale = [k for k in REVIEWED if k[1] not in texts.get(k[0], "")]
    assert not stale, stale


def test_the_rule_catches_a_typed_verdict():
    assert states_result("Fine-tuned CDAE outperforms BM3D by 1.2 dB.")
    assert states_result("Denoising helps clustering: F1 0.98 against 0.91.")
    assert not states_result("Does the cascade beat a single DAE?")
