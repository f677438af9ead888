"""Grading: nbgrader preprocessors, sandboxed fork-server kernels, the parallel grader, reports."""
