"""A local HTTP stand-in for the Hugging Face Hub: just the endpoints huggingface_hub 2.4 calls to
create a repo, commit files (all as "regular" uploads, so no LFS/xet), describe a repo and download
its files. It keeps repos in memory and records every request (method, path, auth header present)
so tests can check what the client sent. `fail` injects an HTTP status for a path prefix."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse


class HubState:
    def __init__(self, tokens: dict[str, dict]):
        self.tokens = tokens  # token -> {"name": user, "orgs": [...]}
        self.repos: dict[str, dict] = {}  # repo_id -> {"private", "files": {path: bytes}, "sha"}
        self.requests: list[dict] = []
        self.fail: dict[str, int] = {}  # path prefix -> status to answer
        self.lock = threading.Lock()

    def add_repo(self, repo_id: str, files: dict[str, bytes], private: bool = False) -> None:
        self.repos[repo_id] = {"private": private, "files": dict(files), "sha": _sha(repo_id, files)}


def _sha(repo_id: str, files: dict[str, bytes]) -> str:
    digest = hashlib.sha1(repo_id.encode())
    for path in sorted(files):
        digest.update(path.encode() + hashlib.sha1(files[path]).digest())
    return digest.hexdigest()


REPO = r"(?P<repo>[\w.-]+/[\w.-]+)"


class Handler(BaseHTTPRequestHandler):
    state: HubState
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    # helpers ------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes | dict | list = b"", headers: dict | None = None, error: str | None = None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        if error:
            headers = {**(headers or {}), "X-Error-Message": error}
            if not body:
                body = json.dumps({"error": error}).encode()
                headers["Content-Type"] = "application/json"
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _user(self) -> dict | None:
        auth = self.headers.get("Authorization", "")
        return self.state.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None

    def _owners(self, user: dict) -> set[str]:
        return {user["name"], *(org["name"] for org in user.get("orgs", []))}

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _repo(self, repo_id: str) -> dict | None:
        repo = self.state.repos.get(repo_id)
        if repo and repo["private"]:
            user = self._user()
            if not user or repo_id.split("/")[0] not in self._owners(user):
                return None
        return repo

    def _not_found(self, repo_id: str):
        self._send(401 if not self._user() else 404, headers={"X-Error-Code": "RepoNotFound"},
                   error=f"Repository Not Found for url: {repo_id}")

    # dispatch -----------------------------------------------------------------------------
    def _handle(self):
        path = unquote(urlparse(self.path).path)
        body = self._body() if self.command in ("POST", "PUT") else b""
        with self.state.lock:
            self.state.requests.append({"method": self.command, "path": path, "auth": "Authorization" in self.headers,
                                        "authorization": self.headers.get("Authorization"), "body": body[:2000]})
        for prefix, status in self.state.fail.items():
            if path.startswith(prefix):
                return self._send(status, error=f"injected {status}")
        routes = [
            ("GET", r"/api/whoami-v2", self.whoami),
            ("POST", r"/api/repos/create", self.create_repo),
            ("POST", r"/api/validate-yaml", lambda m, b: self._send(200, {"errors": [], "warnings": []})),
            ("POST", rf"/api/models/{REPO}/preupload/(?P<rev>[^/]+)", self.preupload),
            ("POST", rf"/api/models/{REPO}/commit/(?P<rev>[^/]+)", self.commit),
            ("GET", rf"/api/models/{REPO}(/revision/(?P<rev>[^/]+))?", self.info),
            ("GET", rf"/api/models/{REPO}/tree/(?P<rev>[^/]+)(?P<sub>/.*)?", self.tree),
            ("POST", rf"/api/models/{REPO}/paths-info/(?P<rev>[^/]+)", self.paths_info),
            ("GET", rf"/{REPO}/resolve/(?P<rev>[^/]+)/(?P<file>.+)", self.resolve),
            ("HEAD", rf"/{REPO}/resolve/(?P<rev>[^/]+)/(?P<file>.+)", self.resolve),
        ]
        for method, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if method == self.command and match:
                return handler(match, body)
        self._send(404, error=f"stand-in: no route for {self.command} {path}")

    do_GET = do_POST = do_HEAD = do_PUT = _handle

    # endpoints ----------------------------------------------------------------------------
    def whoami(self, match, body):
        user = self._user()
        if not user:
            return self._send(401, error="Invalid credentials in Authorization header")
        self._send(200, {"type": "user", "name": user["name"], "fullname": user["name"].title(), "avatarUrl": "",
                         "orgs": user.get("orgs", []),
                         "auth": {"type": "access_token", "accessToken": {"displayName": "test", "role": "write"}}})

    def create_repo(self, match, body):
        user = self._user()
        if not user:
            return self._send(401, error="Invalid credentials in Authorization header")
        request = json.loads(body)
        repo_id = f"{request.get('organization') or user['name']}/{request['name']}"
        if repo_id.split("/")[0] not in self._owners(user):
            return self._send(403, error="You don't have the rights to create a model under this namespace")
        if repo_id in self.state.repos:
            return self._send(409, {"url": f"http://{self.headers['Host']}/{repo_id}"}, error="You already created this model repo")
        self.state.add_repo(repo_id, {}, private=bool(request.get("private")) or request.get("visibility") == "private")
        self._send(200, {"url": f"http://{self.headers['Host']}/{repo_id}", "name": repo_id, "id": repo_id})

    def _writable(self, repo_id: str) -> bool:
        user = self._user()
        if not user:
            self._send(401, error="Invalid credentials in Authorization header")
            return False
        if repo_id not in self.state.repos:
            self._not_found(repo_id)
            return False
        if repo_id.split("/")[0] not in self._owners(user):
            self._send(403, error="You don't have write access to this repo")
            return False
        return True

    def preupload(self, match, body):
        if self._writable(match["repo"]):
            files = json.loads(body)["files"]
            self._send(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None}
                                       for f in files], "commitOid": self.state.repos[match["repo"]]["sha"]})

    def commit(self, match, body):
        if not self._writable(match["repo"]):
            return
        repo = self.state.repos[match["repo"]]
        for line in body.splitlines():
            item = json.loads(line)
            if item["key"] == "file":
                repo["files"][item["value"]["path"]] = base64.b64decode(item["value"]["content"])
            elif item["key"] == "deletedFile":
                repo["files"].pop(item["value"]["path"], None)
            elif item["key"] != "header":
                return self._send(400, error=f"stand-in does not support {item['key']}")
        repo["sha"] = _sha(match["repo"], repo["files"])
        self._send(200, {"success": True, "commitOid": repo["sha"],
                         "commitUrl": f"http://{self.headers['Host']}/{match['repo']}/commit/{repo['sha']}"})

    def info(self, match, body):
        repo = self._repo(match["repo"])
        if repo is None:
            return self._not_found(match["repo"])
        self._send(200, {"id": match["repo"], "modelId": match["repo"], "sha": repo["sha"], "private": repo["private"],
                         "siblings": [{"rfilename": p} for p in sorted(repo["files"])], "tags": [], "downloads": 0,
                         "likes": 0, "lastModified": "2026-01-01T00:00:00.000Z", "createdAt": "2026-01-01T00:00:00.000Z"})

    def _entry(self, path: str, data: bytes) -> dict:
        return {"type": "file", "path": path, "size": len(data), "oid": hashlib.sha1(data).hexdigest()}

    def tree(self, match, body):
        repo = self._repo(match["repo"])
        if repo is None:
            return self._not_found(match["repo"])
        sub = (match["sub"] or "").strip("/")
        self._send(200, [self._entry(p, d) for p, d in sorted(repo["files"].items()) if p.startswith(sub)])

    def paths_info(self, match, body):
        repo = self._repo(match["repo"])
        if repo is None:
            return self._not_found(match["repo"])
        wanted = json.loads(body or b"{}").get("paths", []) if body.startswith(b"{") else []
        self._send(200, [self._entry(p, repo["files"][p]) for p in wanted if p in repo["files"]])

    def resolve(self, match, body):
        repo = self._repo(match["repo"])
        if repo is None:
            return self._not_found(match["repo"])
        data = repo["files"].get(match["file"])
        if data is None:
            return self._send(404, headers={"X-Error-Code": "EntryNotFound"}, error="Entry not found")
        self._send(200, data, headers={"ETag": f'"{hashlib.sha1(data).hexdigest()}"', "X-Repo-Commit": repo["sha"],
                                       "Content-Type": "application/octet-stream"})


def start(tokens: dict[str, dict]):
    """Start the stand-in on a free port; returns (server, state, url)."""
    state = HubState(tokens)
    handler = type("BoundHandler", (Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, state, f"http://127.0.0.1:{server.server_address[1]}"
