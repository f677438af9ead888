"""The course on a JupyterHub: learners, an instructor and nbgrader's exchange on one machine.

``course hub`` (or ``make hub``) prepares everything below and starts JupyterHub with
``deploy/hub/jupyterhub_config.py``; the tests in tests/hub/ do the same with their own folders.
It follows nbgrader's multi-class demo (demos/demo_multiple_classes) with JupyterHub 5 roles:

- real system users (``useradd``, as root): the learners, the instructor, and the grader account
  ``grader-<course>`` that owns the course folder and runs the course service;
- the course service: a JupyterLab (``jupyterhub-singleuser``) running as the grader in the
  course folder, with the Formgrader; members of ``formgrade-<course>`` may open it. We start
  it beside the hub, which sees an external service (it gives a managed one ten seconds to
  answer, too short for JupyterLab on a small machine);
- ``nbgrader-<course>`` lists who takes the course; nbgrader's ``JupyterHubAuthPlugin`` asks the
  hub for a user's groups, so servers get ``read:users:groups!user`` on top of the defaults;
- nbgrader's exchange with ``path_includes_course`` (``<exchange>/<course>/inbound`` ...);
  submissions are readable by their author and the grader account only (:class:`PrivateSubmit`);
- three Jupyter configuration folders: learners (no Create Assignment, Formgrader or course
  list), the instructor (course list, which opens the Formgrader), the course service;
- the checking service (``autograder/lab/checking.py``), also as the grader: the learners'
  ``check()`` and Validate ask it, because what would answer an exercise (the solutions, the
  references, the tests, git's history) is readable by the grader account only
  (:func:`hide_answers`), while the servers run this checkout's Python;
- the grading service (``course serve``, :func:`grading_service`), which JupyterHub starts,
  as the grader, and starts again when it exits: each submission is graded as it arrives and
  its feedback released at once, or at the lesson's deadline when ``--policy`` says so.

Everything binds to 127.0.0.1 unless ``--ip`` says otherwise.
"""

from __future__ import annotations

import argparse
import glob
import grp
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from stat import S_IRGRP, S_IRUSR, S_IWGRP, S_IWUSR, S_IXGRP, S_IXOTH, S_IXUSR

from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback
from nbgrader.exchange.default.submit import ExchangeSubmit
from nbgrader.utils import notebook_hash

from autograder.config import COURSE_ID, EXCHANGE_ENV, RELEASE_DIR, ROOT, SOURCE_DIR
from autograder.lab.setup import INSTRUCTOR_PANELS, write_lab_overrides

DEPLOY = ROOT / "deploy" / "hub"
HUB_CONFIG = DEPLOY / "jupyterhub_config.py"
PROXY = DEPLOY / "node_modules" / ".bin" / "configurable-http-proxy"
BIN = Path(sys.executable).parent
GRADER = f"grader-{COURSE_ID}"
SERVICE = COURSE_ID  # the course service is named after the course, as in nbgrader's demo
CHECK = "course-check"  # the checking service: check() and Validate on learners' servers
GRADING = "course-grading"  # the grading service: `course serve`, a managed service of the hub
POLICY_FILE = "feedback-policy.json"  # `course hub --policy`, copied into the course folder
GRADING_DIR = "grading-service"  # `course serve --out`, in the course folder
SETTINGS_ENV = "COURSE_HUB_SETTINGS"
HUB_START_S = 90


