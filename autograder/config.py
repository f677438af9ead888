"""The course's nbgrader settings, applied by ``nbgrader_config.py`` at the course root."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from traitlets.config import Config

ROOT = Path(__file__).resolve().parents[1]
COURSE_ID = "autograd-course"
SOURCE_DIR = "solutions"
RELEASE_DIR = "notebooks"
EXCHANGE_DIR = ".exchange"
# A hub's servers name its shared exchange here (autograder/lab/hub.py, deploy/k8s/).
EXCHANGE_ENV = "COURSE_EXCHANGE"
CELL_TIMEOUT_S = 120
FEEDBACK_TEMPLATES = Path(__file__).resolve().parent / "templates"

CODE_STUB = "# YOUR CODE HERE (在此处写你的代码)\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE (在此处写你的答案)"


SANITIZE_PREPROCESSORS = [
    "nbgrader.preprocessors.ClearOutput",
    "autograder.grading.preprocessors.RepairNotebook",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
AUTOGRADE_PREPROCESSORS = [
    "autograder.grading.preprocessors.AssignSeed",
    "autograder.grading.execute.SafeExecute",
    "autograder.grading.preprocessors.VerifyAnswers",
    "autograder.grading.rules.EnforceRules",
    "autograder.grading.preprocessors.GraderNotes",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "autograder.grading.preprocessors.TruncateOutput",
    "autograder.grading.preprocessors.EscapeLearnerHTML",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]


def configure(c: Config, root: Path = ROOT) -> Config:
    """Fill ``c`` with the course's nbgrader configuration for a course rooted at ``root``."""
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.course_id = COURSE_ID
    c.CourseDirectory.source_directory = SOURCE_DIR
    c.CourseDirectory.release_directory = RELEASE_DIR
    c.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
    shared = os.environ.get(EXCHANGE_ENV)
    if shared:
        # On a hub every course folder, `course grade`'s scratch one included, hands out
        # through the hub's exchange: release_feedback then needs no exchange options.
        c.Exchange.root = shared
        c.Exchange.path_includes_course = True
    else:
        # The default exchange (/usr/local/share/nbgrader/exchange) is not writable for
        # learners and does not exist on a fresh machine.
        c.Exchange.root = str(root / EXCHANGE_DIR)
    c.Execute.timeout = CELL_TIMEOUT_S
    c.Execute.interrupt_on_timeout = True
    c.ClearSolutions.code_stub = {"python": CODE_STUB}
    c.ClearSolutions.text_stub = TEXT_STUB
    # Submissions are repaired, run safely, and their answers checked again outside the
    # learner's kernel (autograder/grading/preprocessors.py, autograder/grading/execute.py).
    c.Autograde.sanitize_preprocessors = SANITIZE_PREPROCESSORS
    c.Autograde.autograde_preprocessors = AUTOGRADE_PREPROCESSORS
    # Stock feedback shows hidden tests and the tracebacks that quote them.
    c.GenerateFeedback.preprocessors = [
        "nbgrader.preprocessors.GetGrades",
        "nbgrader.preprocessors.ClearHiddenTests",
        "autograder.grading.preprocessors.SanitizeFeedback",
        # After the exporter's EscapeLearnerHTML: the grader's own verdicts as HTML blocks.
        "autograder.grading.preprocessors.VerdictBlocks",
        "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    ]
    c.GenerateFeedback.exporter_class = "autograder.grading.feedback_page.FeedbackExporter"
    # nbgrader's feedback page, with its formulas as MathML (no MathJax from a CDN) and each
    # exercise by its title in the contents list (autograder/templates/course_feedback).
    c.FeedbackExporter.template_name = "course_feedback"
    c.FeedbackExporter.template_file = "page.html.j2"
    c.FeedbackExporter.extra_template_basedirs = [str(FEEDBACK_TEMPLATES), _nbgrader_templates()]
    # Once more as each page is made: the Formgrader also renders notebooks graded before
    # autograding escaped them.
    c.HTMLExporter.preprocessors = ["autograder.grading.preprocessors.EscapeLearnerHTML"]
    return c


def _nbgrader_templates() -> str:
    """nbgrader's own templates, which the course's feedback template extends (found without
    importing nbgrader, which every `course` command would then pay for)."""
    from importlib.util import find_spec

    spec = find_spec("nbgrader")
    package = Path(spec.origin).parent if spec and spec.origin else ROOT
    return str(package / "server_extensions" / "formgrader" / "templates")


def course_config(root: Path = ROOT) -> Config:
    return configure(Config(), root)


def ensure_tools_on_path() -> None:
    """nbgrader runs ``alembic`` and ``jupyter`` by name: find them beside this Python."""
    bindir = os.path.dirname(sys.executable)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
