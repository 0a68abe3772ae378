"""A user of the hub, acting only through what a person has: login page, REST API, their own server."""

import asyncio
import json
import time
from typing import Any

import requests
from jupyter_client.jsonutil import json_default
from jupyter_client.session import Session
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from .process import Hub


class HubUser:
    """One person: logs in with a password, starts their server, gets a token, uses the server."""

    def __init__(self, hub: Hub, name: str, password: str) -> None:
        self.hub, self.name, self.password = hub, name, password
        self.web = requests.Session()
        self.token = None

    # hub -------------------------------------------------------------------------------------
    def login(self) -> None:
        r = self.web.get(f"{self.hub.url}/hub/login", timeout=30)
        r.raise_for_status()
        xsrf = self.web.cookies.get("_xsrf", path="/hub/")
        # Not following the redirect: a browser would go on to /hub/spawn, which starts the
        # server; here the server is started (and timed) through the REST API instead.
        r = self.web.post(
            f"{self.hub.url}/hub/login",
            data={"username": self.name, "password": self.password, "_xsrf": xsrf},
            timeout=60,
            allow_redirects=False,
        )
        if r.status_code != 302 or not any(
            c.name.startswith("jupyterhub-session") for c in self.web.cookies
        ):
            raise AssertionError(f"login of {self.name} failed: {r.status_code} {r.url}")

    def hub_api(self, method: str, path: str, xsrf: bool = True, **kw: Any) -> requests.Response:
        headers = kw.pop("headers", {})
        if xsrf:
            headers["X-XSRFToken"] = self.web.cookies.get("_xsrf", path="/hub/")
        return self.web.request(
            method, f"{self.hub.url}/hub/api{path}", headers=headers, timeout=60, **kw
        )

    def start_server(self, timeout: float = 120) -> float:
        t0 = time.monotonic()
        r = self.hub_api("POST", f"/users/{self.name}/server")
        if r.status_code not in (201, 202):  # 400 if it was already running or pending
            raise AssertionError(f"starting {self.name}'s server: {r.status_code} {r.text}")
        while time.monotonic() - t0 < timeout:
            model = self.hub_api("GET", f"/users/{self.name}").json()
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                return time.monotonic() - t0
            time.sleep(0.2)
        raise AssertionError(
            f"{self.name}'s server not ready after {timeout} s:\n{self.hub.tail()}"
        )

    def make_token(self) -> None:
        r = self.hub_api(
            "POST", f"/users/{self.name}/tokens", json={"note": "hub-test", "expires_in": 3600}
        )
        r.raise_for_status()
        self.token = r.json()["token"]

    def stop_server(self) -> None:
        r = self.hub_api("DELETE", f"/users/{self.name}/server")
        if r.status_code not in (202, 204):
            raise AssertionError(f"stopping {self.name}'s server: {r.status_code} {r.text}")

    def wait_stopped(self, timeout: float = 60) -> None:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if not self.hub_api("GET", f"/users/{self.name}").json().get("servers"):
                return
            time.sleep(0.2)
        raise AssertionError(f"{self.name}'s server still listed {timeout} s after stopping")

    # a server (one's own, or an attempt at someone else's) ---------------------------------------
    def server(
        self, method: str, path: str, owner: str | None = None, **kw: Any
    ) -> requests.Response:
        owner = owner or self.name
        headers = {"Authorization": f"token {self.token}", **kw.pop("headers", {})}
        return requests.request(
            method,
            f"{self.hub.url}/user/{owner}/{path.lstrip('/')}",
            headers=headers,
            timeout=kw.pop("timeout", 120),
            allow_redirects=False,
            **kw,
        )

    def ok(self, method: str, path: str, **kw: Any) -> requests.Response:
        r = self.server(method, path, **kw)
        if r.status_code >= 400:
            raise AssertionError(
                f"{self.name}: {method} {path} -> {r.status_code}: {r.text[:2000]}"
            )
        return r

    def assignment_action(self, action: str, course_id: str, assignment: str) -> dict[str, Any]:
        r = self.ok(
            "POST",
            f"assignments/{action}",
            data={"course_id": course_id, "assignment_id": assignment},
        )
        out = r.json()
        if isinstance(out, dict) and not out.get("success", True):
            raise AssertionError(f"{self.name}: {action} failed: {out}")
        return out

    def formgrader(self, action: str, assignment: str) -> dict[str, Any]:
        out = self.ok("POST", f"formgrader/api/assignment/{assignment}/{action}").json()
        if not out.get("success"):
            raise AssertionError(f"formgrader {action} failed: {json.dumps(out)[:4000]}")
        return out

    def run_in_kernel(self, code: str, timeout: float = 600) -> tuple[str, str]:
        """Runs `code` in a new kernel on the user's own server; returns (status, output)."""
        kid = self.ok("POST", "api/kernels", json={"name": "python3"}).json()["id"]
        try:
            return self.execute(kid, code, timeout)
        finally:
            self.server("DELETE", f"api/kernels/{kid}")

    def execute(self, kid: str, code: str, timeout: float = 600) -> tuple[str, str]:
        """Runs `code` in the user's running kernel `kid`; returns (status, output)."""
        return asyncio.run(self._execute(kid, code, timeout))

    async def _execute(self, kid: str, code: str, timeout: float) -> tuple[str, str]:
        url = f"ws://127.0.0.1:{self.hub.port}/user/{self.name}/api/kernels/{kid}/channels"
        req = HTTPRequest(url, headers={"Authorization": f"token {self.token}"})
        ws = await websocket_connect(req)
        content = dict(code=code, silent=False, store_history=False, user_expressions={})
        content.update(allow_stdin=False, stop_on_error=True)
        request = Session(username=self.name).msg("execute_request", content)
        msg_id = request["header"]["msg_id"]
        frame = {**request, "channel": "shell", "buffers": []}
        ws.write_message(json.dumps(frame, default=json_default))
        output: list[str] = []
        status, idle = None, False
        deadline = time.monotonic() + timeout
        while status is None or not idle:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"kernel of {self.name} timed out; output:\n{''.join(output)}")
            raw = await asyncio.wait_for(ws.read_message(), left)
            if raw is None:
                raise AssertionError(f"kernel websocket of {self.name} closed")
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["header"]["msg_type"], msg["content"]
            if kind == "stream":
                output.append(content["text"])
            elif kind == "error":
                output.append("\n".join(content["traceback"]))
            elif kind == "execute_reply":
                status = content["status"]
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
        ws.close()
        return status, "".join(output)
