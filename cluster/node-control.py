"""A node VM's handle for the tests that run in node 1 (tests/k8s/serve-node.sh starts it
once the node is Ready): POST /run with a bash script as the body runs it as root on this
node, with cluster/node.sh and tests/k8s/lib.sh sourced, and answers its output (stdout
and stderr) with status 200 if it exited 0, else 500 and the exit status in X-Exit;
POST /exit stops the server, which ends the VM. Test harness only: it listens on the
project's bridge, inside the cluster's own network namespace, as host-control.py does.
    python3 cluster/node-control.py ADDRESS PORT TOP
"""
import http.server
import subprocess
import sys

ADDRESS, PORT, TOP = sys.argv[1], int(sys.argv[2]), sys.argv[3]
PRELUDE = ". cluster/node.sh; . tests/k8s/lib.sh; set +u\n"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        if self.path == "/exit":
            self.reply(200, b"bye\n", 0)
            self.server.shutdown_requested = True
            return
        if self.path != "/run":
            self.reply(404, b"unknown request\n", 64)
            return
        script = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        try:
            r = subprocess.run(["bash", "-c", PRELUDE + script], cwd=TOP, capture_output=True, timeout=600)
            out, rc = r.stdout + r.stderr, r.returncode
        except subprocess.TimeoutExpired as e:
            out, rc = (e.stdout or b"") + (e.stderr or b"") + b"node-control: timed out after 600 s\n", 124
        self.reply(200 if rc == 0 else 500, out, rc)

    def reply(self, code, body, rc):
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Exit", str(rc))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("node-control: " + (fmt % args) + "\n")


server = http.server.ThreadingHTTPServer((ADDRESS, PORT), Handler)
server.shutdown_requested = False
while not server.shutdown_requested:
    server.handle_request()