@dataclass
class HubSettings:
    """Everything jupyterhub_config.py needs; written as JSON into the hub's private folder."""

    state: str  # the hub's own files (root only): cookie secret, database, this file
    exchange: str
    course: str  # the grader's nbgrader course folder
    config: str  # Jupyter configuration folders: <config>/{learner,instructor,service}
    instructor: str
    learners: list[str]
    db_url: str
    ip: str = "127.0.0.1"
    port: int = 8000
    hub_port: int = 8081
    proxy_api_port: int = 8001
    service_port: int = 9999
    check_port: int = 9998
    service_token: str = field(default_factory=lambda: secrets.token_hex(32))
    check_token: str = field(default_factory=lambda: secrets.token_hex(32))
    proxy_token: str = field(default_factory=lambda: secrets.token_hex(32))
    lang: str = "both"
    policy: str | None = None  # the grading service's policy file (None: feedback at once)

    @property
    def grading(self) -> Path:
        """The grading service's folder: its course, journal and collected submissions."""
        return Path(self.course) / GRADING_DIR

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.ip in ("", "0.0.0.0") else self.ip
        return f"http://{host}:{self.port}"

    @property
    def settings_file(self) -> Path:
        return Path(self.state) / "settings.json"

    @classmethod
    def load(cls, path: str | Path | None = None) -> HubSettings:
        path = path or os.environ.get(SETTINGS_ENV)
        if not path:
            raise RuntimeError(f"{SETTINGS_ENV} is not set: start the hub with `course hub`")
        return cls(**json.loads(Path(path).read_text(encoding="utf-8")))


class PrivateSubmit(ExchangeSubmit):
    """nbgrader's submit, but a submission is readable by its author and the grader only.

    Stock nbgrader leaves submissions world-readable (hidden by a random folder name) with
    the secret that names the learner's feedback. ``inbound/`` is set-group-ID and belongs to
    the grader's group, so what a learner copies there is in that group: owner and group may
    read, others nothing.
    """

    def copy_files(self) -> None:
        super().copy_files()
        dest = Path(self.inbound_path) / self.assignment_filename
        self.set_perms(
            str(dest),
            fileperms=S_IRUSR | S_IWUSR | S_IRGRP,
            dirperms=S_IRUSR | S_IWUSR | S_IXUSR | S_IRGRP | S_IXGRP,
        )
        # The grader may remove it later (nbgrader's own reason for its 0777 here).
        os.chmod(dest, S_IRUSR | S_IWUSR | S_IXUSR | S_IRGRP | S_IWGRP | S_IXGRP)


class PrivateReleaseFeedback(ExchangeReleaseFeedback):
    """nbgrader's release_feedback, but each learner's feedback is readable by that learner only.

    Stock nbgrader leaves released feedback world-readable under a name derived from the
    submission's secret. The grader account belongs to every learner's own group
    (:func:`prepare`), so it can hand each file to its learner's group: owner (the grader) and
    that learner may read, others nothing.
    """

    def ensure_directory(self, path: str, mode: int) -> None:
        """nbgrader's, but root (the hub's grading service, run as root so that its kernels
        are sandboxed) uses the grader's folders as they are; what it makes is handed to the
        grader afterwards (autograder.grading.inbound.hand_over)."""
        if os.geteuid() == 0 and os.path.isdir(path):
            return
        super().ensure_directory(path, mode)

    def copy_files(self) -> None:
        super().copy_files()
        for html in glob.glob(os.path.join(self.src_path, "*.html")):
            folder, name = os.path.split(html)
            student = Path(folder).parent.name
            with open(os.path.join(folder, "submission_secret.txt")) as fh:
                secret = fh.read()
            released = (
                Path(self.dest_path) / f"{notebook_hash(secret=secret, notebook_id=name[:-5])}.html"
            )
            try:
                gid = pwd.getpwnam(student).pw_gid
            except KeyError:
                self.log.warning("No system user %s: their feedback stays readable by all", student)
                continue
            os.chown(released, -1, gid)
            os.chmod(released, S_IRUSR | S_IWUSR | S_IRGRP)


