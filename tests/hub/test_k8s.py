"""deploy/k8s/ on paper: what can be checked without a cluster.

The YAML parses; the roles are deploy/hub's; the exchange is one ReadWriteMany volume mounted
where nbgrader looks for it in learners' pods and in the course service; the Jupyter
configuration matches what autograder/lab/hub.py writes; the Dockerfile installs the course
with the README's steps.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlparse

import yaml
from traitlets.config import Config

from autograder.config import EXCHANGE_DIR, EXCHANGE_ENV, ROOT, configure
from autograder.lab import hub as hublib

K8S = ROOT / "deploy" / "k8s"


def values() -> dict:
    return yaml.safe_load((K8S / "values.yaml").read_text(encoding="utf-8"))


def manifests() -> dict[tuple[str, str], dict]:
    docs = yaml.safe_load_all((K8S / "course-service.yaml").read_text(encoding="utf-8"))
    return {(d["kind"], d["metadata"]["name"]): d for d in docs if d}


def local_hub_config(tmp_path: Path, monkeypatch) -> Config:
    """deploy/hub/jupyterhub_config.py's configuration (run as JupyterHub would run it)."""
    s = hublib.settings_for(tmp_path, ["learner1"], "instructor", None)
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps(asdict(s)), encoding="utf-8")
    monkeypatch.setenv(hublib.SETTINGS_ENV, str(settings))
    c = Config()
    code = compile(hublib.HUB_CONFIG.read_text(encoding="utf-8"), str(hublib.HUB_CONFIG), "exec")
    exec(code, {"get_config": lambda: c, "__file__": str(hublib.HUB_CONFIG)})
    return c


def local_hub_roles(tmp_path: Path, monkeypatch) -> list[dict]:
    return local_hub_config(tmp_path, monkeypatch).JupyterHub.load_roles


def test_the_yaml_parses_and_names_the_course_image() -> None:
    v = values()
    single = v["singleuser"]
    assert single["cmd"] == "jupyterhub-singleuser"
    assert single["image"]["name"] and single["image"]["tag"]
    service = manifests()[("Deployment", "autograd-course")]["spec"]["template"]["spec"]
    course, check = service["containers"]
    # learners run the Dockerfile's "learner" target of the image the services run
    assert course["image"] == check["image"]
    assert f"{single['image']['name']}:{single['image']['tag']}" == course["image"].replace(
        "autograd-course:", "autograd-course-learner:"
    )


def test_roles_are_those_of_the_local_hub(tmp_path, monkeypatch) -> None:
    local = {r["name"]: r for r in local_hub_roles(tmp_path, monkeypatch)}
    k8s = values()["hub"]["loadRoles"]
    assert set(k8s) == set(local)
    for name, role in local.items():
        assert sorted(k8s[name]["scopes"]) == sorted(role["scopes"]), name
        for key in ("groups", "services"):
            assert k8s[name].get(key) == role.get(key), (name, key)


def test_nobody_reaches_another_users_server(tmp_path, monkeypatch) -> None:
    """The course service lets pages of the hub's origin frame it (hublib.SERVICE_FRAMES)
    because the instructor never opens a page that a learner's server serves: no admins, and
    no role that shares servers or reaches other users' servers."""
    c = local_hub_config(tmp_path, monkeypatch)
    assert not c.Authenticator.get("admin_users")
    assert "admin" not in json.dumps(values()["hub"]).lower(), "deploy/k8s names no admins either"
    for role in c.JupyterHub.load_roles:
        for scope in role["scopes"]:
            base, _, only = scope.partition("!")
            assert base not in {"admin:servers", "servers", "shares", "admin-ui", "admin:users"}, (
                role["name"],
                scope,
            )
            if base == "access:servers":
                assert only in ("server", "user"), (role["name"], scope)


def test_the_exchange_is_one_shared_volume_where_nbgrader_looks(tmp_path, monkeypatch) -> None:
    v, m = values(), manifests()
    claim = m[("PersistentVolumeClaim", "course-exchange")]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]

    single = v["singleuser"]["storage"]
    [vol] = [x for x in single["extraVolumes"] if x.get("persistentVolumeClaim")]
    assert vol["persistentVolumeClaim"]["claimName"] == "course-exchange"
    [learner_mount] = [x for x in single["extraVolumeMounts"] if x["name"] == vol["name"]]

    pod = m[("Deployment", "autograd-course")]["spec"]["template"]["spec"]
    [svc_vol] = [x for x in pod["volumes"] if x["name"] == "exchange"]
    assert svc_vol["persistentVolumeClaim"]["claimName"] == "course-exchange"
    [svc_mount] = [x for x in pod["containers"][0]["volumeMounts"] if x["name"] == "exchange"]

    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env[EXCHANGE_ENV] == svc_mount["mountPath"]
    # so that `course grade`'s scratch course folder releases feedback to it, as the README's
    # release_feedback command (no exchange options) expects; elsewhere each folder has its own
    monkeypatch.setenv(EXCHANGE_ENV, env[EXCHANGE_ENV])
    shared = configure(Config(), tmp_path / "grading-out" / "course")
    assert shared.Exchange.root == svc_mount["mountPath"]
    assert shared.Exchange.path_includes_course is True
    monkeypatch.delenv(EXCHANGE_ENV)
    alone = configure(Config(), tmp_path / "course")
    assert alone.Exchange.root == str(tmp_path / "course" / EXCHANGE_DIR)
    for role in ("learner", "service"):
        config = m[("ConfigMap", f"course-jupyter-{role}")]["data"]["nbgrader_config.py"]
        root = re.search(r'c\.Exchange\.root = "([^"]+)"', config).group(1)
        assert root == learner_mount["mountPath"] == svc_mount["mountPath"]
        assert "c.Exchange.path_includes_course = True" in config
        assert "JupyterHubAuthPlugin" in config


