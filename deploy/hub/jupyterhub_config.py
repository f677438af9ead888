# JupyterHub 5 for the course, after nbgrader's demos/demo_multiple_classes with today's roles.
#
# Start it with `course hub` (or `make hub`): that creates the system users, the exchange, the
# grader's course folder and the Jupyter configuration folders, and writes the settings this
# file reads (autograder/lab/hub.py, HubSettings; the path is in $COURSE_HUB_SETTINGS).
from pathlib import Path

from autograder.config import COURSE_ID
from autograder.lab.hub import (
    BIN,
    CHECK,
    GRADER,
    PROXY,
    SERVICE,
    HubSettings,
    course_env,
    grading_service,
)

c = get_config()  # noqa: F821
s = HubSettings.load()
state = Path(s.state)

# -- where it listens: the public side on s.ip (127.0.0.1 unless told), the rest on loopback
c.JupyterHub.bind_url = f"http://{s.ip}:{s.port}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{s.hub_port}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{s.proxy_api_port}"
# The Node.js configurable-http-proxy, installed from deploy/hub/package.json by npm.
c.ConfigurableHTTPProxy.command = [str(PROXY)]
c.ConfigurableHTTPProxy.auth_token = s.proxy_token
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")

# -- who: system users, their system passwords (PAM)
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.open_sessions = False  # no login sessions (systemd-logind) for servers
c.Authenticator.allowed_users = {s.instructor, *s.learners}

# Group names are nbgrader's convention: formgrade-<course> may grade, nbgrader-<course> takes it.
FORMGRADE, LEARNERS = f"formgrade-{COURSE_ID}", f"nbgrader-{COURSE_ID}"
c.JupyterHub.load_groups = {
    FORMGRADE: {"users": [s.instructor, GRADER]},
    LEARNERS: {"users": [*s.learners, s.instructor]},
}

c.JupyterHub.load_roles = [
    {
        # Every single-user server's token. On top of JupyterHub's defaults, nbgrader's
        # JupyterHubAuthPlugin reads the owner's groups (GET /hub/api/users/<self>) to know
        # their courses, and the course list looks up the course service. Scopes are
        # intersected with the owner's own, so a learner's token cannot do more than the learner.
        "name": "server",
        "scopes": [
            "users:activity!user",
            "access:servers!server",
            "read:users:name!user",
            "read:users:groups!user",
            "list:services",
            "read:services",
        ],
    },
    {
        "name": FORMGRADE,
        "groups": [FORMGRADE],
        "scopes": [f"access:services!service={SERVICE}"],  # open the Formgrader
    },
    {
        "name": LEARNERS,
        "groups": [LEARNERS],
        "scopes": ["list:services", f"read:services!service={SERVICE}"],
    },
    {
        # The course service's own token: JupyterHubAuthPlugin finds the grader's courses and,
        # when the Formgrader adds a learner, puts them in nbgrader-<course>.
        "name": f"{SERVICE}-service",
        "services": [SERVICE],
        "scopes": [
            "list:users",
            "read:users:name",
            "read:users:groups",
            "list:groups",
            f"read:groups!group={LEARNERS}",
            f"groups!group={LEARNERS}",
        ],
    },
]

# -- the course service: JupyterLab as the grader account, in the course folder, with the
# Formgrader. `course hub` runs it (autograder/lab/hub.py, service_env): to the hub it is an
# external service, as it is on Kubernetes (deploy/k8s/).
c.JupyterHub.services = [
    {
        "name": SERVICE,
        "display": True,
        "url": f"http://127.0.0.1:{s.service_port}",
        "api_token": s.service_token,
        "oauth_no_confirm": True,
    },
    {
        # The checking service (autograder/lab/checking.py): learners' check() and Validate ask
        # it, with their server's token, which it shows the hub to learn who asks.
        "name": CHECK,
        "url": f"http://127.0.0.1:{s.check_port}",
        "api_token": s.check_token,
    },
    # The grading service (`course serve`): JupyterHub starts it as root, so that its kernels
    # are sandboxed, stops it with the hub and starts it again if it exits (the trade-off:
    # autograder/lab/hub.py, grading_service).
    grading_service(s),
]

# -- learners' and the instructor's servers: local processes as their system users
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.start_timeout = 120  # two busy cores can make JupyterLab slow to start
c.Spawner.http_timeout = 120


def _environment(spawner) -> dict[str, str]:
    return course_env(s, "instructor" if spawner.user.name == s.instructor else "learner")


def _pre_spawn(spawner) -> None:
    # A new dict: the configured one may be shared by every spawner.
    spawner.environment = {**spawner.environment, **_environment(spawner)}


c.Spawner.pre_spawn_hook = _pre_spawn
c.JupyterHub.cleanup_servers = True  # the hub's servers stop with it
