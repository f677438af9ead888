"""nbgrader preprocessors the course adds: one concern each."""

from __future__ import annotations

from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from traitlets import Bool

from course_utils.exercises import ANSWER_MIME


class SanitizeFeedback(Preprocessor):
    """Keep what a learner needs from a graded cell's outputs and nothing that leaks tests.

    A traceback quotes the lines around the failing call, and so the hidden tests; the
    exception's own message (our bilingual diagnosis) is what the learner needs. The
    machine-readable answers the grader reads are dropped too.
    """

    enabled = Bool(True).tag(config=True)

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int):
        if cell.cell_type != "code":
            return cell, resources
        is_graded = cell.metadata.get("nbgrader", {}).get("grade", False)
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") in ("display_data", "execute_result") and ANSWER_MIME in out.get(
                "data", {}
            ):
                continue
            if is_graded and out.get("output_type") == "error":
                out.traceback = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
            kept.append(out)
        cell.outputs = kept
        return cell, resources
