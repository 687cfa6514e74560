"""The node VMs' handle on the control plane. For fault tests: POST /restart/<component>
restarts that control-plane component (cluster/control-plane.sh restart) and answers
when it is serving again; POST /stop/<component> and /start/<component> do one half.
For the tests' kubectl (cluster/kubectl-via-host): POST /kubectl?a=ARG&a=ARG... runs
kubectl as the cluster admin with those arguments and the request body as its stdin; the
answer is its stdout, with its exit status in X-Exit and its stderr, base64, in X-Stderr.
For the tests of objects the API server took under older, looser validation (which a
watch still delivers): POST /store/<resource>/<namespace>/<name> writes the body, the
object as JSON, straight into etcd where the API server keeps it, past its validation
(the API server reads JSON as well as protobuf from its storage).
Listens on the project's bridge only.
    python3 cluster/host-control.py ADDRESS PORT CONTROL_PLANE_SH KUBECTL KUBECONFIG
"""
import base64
import http.server
import json
import subprocess
import sys
import urllib.parse
import urllib.request

ADDRESS, PORT, SCRIPT, KUBECTL, KUBECONFIG = sys.argv[1], int(sys.argv[2]), *sys.argv[3:6]
ACTIONS = {"restart", "stop", "start"}
RESTARTABLE = {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}
STORABLE = {"networkpolicies"}
ETCD = "http://127.0.0.1:2379"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/kubectl":
            self.kubectl(urllib.parse.parse_qs(url.query, keep_blank_values=True).get("a", []))
            return
        if url.path.startswith("/store/"):
            self.store(url.path.split("/")[2:])
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

    def store(self, where):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if len(where) != 3 or where[0] not in STORABLE or not all(where):
            self.reply(404, "store: /store/<%s>/<namespace>/<name>\n" % "|".join(sorted(STORABLE)))
            return
        try:
            json.loads(body)
        except ValueError as e:
            self.reply(400, "store: the body is not JSON: %s\n" % e)
            return
        b64 = lambda b: base64.b64encode(b).decode()
        put = {"key": b64(("/registry/" + "/".join(where)).encode()), "value": b64(body)}
        req = urllib.request.Request(ETCD + "/v3/kv/put", data=json.dumps(put).encode(), method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                self.reply(200, r.read().decode() + "\n")
        except OSError as e:
            self.reply(502, "store: etcd: %s\n" % e)

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