# -- system users ------------------------------------------------------------------------------
def ensure_user(name: str, password: str | None = None) -> pwd.struct_passwd:
    """A system user with a private home folder (created when missing); set its password."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True)
        entry = pwd.getpwnam(name)
    home = Path(entry.pw_dir)
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, entry.pw_uid, entry.pw_gid)
    os.chmod(home, 0o700)  # learners must not read each other's work or fetched feedback
    if password is not None:
        subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True)
    return entry


def let_users_run_python() -> list[Path]:
    """The servers run this environment's Python as the course's users: every folder on the way
    to it (and to its standard library) must be traversable by them. A Python under /root (pyenv)
    is not; add traverse-only permission (o+x: no listing) and return the folders changed."""
    changed = []
    targets = {Path(os.path.realpath(sys.executable)), Path(sys.base_prefix).resolve(), BIN, ROOT}
    for target in targets:
        for folder in [*reversed(target.parents), target] if target.is_dir() else target.parents:
            mode = folder.stat().st_mode
            if not mode & S_IXOTH:
                os.chmod(folder, mode | S_IXOTH)
                changed.append(folder)
    for folder in changed:
        print(
            f"course hub: made {folder} traversable (o+x) so that the course's users can run Python"
        )
    return changed


def hide_answers(grader: pwd.struct_passwd) -> list[Path]:
    """What in the checkout would answer an exercise, made readable by the grader account only.

    The servers run this checkout's Python as the course's users, and the checkout is
    traversable: without this a learner's kernel could read ``solutions/`` or import the
    references. Each folder keeps its owner and becomes group-owned by the grader's group,
    with no access for others (root, the grader and the checking service still read it).
    """
    hidden = []
    for path in (
        ROOT / SOURCE_DIR,
        ROOT / "course_utils" / "exercises",
        ROOT / "tests",
        ROOT / ".git",
    ):
        if path.is_dir():
            os.chown(path, -1, grader.pw_gid)
            os.chmod(path, (path.stat().st_mode & ~0o7077) | 0o750)
            hidden.append(path)
    return hidden


def chown_tree(path: Path, entry: pwd.struct_passwd) -> None:
    for p in [path, *path.rglob("*")]:
        os.chown(p, entry.pw_uid, entry.pw_gid, follow_symlinks=False)


# -- configuration files -----------------------------------------------------------------------
NBGRADER_HUB_CONFIG = """\
# Written by autograder/lab/hub.py: nbgrader on the course's JupyterHub.
from nbgrader.auth import JupyterHubAuthPlugin

c = get_config()  # noqa: F821
c.Exchange.root = {exchange!r}
c.Exchange.path_includes_course = True
c.Authenticator.plugin_class = JupyterHubAuthPlugin
c.CourseDirectory.course_id = {course!r}
c.ExchangeFactory.submit = "autograder.lab.hub.PrivateSubmit"
c.ExchangeFactory.release_feedback = "autograder.lab.hub.PrivateReleaseFeedback"
"""

COURSE_NBGRADER_CONFIG = """\
# Written by autograder/lab/hub.py: the course folder of the grader account on the hub.
from pathlib import Path

from autograder.config import configure

c = get_config()  # noqa: F821
configure(c, Path(__file__).resolve().parent)
c.CourseDirectory.db_url = {db_url!r}
# The hub's exchange, also where no server's environment names it (COURSE_EXCHANGE):
c.Exchange.root = {exchange!r}
c.Exchange.path_includes_course = True
c.ExchangeFactory.submit = "autograder.lab.hub.PrivateSubmit"
c.ExchangeFactory.release_feedback = "autograder.lab.hub.PrivateReleaseFeedback"
"""


def page_config(role: str) -> dict:
    """JupyterLab's ``labconfig/page_config.json`` for ``role``: which nbgrader panels load."""
    shown = {"learner": (), "instructor": ("course-list",), "service": INSTRUCTOR_PANELS}[role]
    return {
        "disabledExtensions": {f"@jupyter/nbgrader:{p}": p not in shown for p in INSTRUCTOR_PANELS}
    }


