"""Every term a chapter puts in bold is in the glossary (issue 31).

A bold phrase in a chapter's markdown is either a term, which must have an entry in
``book/glossary.md`` (under its own name, the name before a parenthesis, an item inside the
parenthesis, or an alias below), or emphasis that names no term (a heading-like lead-in, a criterion
stated as a sentence), listed in ``NOT_TERMS`` with the reason.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
GLOSSARY = ROOT / "book" / "glossary.md"

# bold word -> the glossary entry that defines it
ALIASES = {
    "paired": "Paired data", "realistic": "Realistic preset", "single": "Single DAE",
    "matched": "F1 (matched)", "pairwise": "Pairwise scores", "collapsed": "Collapsed output",
    "clean": "Clean targets", "fresh noise in every batch": "Fresh noise",
    "shipped general denoiser": "General denoiser", "shipped cdae": "Shipped models",
    "larger k with a distance threshold": "Target variants (cluster-restricted, distance threshold, denoised neighbours)",
    "neighbours among denoised images": "Target variants (cluster-restricted, distance threshold, denoised neighbours)",
}

# bold phrases that name no term: lead-ins of a list or paragraph, and criteria stated as sentences
NOT_TERMS = {
    "you will learn to", "what you will learn", "before this page",  # a chapter's opening lead-ins
    "what the recorded run shows", "the paper's numbers beside ours",  # lead-ins of computed paragraphs
    "when to stop the cascade, without the truth",  # lead-in of a paragraph of chapter 3.4
    "what it has not seen", "one image can only tell so much", "noise model",  # chapter 7.8's list of limits
    "it keeps density where the particle is", "it creates nothing outside it",  # chapter 6.3's three criteria
    "it keeps what the input shows at low resolution",
}


def normal(text: str) -> str:
    return " ".join(text.lower().replace("\u2011", "-").split()).rstrip(".:")


def glossary_terms() -> set[str]:
    """Every name under which an entry can be found: the term, the part before a parenthesis and
    each comma-separated item inside it."""
    text = GLOSSARY.read_text()
    block = text[text.index("```{glossary}"):text.rindex("```")]
    names = set()
    for line in block.splitlines()[1:]:
        if not line or line.startswith(" "):
            continue
        names.add(normal(line))
        m = re.match(r"(.*?)\s*\((.*)\)$", line)
        if m:
            names.add(normal(m.group(1)))
            names |= {normal(x) for x in m.group(2).split(",")}
    return names


def bold_terms(path: Path) -> set[str]:
    cells = json.loads(path.read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    return {normal(t) for t in re.findall(r"\*\*([^*]+?)\*\*", text)}


def test_the_glossary_has_the_terms_the_issue_names():
    names = glossary_terms()
    for term in ("pca", "k-means", "noise2noise", "u-net", "polarity", "stack-aware denoising"):
        assert term in names, term


def test_aliases_point_at_entries():
    names = glossary_terms()
    assert {a: t for a, t in ALIASES.items() if normal(t) not in names} == {}


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_bold_term_of_a_chapter_is_in_the_glossary(path):
    names = glossary_terms()
    missing = sorted(t for t in bold_terms(path)
                     if t not in names and t not in NOT_TERMS and normal(ALIASES.get(t, "")) not in names)
    assert missing == [], (f"{path.name}: add these bold terms to book/glossary.md (or, if a phrase names "
                           f"no term, to NOT_TERMS in this test with the reason): {missing}")
