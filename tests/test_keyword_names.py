"""The keyword labeler names a cluster by words many of its rows share: a word that only a few
rows repeat, however often, does not name it (benchmarks/names.py measures the effect)."""

from __future__ import annotations

from level_desktop.core.labeling import ClusterDocs
from level_desktop.core.labeling.keywords import KeywordLabeler, class_tfidf_terms

EDITORS = [f"vim plugin number {i} for the editor, with syntax colours" for i in range(48)]
LOUD = ["wesnoth campaign " * 80]  # one long row repeating its words (2 % of the rows)
DATABASES = [f"postgres database server tool {i} for queries" for i in range(50)]


def clusters() -> list[ClusterDocs]:
    return [ClusterDocs(0, EDITORS + LOUD, EDITORS[:3]),
            ClusterDocs(1, DATABASES, DATABASES[:3])]


def test_words_of_a_few_loud_rows_do_not_name_the_cluster() -> None:
    plain = class_tfidf_terms(clusters(), min_row_share=0.0)
    assert set(plain[0][:2]) == {"wesnoth", "campaign"}  # what plain c-TF-IDF picks
    shared = class_tfidf_terms(clusters())
    assert "wesnoth" not in shared[0]
    assert "campaign" not in shared[0]
    assert set(shared[0][:3]) <= {"vim", "plugin", "editor", "syntax", "colours", "number"}
    names = KeywordLabeler().label(clusters())
    assert "wesnoth" not in names[0].label
    assert "postgres" in names[1].label


def test_a_cluster_with_too_few_shared_words_is_named_by_all_its_words() -> None:
    odd = ClusterDocs(2, [f"unique{chr(97 + i)}word alpha{chr(97 + i)}beta" for i in range(26)],
                      [])
    terms = class_tfidf_terms([*clusters(), odd])
    assert len(terms[2]) >= 3  # no term is in 4 % of its rows, so the rule steps aside
