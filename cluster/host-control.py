"""The node VMs' handle on the control plane, for fault tests: POST /restart/<component>
restarts that control-plane component (cluster/control-plane.sh restart) and answers
when it is serving again; POST /stop/<component> and /start/<component> do one half.
Listens on the project's bridge only.
    python3 cluster/host-control.py ADDRESS PORT CONTROL_PLANE_SH
"""
import http.server
import subprocess
import sys

ADDRESS, PORT, SCRIPT = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ACTIONS = {"restart", "stop", "start"}
RESTARTABLE = {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        parts = self.path.strip("/").split("/")
        if len(parts) != 2 or parts[0] not in ACTIONS or parts[1] not in RESTARTABLE:
            self.reply(404, "unknown request %s\n" % self.path)
            return
        r = subprocess.run(["bash", SCRIPT, parts[0], parts[1]], capture_output=True, text=True, timeout=300)
        self.reply(200 if r.returncode == 0 else 500, r.stderr or "done\n")

    def reply(self, code, text):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


http.server.ThreadingHTTPServer((ADDRESS, PORT), Handler).serve_forever()
