"""What a warm grading worker need not redo for every submission.

Each patch keeps nbgrader's and nbconvert's results and skips work whose outcome
cannot change within one process. :func:`apply` is idempotent; the grader and every
worker (local or on Dask) call it before grading.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

from autograder.config import ensure_tools_on_path


def apply() -> None:
    ensure_tools_on_path()
    _alembic_head_once()
    _templates_compiled_once()
    _metadata_schema_checked_once()
    _one_engine_per_gradebook()


def _alembic_head_once() -> None:
    """nbgrader runs ``alembic heads`` in a subprocess (seconds) for every gradebook it
    creates. The head revision is a fact of the installed nbgrader: read it once,
    in-process, with alembic's own API."""
    import nbgrader.api

    if not hasattr(nbgrader.api.get_alembic_version, "cache_info"):
        nbgrader.api.get_alembic_version = functools.lru_cache(maxsize=1)(_alembic_head)


def _alembic_head() -> str:
    import nbgrader
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(Path(nbgrader.__file__).parent / "alembic")).get_current_head()


def _templates_compiled_once() -> None:
    """nbconvert compiles its HTML templates again for every feedback page (~0.3 s):
    keep the compiled code in memory, keyed by each template's source as Jinja does."""
    from nbconvert.exporters.templateexporter import TemplateExporter

    create = TemplateExporter._create_environment
    if getattr(create, "_course_cached", False):
        return

    def _create_environment(self):
        environment = create(self)
        environment.bytecode_cache = _template_code()
        return environment

    _create_environment._course_cached = True
    TemplateExporter._create_environment = _create_environment


@functools.cache
def _template_code():
    """Compiled templates, for this process."""
    from jinja2 import BytecodeCache

    class InMemory(BytecodeCache):
        def __init__(self) -> None:
            self.code: dict[str, bytes] = {}

        def load_bytecode(self, bucket) -> None:
            if bucket.key in self.code:
                bucket.bytecode_from_string(self.code[bucket.key])

        def dump_bytecode(self, bucket) -> None:
            self.code[bucket.key] = bucket.bytecode_to_string()

    return InMemory()


def _metadata_schema_checked_once() -> None:
    """nbgrader checks every cell's nbgrader metadata with ``jsonschema.validate``, which
    first checks the schema itself against the JSON Schema meta-schema: four times per
    notebook, ~0.1 s per submission. The schema ships with nbgrader; check it once and
    keep its validator. Cells are still checked, with the same errors."""
    import nbgrader.nbgraderformat.common as common

    if not isinstance(common.jsonschema, _SchemaOnceChecked):
        common.jsonschema = _SchemaOnceChecked(common.jsonschema)


class _SchemaOnceChecked:
    """``jsonschema`` as nbgrader's metadata validator uses it, validators kept by schema."""

    def __init__(self, jsonschema) -> None:
        self._jsonschema = jsonschema
        self._validators: dict[str, object] = {}

    def __getattr__(self, name: str):
        return getattr(self._jsonschema, name)

    def validate(self, instance, schema) -> None:
        key = json.dumps(schema, sort_keys=True)
        validator = self._validators.get(key)
        if validator is None:
            cls = self._jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            validator = self._validators[key] = cls(schema)
        error = self._jsonschema.exceptions.best_match(validator.iter_errors(instance))
        if error is not None:
            raise error


def _one_engine_per_gradebook() -> None:
    """nbgrader opens a ``Gradebook`` eleven times per submission, and each one makes a
    database engine, a new connection (a TCP log-in with PostgreSQL), asks for the table
    names and issues ``CREATE TABLE IF NOT EXISTS`` for every table. Keep one engine per
    database and process, set up by nbgrader's own code the first time; later gradebooks
    share its connection pool, and closing one gives its connection back to the pool."""
    from nbgrader.api import Gradebook

    if getattr(Gradebook.__init__, "_course_shared", False):
        return
    setup, close = Gradebook.__init__, Gradebook.close

    def __init__(self, db_url: str, course_id: str = "default_course", authenticator=None):
        key = _database_key(db_url)
        engine = _engines.get(key)
        if engine is None:
            setup(self, db_url, course_id, authenticator)
            self._course_key = key = key or _database_key(db_url)  # a new SQLite file
            if key is not None:
                _engines[key] = self.engine
            return
        self._course_key = key
        from sqlalchemy.orm import scoped_session, sessionmaker

        self.engine = engine
        self.db = scoped_session(sessionmaker(autoflush=True, bind=engine, future=True))
        self.check_course(course_id=course_id)
        self.course_id = course_id
        self.authenticator = authenticator

    def _close(self) -> None:
        if _engines.get(getattr(self, "_course_key", None)) is self.engine:
            self.db.remove()
        else:
            close(self)

    __init__._course_shared = True
    Gradebook.__init__ = __init__
    Gradebook.close = _close


def _database_key(db_url: str) -> tuple | None:
    """Which engine may serve ``db_url`` in this process.

    By process: a worker forked from the grader must not use (or close) the grader's
    connections, so those stay referenced and untouched. A SQLite file by its inode: a
    gradebook deleted and made again at the same path gets a new engine, not a
    connection to the deleted file."""
    key: tuple = (os.getpid(), str(db_url))
    if str(db_url).startswith("sqlite:///"):
        path = str(db_url).removeprefix("sqlite:///").split("?")[0]
        try:
            st = os.stat(path)
        except OSError:
            return None  # not made yet
        key = (*key, st.st_dev, st.st_ino)
    return key


_engines: dict[tuple, object] = {}
