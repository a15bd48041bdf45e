#!/usr/bin/env python3
"""Headless Chromium on a noVNC page, asked about the page while it runs.

Chromium's --screenshot takes its picture when a virtual time budget is spent, and that
budget does not wait for WebSocket traffic: behind a proxy that forks a process per
connection (websockify) the picture is taken before the first frame arrives. Here Chromium
runs with --remote-debugging-pipe, and the caller asks, as often as it likes and until its own
deadline, what the page shows.

Usage: novnc_canvas.py URL PROFILE_DIR
Then one command a line on stdin, one answer a line on stdout:
  state        -> a JSON object: noVNC's state classes on <html>, its status text, and the
                  size of its screen canvas (0x0 while there is none)
  canvas PATH  -> "ok" with the screen canvas's pixels written to PATH as PNG (exactly
                  what the canvas holds, not the page around it), or "none"
  quit         -> Chromium ends
Any failure of Chromium ends the script with a message on stderr. Python's standard library
only.
"""

import base64
import json
import os
import select
import subprocess
import sys
import time

# How long one answer from Chromium may take.
REPLY_LIMIT = 30.0
# The largest message Chromium may send (a canvas as a data URL is a few MB).
MAX_MESSAGE = 64 << 20

STATE = """JSON.stringify({
  classes: document.documentElement
    ? Array.from(document.documentElement.classList).filter(c => c.startsWith('noVNC_'))
    : [],
  status: (document.getElementById('noVNC_status') || {}).textContent || '',
  canvas: (() => {
    const c = document.querySelector('#noVNC_container canvas');
    return c ? c.width + 'x' + c.height : '0x0';
  })(),
})"""

CANVAS = """(() => {
  const c = document.querySelector('#noVNC_container canvas');
  return c && c.width > 0 ? c.toDataURL('image/png') : '';
})()"""


class Browser:
    def __init__(self, url, profile):
        # Chromium reads commands on fd 3 and writes answers on fd 4.
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def fds():
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.proc = subprocess.Popen(
            [
                "chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--window-size=1280,1024",
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                url,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=fds,
            pass_fds=(3, 4),
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf = b""
        self.next_id = 0
        self.session = None
        self.session = self.attach()

    def send(self, method, params=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if self.session:
            msg["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + REPLY_LIMIT
        while True:
            reply = self.read(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    sys.exit(f"chromium: {method}: {reply['error']}")
                return reply["result"]

    def read(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                sys.exit(f"chromium did not answer within {REPLY_LIMIT} s")
            ready, _, _ = select.select([self.from_chrome], [], [], left)
            if ready:
                chunk = os.read(self.from_chrome, 1 << 20)
                if not chunk:
                    sys.exit(f"chromium ended ({self.proc.wait()})")
                self.buf += chunk
                if len(self.buf) > MAX_MESSAGE:
                    sys.exit("chromium sent a message over the limit")
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def attach(self):
        # The page the URL opened, once Chromium lists it.
        deadline = time.monotonic() + REPLY_LIMIT
        while time.monotonic() < deadline:
            pages = [
                t for t in self.send("Target.getTargets")["targetInfos"] if t["type"] == "page"
            ]
            if pages:
                found = self.send(
                    "Target.attachToTarget", {"targetId": pages[0]["targetId"], "flatten": True}
                )
                return found["sessionId"]
            time.sleep(0.1)
        sys.exit("chromium opened no page")

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            sys.exit(f"the page's script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def close(self):
        self.proc.kill()
        self.proc.wait()


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    browser = Browser(sys.argv[1], sys.argv[2])
    try:
        for line in sys.stdin:
            command, _, arg = line.strip().partition(" ")
            if command == "state":
                print(browser.evaluate(STATE), flush=True)
            elif command == "canvas":
                url = browser.evaluate(CANVAS) or ""
                prefix = "data:image/png;base64,"
                if not url.startswith(prefix):
                    print("none", flush=True)
                    continue
                with open(arg, "wb") as f:
                    f.write(base64.b64decode(url[len(prefix):]))
                print("ok", flush=True)
            elif command == "quit":
                break
            else:
                sys.exit(f"unknown command {command!r}")
    finally:
        browser.close()


if __name__ == "__main__":
    main()
