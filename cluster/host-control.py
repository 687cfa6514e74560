"""The node VMs' handle on the control plane. For fault tests: POST /restart/<component>
restarts that control-plane component (cluster/control-plane.sh restart) and answers
when it is serving again; POST /stop/<component> and /start/<component> do one half.
For the tests' kubectl (cluster/kubectl-via-host): POST /kubectl?a=ARG&a=ARG... runs
kubectl as the cluster admin with those arguments and the request body as its stdin; the
answer is its stdout, with its exit status in X-Exit and its stderr, base64, in X-Stderr.
Listens on the project's bridge only.
    python3 cluster/host-control.py ADDRESS PORT CONTROL_PLANE_SH KUBECTL KUBECONFIG
"""
import base64
import http.server
import subprocess
import sys
import urllib.parse

ADDRESS, PORT, SCRIPT, KUBECTL, KUBECONFIG = sys.argv[1], int(sys.argv[2]), *sys.argv[3:6]
ACTIONS = {"restart", "stop", "start"}
RESTARTABLE = {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/kubectl":
            self.kubectl(urllib.parse.parse_qs(url.query, keep_blank_values=True).get("a", []))
            return
        parts = self.path.strip("/").split("/")
        if len(parts) != 2 or parts[0] not in ACTIONS or parts[1] not in RESTARTABLE:
            self.reply(404, "unknown request %s\n" % self.path)
            return
        r = subprocess.run(["bash", SCRIPT, parts[0], parts[1]], capture_output=True, text=True, timeout=300)
        self.reply(200 if r.returncode == 0 else 500, r.stderr or "done\n")

    def kubectl(self, args):
        stdin = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        r = subprocess.run([KUBECTL, "--kubeconfig", KUBECONFIG, *args], input=stdin, capture_output=True)
        self.send_response(200)
        self.send_header("X-Exit", str(r.returncode))
        self.send_header("X-Stderr", base64.b64encode(r.stderr).decode())
        self.send_header("Content-Length", str(len(r.stdout)))
        self.end_headers()
        self.wfile.write(r.stdout)

    def log_message(self, fmt, *args):
        pass  # one line per kubectl run would drown the log

    def reply(self, code, text):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


http.server.ThreadingHTTPServer((ADDRESS, PORT), Handler).serve_forever()