# JupyterHub serves every Jupyter server with `frame-ancestors 'none'`, so that no page of the
# hub's origin can frame (and script) another user's server. The course service's JupyterLab shows
# the Formgrader in a frame of its own pages, which the Course List and the Nbgrader menu open:
# with 'none' it is a blank panel. The service alone allows frames from the hub's origin. The
# pages that could frame it are those the instructor opens: the hub's, the service's own, and
# their own server's. Learners' servers refuse the instructor (no admins, no role that shares
# or reaches others' servers: tests/hub/test_k8s.py), and what a learner submits is already
# served from this origin by the Formgrader, framed or not. Granting such a role would need
# JupyterHub's subdomains (nbgrader's docs) before this line stays safe.
SERVICE_FRAMES = "frame-ancestors 'self'"


def server_config(role: str) -> dict:
    """``role``'s ``jupyter_server_config.json``: which nbgrader server extensions run, and for
    the course service, that its Formgrader may be framed by its own JupyterLab."""
    instructor = role in ("instructor", "service")
    server: dict = {
        "jpserver_extensions": {
            "nbgrader.server_extensions.formgrader": role == "service",
            "nbgrader.server_extensions.course_list": instructor,
            "nbgrader.server_extensions.assignment_list": True,
            "nbgrader.server_extensions.validate_assignment": True,
        }
    }
    if role == "service":
        server["tornado_settings"] = {"headers": {"Content-Security-Policy": SERVICE_FRAMES}}
    return {"ServerApp": server}


def write_jupyter_config(folder: Path, role: str, s: HubSettings) -> Path:
    """One role's Jupyter configuration folder (it goes first on JUPYTER_CONFIG_PATH)."""
    (folder / "labconfig").mkdir(parents=True, exist_ok=True)
    (folder / "nbgrader_config.py").write_text(
        NBGRADER_HUB_CONFIG.format(exchange=s.exchange, course=COURSE_ID), encoding="utf-8"
    )
    # JupyterLab's defaults for the hub (no news, the course's language), not those that the
    # last `make lab` left in the environment.
    lab_settings = folder / "lab-settings"
    write_lab_overrides(lab_settings, s.lang)
    server = server_config(role)
    server["LabApp"] = {"app_settings_dir": str(lab_settings)}
    (folder / "jupyter_server_config.json").write_text(
        json.dumps(server, indent=2) + "\n", encoding="utf-8"
    )
    (folder / "labconfig" / "page_config.json").write_text(
        json.dumps(page_config(role), indent=2) + "\n", encoding="utf-8"
    )
    return folder


def prepare(s: HubSettings, passwords: dict[str, str], policy: Path | None = None) -> None:
    """Users, folders and configuration for the hub described by ``s`` (as root; idempotent).

    ``policy``: the grading service's policy file, copied to ``s.policy``."""
    if os.geteuid() != 0:
        raise PermissionError("the hub creates system users and runs servers as them: run as root")
    let_users_run_python()
    grader = ensure_user(GRADER)
    for path in hide_answers(grader):
        print(f"course hub: {path} is readable by {GRADER} only (and root)")
    for user in [s.instructor, *s.learners]:
        entry = ensure_user(user, passwords.get(user))
        # The grader hands each learner's feedback to that learner's own group.
        group = grp.getgrgid(entry.pw_gid).gr_name
        if GRADER not in grp.getgrgid(entry.pw_gid).gr_mem:
            subprocess.run(["usermod", "--append", "--groups", group, GRADER], check=True)

    state = Path(s.state)
    state.mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o700)
    s.settings_file.write_text(json.dumps(asdict(s), indent=2) + "\n", encoding="utf-8")
    os.chmod(s.settings_file, 0o600)

    config = Path(s.config)
    for role in ("learner", "instructor", "service"):
        write_jupyter_config(config / role, role, s)
    for p in [config, *config.rglob("*")]:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)

    # The exchange root: nbgrader wants it world-writable; the grader's release makes the rest.
    exchange = Path(s.exchange)
    exchange.mkdir(parents=True, exist_ok=True)
    os.chown(exchange, grader.pw_uid, grader.pw_gid)
    os.chmod(exchange, 0o777)

    # The grader's course folder: the checkout's sources and learner versions (links, so that
    # `course release` in the checkout is what `nbgrader release_assignment` hands out).
    course = Path(s.course)
    course.mkdir(parents=True, exist_ok=True)
    for name in (SOURCE_DIR, RELEASE_DIR):
        link = course / name
        if not link.is_symlink():
            link.symlink_to(ROOT / name)
    (course / "nbgrader_config.py").write_text(
        COURSE_NBGRADER_CONFIG.format(db_url=s.db_url, exchange=s.exchange), encoding="utf-8"
    )
    # The grading service's policy, where the grader reads it; without one, feedback goes at
    # once (an older copy would otherwise still hold it back).
    (course / POLICY_FILE).unlink(missing_ok=True)
    if policy is not None:
        shutil.copyfile(policy, course / POLICY_FILE)
    s.grading.mkdir(exist_ok=True)
    chown_tree(course, grader)
    os.chmod(course, 0o750)


