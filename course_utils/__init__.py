"""Helpers the course notebooks import: bilingual messages, answer checks, models, plots.

Keep this package light: it is imported by every learner kernel.
"""

import warnings

from course_utils.i18n import Msg, current_lang, say


def quiet_torch_jit_deprecation() -> None:
    """Ignore torch 2.14's warning that torch.jit.script is deprecated.

    torch.func's first transform calls torch.jit.script internally: noise about torch's
    own code that a learner (or an instructor grading) cannot act on."""
    warnings.filterwarnings(
        "ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning
    )


quiet_torch_jit_deprecation()

__all__ = [
    "CheckFailure",
    "Msg",
    "check",
    "check_tensor",
    "check_value",
    "current_lang",
    "more_help",
    "progress",
    "say",
]


def check(exercise_id: str, answer, **kwargs) -> None:
    """Check a learner's function for one exercise against torch on random inputs.

    On a hub the course's checking service judges (``course_utils.remote``): the references
    are not on a learner's server there."""
    from course_utils import remote
    from course_utils import scoreboard as _scoreboard
    from course_utils.checks import CheckFailure as _Failure

    try:
        if remote.configured():
            remote.check(exercise_id, answer, **kwargs)
        else:
            from course_utils.exercises import check as _check

            _check(exercise_id, answer, **kwargs)
    except _Failure as failure:
        _scoreboard.record(exercise_id, False, failure.msg)
        from course_utils import feedback

        feedback.show_wrong(failure)  # in JupyterLab: the block; the traceback, one line
        raise
    _scoreboard.record(exercise_id, True, None)


def progress(path: str | None = None) -> None:
    """The lesson's scoreboard: each exercise, what its last check said, points and total."""
    from course_utils.scoreboard import progress as _progress

    _progress(path)


def more_help(exercise_id: str) -> None:
    """Print the stronger hints of one exercise (the test cell names its id), never the answer."""
    from course_utils import remote

    if remote.configured():
        remote.more_help(exercise_id)
        return
    from course_utils.exercises import more_help as _more_help

    _more_help(exercise_id)


def __getattr__(name: str) -> object:
    # The checks import torch (two seconds): loaded when first asked for, so that tools
    # that only need the bilingual messages (``course``, the grader) start without it.
    if name in ("CheckFailure", "check_tensor", "check_value"):
        from course_utils import checks

        return getattr(checks, name)
    raise AttributeError(f"module 'course_utils' has no attribute {name!r}")
