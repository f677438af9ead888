"""Instructor tooling for the course: release, bilingual checks, grading (built on nbgrader)."""
