"""CI: the wheel built from this repository carries its web UI, and runs Airflow DAG files as scripts.

Builds the wheel from the files git knows (tracked, or new and not ignored), checks that every
template and static file of the web UI is in it, installs it into a fresh venv outside the
repository (its dependencies from the package index, through pip's cache), and from a directory
outside the repository with a DAGFLOW_HOME of its own: migrates a store, creates a user, starts
``dagflow webserver`` on a free port, fetches the login page and a static file it links to, logs in
with the form's CSRF token and opens the DAGs page. Then runs ``python my_dag.py`` on an Airflow DAG
file ending in ``dag.test()`` with the venv's Python (``dagflow-airflow.pth`` lets it import
``airflow``). Exits 1 with the reason on the first failure.

Run with any Python >= 3.11: ``python .ci/check_wheel.py [--keep]``.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UI_FOLDERS = ("webui/templates/", "webui/static/")
USER, PASSWORD = "wheelcheck", "wheel-check-password-1"


class CheckFailed(Exception):
    pass


def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env)
    if done.returncode != 0:
        raise CheckFailed(f"{' '.join(map(str, args))} exited with {done.returncode}:\n{done.stderr}")
    return str(done.stdout)


def source_files() -> list[str]:
    listed = run("git", "ls-files", "--cached", "--others", "--exclude-standard", cwd=ROOT).splitlines()
    return [name for name in listed if (ROOT / name).is_file()]


def build_wheel(work: Path, files: list[str]) -> Path:
    """The wheel of a copy of ``files`` (so nothing stale in the checkout, such as build/, gets in)."""
    source = work / "source"
    for name in files:
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", work / "dist", source)
    (wheel,) = (work / "dist").glob("dagflow-*.whl")
    return wheel


def check_contents(wheel: Path, files: list[str]) -> None:
    shipped = set(zipfile.ZipFile(wheel).namelist())
    wanted = {name for name in files if name.startswith(UI_FOLDERS)}
    if not wanted:
        raise CheckFailed("no web UI files found in the repository")
    missing = sorted(wanted - shipped)
    if missing:
        raise CheckFailed(f"the wheel lacks {len(missing)} web UI file(s): {', '.join(missing[:10])}")
    print(f"wheel {wheel.name}: all {len(wanted)} web UI files are in it")


def install(work: Path, wheel: Path) -> Path:
    venv = work / "venv"
    run(sys.executable, "-m", "venv", venv)
    run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheel)
    return venv


def environment(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGFLOW", "PYTHON", "VIRTUAL_ENV"))}
    env["DAGFLOW_HOME"] = str(work / "home")
    # (the default cookie_secure, auto, lets the session cookie come back over http://127.0.0.1)
    return env


def check_installed_outside(venv: Path, work: Path, env: dict[str, str]) -> None:
    script = "import dagflow, webui; print(dagflow.__file__); print(webui.__file__)"
    where = run(venv / "bin" / "python", "-c", script, cwd=work, env=env)
    for path in where.split():
        if not Path(path).resolve().is_relative_to(venv.resolve()):
            raise CheckFailed(f"the installed package is imported from {path}, not from the fresh venv")


AIRFLOW_DAG_FILE = """
import httpx  # Airflow installs it, and DAG files use it as they find it
import pendulum
from airflow.sdk import DAG, task

with DAG("as_script", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")) as dag:
    @task
    def hello():
        return httpx.URL("http://example.org/hello").path.strip("/")

    hello()

if __name__ == "__main__":
    print("run state:", dag.test().state)
"""


def check_airflow_file_runs(venv: Path, work: Path, env: dict[str, str]) -> None:
    path = work / "my_dag.py"
    path.write_text(AIRFLOW_DAG_FILE)
    output = run(venv / "bin" / "python", path, cwd=work, env=env)
    expect(output.splitlines()[-1:] == ["run state: success"], f"python {path.name} printed:\n{output}")
    print(f"python {path.name} (from airflow.sdk import DAG, ...; dag.test()): success")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_listening(port: int, server: subprocess.Popen[str], limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if server.poll() is not None:
            output = server.communicate()[1]
            raise CheckFailed(f"dagflow webserver exited with {server.returncode}:\n{output}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise CheckFailed(f"dagflow webserver did not listen on port {port} within {limit:g}s")


class Browser:
    """Just enough of a browser: cookies, and redirects left for the caller to see."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), self._NoRedirect()
        )

    def request(self, path: str, form: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self.opener.open(self.base + path, data=data, timeout=30) as response:
                return response.status, dict(response.headers), response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode("utf-8", "replace")


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def log_in(port: int) -> None:
    browser = Browser(f"http://127.0.0.1:{port}")
    status, _, page = browser.request("/login")
    expect(status == 200, f"GET /login answered {status}:\n{page[:2000]}")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    expect(token is not None, "the login page has no CSRF token")
    assert token is not None
    for link in re.findall(r'(?:href|src)="(/static/[^"?]+)', page):
        status, headers, _ = browser.request(link)
        expect(status == 200, f"GET {link} (linked from /login) answered {status}")
        print(f"GET {link}: {status} {headers.get('Content-Type')}")
    expect("/static/" in page, "the login page links to no static file")
    form = {"csrf_token": token.group(1), "username": USER, "password": PASSWORD}
    status, headers, page = browser.request("/login", form)
    expect(status in (302, 303), f"POST /login answered {status}, not a redirect:\n{page[:2000]}")
    status, _, page = browser.request(urllib.parse.urlsplit(headers["Location"]).path or "/")
    expect(status == 200 and USER in page, f"after logging in, the page answered {status}:\n{page[:2000]}")
    print(f"logged in as {USER}: 200")


def check(work: Path) -> None:
    files = source_files()
    wheel = build_wheel(work, files)
    check_contents(wheel, files)
    venv = install(work, wheel)
    env = environment(work)
    check_installed_outside(venv, work, env)
    check_airflow_file_runs(venv, work, env)
    dagflow = venv / "bin" / "dagflow"
    run(dagflow, "db", "migrate", cwd=work, env=env)
    run(dagflow, "users", "create", "-u", USER, "-r", "admin", "-p", PASSWORD, cwd=work, env=env)
    port = free_port()
    server = subprocess.Popen(
        [str(dagflow), "webserver", "--port", str(port)],
        cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_until_listening(port, server)
        log_in(port)
    finally:
        server.terminate()
        server.wait(10)


def main() -> int:
    keep = "--keep" in sys.argv[1:]
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="dagflow-wheel-check-"))
    try:
        check(work)
    except CheckFailed as failure:
        print(f"check_wheel: FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    took = time.monotonic() - started
    print(f"check_wheel: the installed wheel serves its UI, logs in, runs an Airflow DAG file ({took:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
