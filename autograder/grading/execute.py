"""nbgrader's Execute, made safe for submissions that stop, hang or exhaust their kernel.

Stock Execute lets a dead kernel abort the whole submission (no grade at all), and a
kernel that ignores interrupts costs the full timeout for every remaining cell. Here
the cells that ran keep their outputs, the rest stay unrun (their tests then fail in
:class:`~autograder.grading.preprocessors.VerifyAnswers`), and every such event is noted.
"""

from __future__ import annotations

import os
import time

import nbformat
from jupyter_core.utils import ensure_async, run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.preprocessors import Execute
from traitlets import Integer

from autograder.grading import harness, notes
from autograder.grading.harness import LEARNER_ENV, learner_of
from autograder.grading.rules import checks_in

# Where the last notebook's time went (seconds): in cells, and around them (kernel start
# and stop, nbclient). Read by the grader for its per-submission breakdown.
TIMES: dict[str, float] = {}

MEMORY_ERRORS = ("MemoryError", "OutOfMemoryError")
MEMORY_TEXT = (
    "can't allocate memory",
    "not enough memory",
    "Cannot allocate memory",
    "out of memory",
)


class SafeExecute(Execute):
    notebook_timeout = Integer(
        600, help="Seconds the whole notebook may run; later cells are skipped."
    ).tag(config=True)
    responsive_timeout = Integer(
        10, help="Seconds a kernel has to answer after a timed-out cell."
    ).tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._stopped = False
        self._started = time.monotonic()
        self._in_cells = 0.0
        before = os.environ.get(LEARNER_ENV)
        student = learner_of(resources)
        if student is not None:
            # The kernel, started below with this process's environment (or a kernel started
            # ahead, given what changed in it), shows the student their own member of each
            # family; the references are the grader's, computed for the same student.
            os.environ[LEARNER_ENV] = student
        try:
            return super().preprocess(nb, resources, km)
        except (DeadKernelError, CellTimeoutError):
            # The kernel died between cells, or while being shut down after we stopped it.
            self._stopped = True
            return self.nb, self.resources
        finally:
            if before is None:
                os.environ.pop(LEARNER_ENV, None)
            else:
                os.environ[LEARNER_ENV] = before
            total = time.monotonic() - self._started
            TIMES["cells"] = TIMES.get("cells", 0.0) + self._in_cells
            TIMES["kernel"] = TIMES.get("kernel", 0.0) + total - self._in_cells

    def preprocess_cell(self, cell, resources, index):
        start = time.monotonic()
        try:
            return self._preprocess_cell(cell, resources, index)
        finally:
            self._in_cells += time.monotonic() - start

    def _preprocess_cell(self, cell, resources, index):
        if self._stopped:
            return cell, resources
        if time.monotonic() - self._started > self.notebook_timeout:
            self._stopped = True
            notes.add(self.nb, "notebook-timeout", index)
            return cell, resources
        try:
            checks = self._checks(cell, resources)
            if checks:
                cell = self._drive(cell, resources, index, checks)
            else:
                cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            return self._stop(
                cell,
                resources,
                index,
                "DeadKernelError",
                "The kernel died while running this cell. 内核在运行这个单元格时停止了。",
            )
        except CellTimeoutError:
            # The interrupt was ignored and the kernel went silent: it cannot go on.
            notes.add(self.nb, "timeout", index)
            self._kill()
            return self._stop(
                cell,
                resources,
                index,
                "CellTimeoutError",
                "The cell ran too long and ignored the interrupt. 这个单元格运行时间过长，且没有响应中断。",
            )
        for out in cell.get("outputs", []):
            if out.get("output_type") != "error":
                continue
            if out.get("ename") == "CellTimeoutError":
                notes.add(self.nb, "timeout", index)
                if not self._responsive():
                    self._stopped = True
                    notes.add(self.nb, "kernel-died", index)
                    self._kill()
            elif out.get("ename") in MEMORY_ERRORS or any(
                t in str(out.get("evalue", "")) for t in MEMORY_TEXT
            ):
                notes.add(self.nb, "memory", index)
        return cell, resources

    def _checks(self, cell, resources) -> list[tuple[str, str, bool]]:
        """The checks of a graded test cell, which the grader answers itself (see harness)."""
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") != "code" or not meta.get("grade"):
            return []
        if (resources or {}).get("course_seed") is None:
            return []
        return checks_in(cell.source)

    def _drive(self, cell, resources, index: int, checks: list[tuple[str, str, bool]]):
        self._check_assign_resources(resources)
        seed = resources["course_seed"]

        def run(request) -> None:
            try:
                self.execute_cell(request, index, store_history=False)
            finally:
                self.nb.cells[index] = cell  # nbclient puts the cell it ran in the notebook

        return harness.drive(run, cell, checks, seed, learner_of(resources))

    def _stop(self, cell, resources, index: int, ename: str, evalue: str):
        """The kernel is gone: this cell failed, the rest will not run."""
        self._stopped = True
        notes.add(self.nb, "kernel-died", index)
        cell.outputs.append(
            nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[])
        )
        return cell, resources

    def _responsive(self) -> bool:
        """After an interrupt, does the kernel answer again (or is it stuck)?"""

        async def probe() -> bool:
            msg_id = self.kc.kernel_info()
            deadline = time.monotonic() + self.responsive_timeout
            while time.monotonic() < deadline:
                reply = await ensure_async(
                    self.kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
                )
                if reply.get("parent_header", {}).get("msg_id") == msg_id:
                    return True
            return False

        try:
            return run_sync(probe)()
        except Exception:
            return False

    def _kill(self) -> None:
        try:
            run_sync(self.km.provisioner.kill)()
        except Exception:
            pass