def course_env(s: HubSettings, role: str) -> dict[str, str]:
    """The environment of a server (learner, instructor) or of the course service."""
    checking = {} if role == "service" else {"COURSE_CHECK_URL": check_url(s)}
    return {
        **checking,
        "PATH": f"{BIN}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
        "JUPYTER_CONFIG_PATH": str(Path(s.config) / role),
        "COURSE_LANG": s.lang,
        "COURSE_DB": s.db_url,
        # configure() reads it: every course folder, `course grade`'s scratch one included,
        # then hands out through the hub's exchange (release_feedback needs no options).
        EXCHANGE_ENV: s.exchange,
    }


def grading_service(s: HubSettings) -> dict:
    """The grading service as a JupyterHub managed service (``c.JupyterHub.services``).

    JupyterHub runs ``command`` as the hub's own user (root: ``course hub`` needs it), stops it
    with the hub, and polls it (every 30 s, Spawner.poll_interval) and starts it again when it
    has exited; the service's journal then grades what it had in hand and what arrived
    meanwhile, each once. It serves no HTTP (no ``url``), so the hub neither routes to it nor
    waits for it to answer.

    Security trade-off: root, not the grader account. A learner's code runs in the kernel
    sandbox (autograder/grading/confinement.py), as with ``course grade`` run as root: the
    solutions, the references, the tests, other submissions and git's history are hidden from
    it, it has no network (so no gradebook, $COURSE_DB), a read-only filesystem and a process
    limit; all of that needs root. Run as the grader, the kernels would have memory and file
    limits only, and a hostile submission could read everything the grader reads (the
    references included: a forged grade) and reach the gradebook. The price is a root process
    that opens every learner's files (nbformat's JSON parsing, nbgrader's collect); it runs
    none of their code outside the sandbox. A root-owned fork server confining kernels for an
    unprivileged service would keep both, and is not built.
    """
    command = [
        str(BIN / "course"),
        "serve",
        "--exchange",
        s.exchange,
        "--out",
        str(s.grading),
        "--private-feedback",  # each learner's feedback readable by that learner only
    ]
    if s.policy:
        command += ["--policy", s.policy]
    return {
        "name": GRADING,
        "command": command,
        "cwd": str(
            s.grading
        ),  # not the course folder, whose nbgrader_config.py is the instructor's
        # $COURSE_DB (the gradebook, read by `course serve`, kept out of the command line that
        # every user's `ps` shows), $COURSE_EXCHANGE, PATH, the language.
        "environment": {
            # Not the course service's Jupyter configuration: nbgrader there asks the hub who
            # takes the course, and `course serve` has its own.
            **{k: v for k, v in course_env(s, "service").items() if k != "JUPYTER_CONFIG_PATH"},
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "PYTHONUNBUFFERED": "1",  # its lines reach the hub's log as they happen
        },
    }


