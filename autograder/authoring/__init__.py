"""Authoring: lesson cells, the bilingual convention, releases and one-language editions."""