def test_jupyter_configuration_is_what_the_local_hub_writes() -> None:
    m = manifests()
    for role in ("learner", "service"):
        data = m[("ConfigMap", f"course-jupyter-{role}")]["data"]
        assert json.loads(data["page_config.json"]) == hublib.page_config(role)
        assert json.loads(data["jupyter_server_config.json"]) == hublib.server_config(role)
    env = values()["singleuser"]["extraEnv"]
    mounts = {
        x["name"]: x["mountPath"] for x in values()["singleuser"]["storage"]["extraVolumeMounts"]
    }
    assert env["JUPYTER_CONFIG_PATH"] == mounts["learner-config"]


def test_the_course_service_is_reachable_where_the_hub_expects_it() -> None:
    m = manifests()
    url = urlparse(values()["hub"]["services"][hublib.SERVICE]["url"])
    svc = m[("Service", url.hostname)]
    assert url.port in [p["port"] for p in svc["spec"]["ports"]]
    pod = m[("Deployment", url.hostname)]["spec"]["template"]["spec"]
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["JUPYTERHUB_SERVICE_NAME"]["value"] == hublib.SERVICE
    assert env["JUPYTERHUB_USER"]["value"] == hublib.GRADER
    assert env["COURSE_DB"]["valueFrom"]["secretKeyRef"]["key"] == "course-db"


def _readme_install_steps() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"Installing the course environment on a server.*?```bash\n(.*?)```", text, re.S)
    assert m, "README.md: no 'Installing the course environment on a server' block"
    return [line.strip() for line in m.group(1).splitlines() if line.strip()]


def _dockerfile_commands() -> list[str]:
    text = (K8S / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n\s*", " ", text)  # continuation lines
    commands = []
    for line in text.splitlines():
        if line.startswith("RUN "):
            commands += [" ".join(c.split()) for c in line[4:].split("&&")]
    return commands


def test_the_dockerfile_installs_the_course_as_the_readme_says() -> None:
    steps = _readme_install_steps()
    commands = _dockerfile_commands()
    assert steps, "README.md lists no install steps"
    for step in steps:
        assert " ".join(step.split()) in commands, f"Dockerfile lacks the README's step {step!r}"


def test_the_learners_image_holds_no_answer_and_checks_with_the_service() -> None:
    """Issue "A grade that cannot be forged": in a hub course a learner's server holds no
    references; on Kubernetes that is the Dockerfile's learner target, and its check() asks
    the checking service, a container of the course service's pod that the learners reach."""
    text = (K8S / "Dockerfile").read_text(encoding="utf-8")
    learner = text.split("AS learner", 1)[1]
    for path in ("solutions", "tests", ".git", "course_utils/exercises"):
        assert f"/srv/course/{path}" in learner, path
    v, m = values(), manifests()
    url = urlparse(v["singleuser"]["extraEnv"]["COURSE_CHECK_URL"])
    assert v["hub"]["services"][hublib.CHECK]["url"] == f"http://{url.hostname}:{url.port}"
    svc = m[("Service", url.hostname)]
    assert url.port in [p["port"] for p in svc["spec"]["ports"]]
    pod = m[("Deployment", url.hostname)]["spec"]["template"]["spec"]
    [check] = [c for c in pod["containers"] if "autograder.lab.checking" in c["command"]]
    assert str(url.port) in check["command"] and url.port in [
        p["containerPort"] for p in check["ports"]
    ]
    env = {e["name"]: e for e in check["env"]}
    assert env["JUPYTERHUB_SERVICE_PREFIX"]["value"] == url.path == f"/services/{hublib.CHECK}/"
    assert env["JUPYTERHUB_API_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "check-token"
    [rule] = v["singleuser"]["networkPolicy"]["egress"]
    labels = m[("Deployment", url.hostname)]["spec"]["template"]["metadata"]["labels"]
    assert rule["to"][0]["podSelector"]["matchLabels"].items() <= labels.items()
    assert {"port": url.port, "protocol": "TCP"} in rule["ports"]