# -- running it ---------------------------------------------------------------------------------
def proxy_command() -> Path:
    """configurable-http-proxy, installed from deploy/hub/package.json (npm) when missing."""
    if not PROXY.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise FileNotFoundError(
                "configurable-http-proxy needs Node.js and npm (apt-get install nodejs npm)"
            )
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--prefix", str(DEPLOY)], check=True)
    return PROXY


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def service_prefix() -> str:
    return f"/services/{SERVICE}/"


def check_url(s: HubSettings) -> str:
    """Where a server's check() reaches the checking service (on this machine, on loopback)."""
    return f"http://127.0.0.1:{s.check_port}/services/{CHECK}/"


def check_env(s: HubSettings) -> dict[str, str]:
    """The checking service's environment: the grader account's, and how to reach the hub."""
    entry = pwd.getpwnam(GRADER)
    return {
        "HOME": entry.pw_dir,
        "USER": GRADER,
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PATH": f"{BIN}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
        "COURSE_LANG": s.lang,
        "JUPYTERHUB_API_TOKEN": s.check_token,
        "JUPYTERHUB_API_URL": f"http://127.0.0.1:{s.hub_port}/hub/api",
        "JUPYTERHUB_SERVICE_NAME": CHECK,
        "JUPYTERHUB_SERVICE_PREFIX": f"/services/{CHECK}/",
    }


def service_env(s: HubSettings) -> dict[str, str]:
    """What JupyterHub would give a managed service (Spawner.get_env), for ours, which we run:
    JupyterHub allows a managed service ten one-second tries to answer, and JupyterLab needs
    longer on a small machine. (On Kubernetes the course service is external too.)"""
    entry = pwd.getpwnam(GRADER)
    api = f"http://127.0.0.1:{s.hub_port}/hub/api"
    return {
        "HOME": entry.pw_dir,
        "USER": GRADER,
        "SHELL": "/bin/bash",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        **course_env(s, "service"),
        "JUPYTERHUB_API_TOKEN": s.service_token,
        "JUPYTERHUB_CLIENT_ID": f"service-{SERVICE}",
        "JUPYTERHUB_HOST": "",
        "JUPYTERHUB_OAUTH_CALLBACK_URL": f"{service_prefix()}oauth_callback",
        "JUPYTERHUB_OAUTH_ACCESS_SCOPES": json.dumps([f"access:services!service={SERVICE}"]),
        "JUPYTERHUB_OAUTH_CLIENT_ALLOWED_SCOPES": "[]",
        "JUPYTERHUB_USER": GRADER,
        "JUPYTERHUB_SERVER_NAME": "",
        "JUPYTERHUB_API_URL": api,
        "JUPYTERHUB_BASE_URL": "/",
        "JUPYTERHUB_SERVICE_NAME": SERVICE,
        "JUPYTERHUB_SERVICE_PREFIX": service_prefix(),
        "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{s.service_port}{service_prefix()}",
        "JUPYTERHUB_DEFAULT_URL": "/lab",
    }


def as_grader(s: HubSettings, argv: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    """Run an instructor's command as the grader account in the course folder, as in a terminal
    of the course service (same environment, minus the service's hub token)."""
    env = {k: v for k, v in service_env(s).items() if not k.startswith("JUPYTERHUB_")}
    return subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=timeout, **_as_grader_account(s)
    )


def _as_grader_account(s: HubSettings) -> dict:
    """How a process runs as the grader account, in the course folder, with its groups."""
    grader = pwd.getpwnam(GRADER)
    return {
        "cwd": s.course,
        "user": grader.pw_uid,
        "group": grader.pw_gid,
        "extra_groups": grader_groups(),
    }


@dataclass
class RunningHub:
    settings: HubSettings
    hub: subprocess.Popen
    service: subprocess.Popen | None = None
    checking: subprocess.Popen | None = None


