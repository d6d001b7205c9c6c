"""The one HTTP connection of the test DAV scripts (seed-dav.py, dav_dump.py): Basic auth,
keep-alive, one retry when the server closed an idle connection."""

import base64
import http.client
import sys
import urllib.parse


class Http:
    def __init__(self, url, user, password, prog):
        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("http", "https"):
            sys.exit("%s: --url must be http:// or https://, got %r" % (prog, url))
        self.https = u.scheme == "https"
        self.host, self.port = u.hostname, u.port or (443 if self.https else 80)
        self.path = u.path
        self.auth = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        self.conn = None

    def request(self, method, path, body=b"", headers=None):
        """(status, headers with lower-case names, body)."""
        h = {"Authorization": self.auth, "Content-Length": str(len(body))}
        h.update(headers or {})
        for attempt in (1, 2):
            if self.conn is None:
                cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
                self.conn = cls(self.host, self.port, timeout=60)
            try:
                self.conn.request(method, path, body=body, headers=h)
                r = self.conn.getresponse()
                return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