def _as_grader_in_background(
    s: HubSettings, argv: list[str], env: dict[str, str], log: Path
) -> subprocess.Popen:
    """A service of the course (the course service, the checking service) as the grader account,
    in the course folder, in a session of its own, its output in ``log``."""
    with log.open("w") as out:
        return subprocess.Popen(
            argv,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **_as_grader_account(s),
        )


def start(s: HubSettings, log: Path) -> RunningHub:
    """Start JupyterHub (it starts the proxy) and the course service; wait until both answer.

    ``log`` gets the hub's output; the service's goes beside it (``<log>.service``)."""
    proxy = proxy_command()
    env = dict(os.environ)
    env.update(
        {
            SETTINGS_ENV: str(s.settings_file),
            "PATH": f"{proxy.parent}{os.pathsep}{BIN}{os.pathsep}{env.get('PATH', '')}",
            "CONFIGPROXY_AUTH_TOKEN": s.proxy_token,
        }
    )
    env.pop("JUPYTER_CONFIG_PATH", None)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        hub = subprocess.Popen(
            [str(BIN / "jupyterhub"), "-f", str(HUB_CONFIG)],
            cwd=s.state,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = RunningHub(s, hub)
    service_log = log.with_name(log.name + ".service")
    running.service = _as_grader_in_background(
        s, [str(BIN / "jupyterhub-singleuser")], service_env(s), service_log
    )
    checking_log = log.with_name(log.name + ".checking")
    running.checking = _as_grader_in_background(
        s,
        [sys.executable, "-m", "autograder.lab.checking", "--port", str(s.check_port)],
        check_env(s),
        checking_log,
    )
    deadline = time.monotonic() + HUB_START_S
    checks = {
        "JupyterHub": (hub, log, f"{s.url}/hub/api/"),
        "the course service": (
            running.service,
            service_log,
            f"http://127.0.0.1:{s.service_port}{service_prefix()}api",
        ),
        "the checking service": (running.checking, checking_log, check_url(s)),
    }
    for name, (proc, its_log, url) in checks.items():
        while not answers(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(running)
                raise RuntimeError(f"{name} did not start; its log:\n{its_log.read_text()[-4000:]}")
            time.sleep(0.5)
    return running


def _end(proc: subprocess.Popen, timeout: float) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # whatever it started in its session
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait(timeout=10)


def stop(running: RunningHub, timeout: float = 20) -> None:
    """Stop the course service, then the hub (on SIGTERM JupyterHub stops the servers it
    spawned and the proxy); whatever survives a killed hub is killed: the proxy (its pid file)
    and the processes of the course's users (servers, kernels)."""
    s = running.settings
    for service in (running.checking, running.service):
        if service is not None:
            _end(service, timeout)
    _end(running.hub, timeout)
    kill_leftovers(s)


def kill_leftovers(s: HubSettings) -> None:
    """What a hub that was killed leaves: the proxy (its pid file) and the processes of the
    course's users (servers, kernels, the service)."""
    try:
        os.kill(int((Path(s.state) / "jupyterhub-proxy.pid").read_text().strip()), signal.SIGKILL)
    except (OSError, ValueError):
        pass
    for pid in user_processes([GRADER, s.instructor, *s.learners]):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def user_processes(users: list[str]) -> list[int]:
    """Processes running as ``users`` (single-user servers, kernels)."""
    uids = set()
    for u in users:
        try:
            uids.add(pwd.getpwnam(u).pw_uid)
        except KeyError:
            pass
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if proc.stat().st_uid in uids:
                found.append(int(proc.name))
        except OSError:
            pass
    return found


def grader_groups() -> list[int]:
    """The grader account's groups (its own and every learner's), as a login would give them."""
    entry = pwd.getpwnam(GRADER)
    return os.getgrouplist(GRADER, entry.pw_gid)


# -- course hub ---------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--learners", type=int, default=2, help="how many learners (default 2)")
    parser.add_argument("--instructor", default="instructor", help="the instructor's user name")
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path("/srv/autograd-course"),
        help="where the hub keeps its files",
    )
    parser.add_argument(
        "--ip", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--internal-ports",
        type=int,
        nargs=3,
        default=(8081, 8001, 9999),
        metavar=("HUB", "PROXY_API", "SERVICE"),
        help="loopback ports of the hub's API, the proxy's API and the course service",
    )
    parser.add_argument(
        "--check-port",
        type=int,
        default=None,
        help="loopback port of the checking service (default: the course service's, less one)",
    )
    parser.add_argument(
        "--db",
        default=None,
        help="the course gradebook (default: sqlite in the course folder; postgresql://... on a hub)",
    )
    parser.add_argument(
        "--policy",
        type=Path,
        default=None,
        help="when the grading service releases feedback, per lesson (course serve --policy's "
        'JSON: {"02_derivatives": {"deadline": "2027-03-01 23:59:00 UTC", '
        '"feedback": "at-deadline"}}); default: at once',
    )


def settings_for(
    base: Path, learners: list[str], instructor: str, db_url: str | None, **kw
) -> HubSettings:
    base = base.resolve()
    course = base / "course"
    return HubSettings(
        state=str(base / "hub"),
        exchange=str(base / "exchange"),
        course=str(course),
        config=str(base / "jupyter"),
        instructor=instructor,
        learners=learners,
        db_url=db_url or f"sqlite:///{course / 'gradebook.db'}",
        **kw,
    )


def run(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        print("course hub: run as root (it creates system users and starts servers as them)")
        return 2
    if args.db:
        from autograder.grading.grade import check_gradebook

        try:
            check_gradebook(args.db)
        except ValueError as exc:
            print(f"course hub: {exc}")
            return 2
    if args.policy:
        from autograder.grading.service import Policy

        try:
            Policy.load(args.policy)
        except (OSError, ValueError) as exc:
            print(f"course hub: --policy: {exc}")
            return 2
    learners = [f"learner{i}" for i in range(1, args.learners + 1)]
    hub_port, proxy_api_port, service_port = args.internal_ports
    s = settings_for(
        args.dir,
        learners,
        args.instructor,
        args.db,
        ip=args.ip,
        port=args.port,
        hub_port=hub_port,
        proxy_api_port=proxy_api_port,
        service_port=service_port,
        check_port=args.check_port or service_port - 1,
    )
    if args.policy:
        s.policy = str(Path(s.course) / POLICY_FILE)  # prepare() copies it there
    passwords = {u: secrets.token_urlsafe(9) for u in [args.instructor, *learners]}
    prepare(s, passwords, args.policy)
    running = start(s, Path(s.state) / "jupyterhub.log")
    when = (
        (f"as {s.policy} says", f"按 {s.policy} 的规定发布")
        if s.policy
        else ("at once", "立即发布")
    )
    print(f"\nThe course hub is running at {s.url}   (log: {Path(s.state) / 'jupyterhub.log'})")
    print("课程 JupyterHub 已启动。Log in as · 登录账号：")
    for user in [args.instructor, *learners]:
        print(f"  {user:12s} password · 密码  {passwords[user]}")
    print(
        f"The instructor's Formgrader · 教师评分界面: {s.url}/services/{SERVICE}/formgrader\n"
        "  (or Nbgrader → Course List in the instructor's JupyterLab · "
        "或在教师的 JupyterLab 中打开 Nbgrader → Course List)\n"
        f"Course folder (grader account {GRADER}) · 课程目录: {s.course}\n"
        f"Submissions are graded as they arrive; feedback is released {when[0]}\n"
        f"  · 提交一到即自动评分，反馈{when[1]}\n"
        "Ctrl+C stops the hub · 按 Ctrl+C 停止。"
    )
    try:
        while all(p.poll() is None for p in (running.hub, running.service, running.checking)):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        stop(running)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course hub", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
