#!/usr/bin/env python3
"""Simulated node tools for Kaji's tests: kubeadm, kubectl, velero, argocd and kaji-sim-node.

They print what the real tools print (the subset Kaji's workflows read) and keep a simulated cluster's
state in files under $KAJI_SIM_STATE/<world>/ (world = $KAJI_SIM_WORLD, node = $KAJI_NODE):

  cluster.json    control-plane endpoint, bootstrap tokens (live ones, and every one ever issued), CA hash,
                  certificate key (and every one ever issued), nodes, etcd members, CNI, backups,
                  restores, secrets
  commands.log    what `ps` on the nodes could show: each session's command line as sent (node-shell,
                  `NODE: COMMAND`) and each tool's argv (a JSON array); tests grep it for secrets
  faults.json     injected failures (see `kaji-sim-node fail`)
  settings.json   e.g. the phase the next backups end in, failing readyz checks
  admin.conf      the kubeconfig `kubeadm init` writes (/etc/kubernetes/admin.conf of every master); its
                  certificate-authority-data is the CA of the cluster's kube-apiserver stand-in
  simulator.json  written by the SAKURA Cloud simulator (`{"url": ...}`) when it serves this world: `kubeadm
                  init` then registers the control-plane endpoint with it (POST /_fake/apiservers), which starts
                  a TLS kube-apiserver stand-in on 127.0.0.1 answering /readyz and /livez

`kaji-sim-node` configures them from a test:
  kaji-sim-node fail 'kubeadm join' [--exit N] [--stderr TEXT] [--times N]   next matching calls fail
  kaji-sim-node set backup-phase PartiallyFailed                              phase of later backups
  kaji-sim-node set restore-phase Failed                                       phase of later restores
  kaji-sim-node backup-phase NAME Completed                                    move an existing backup on
  kaji-sim-node set readyz-failing etcd                                        [-] lines in /readyz
  kaji-sim-node state                                                          dump cluster.json

`kubectl config view [--raw] [--minify] [-o jsonpath='{.clusters[0].cluster.certificate-authority-data}']`
reads admin.conf. `kubeadm join --config FILE` reads a JoinConfiguration (JSON) and refuses a file that group or others can
read. `etcdctl member list|remove` shows and edits the etcd members, as does
`kubeadm reset phase remove-etcd-member` on a control-plane node.
"""
import base64
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import sys
import time
import urllib.request

K8S_VERSION = "v1.33.2"


def die(message, code=1):
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.exit(code)


NODE = os.environ.get("KAJI_NODE", "")
WORLD = os.environ.get("KAJI_SIM_WORLD", "default")
STATE_ROOT = os.environ.get("KAJI_SIM_STATE", "/tmp/kaji-sim-state")
WORLD_DIR = os.path.join(STATE_ROOT, WORLD.replace("/", "_"))


@contextlib.contextmanager
def locked():
    os.makedirs(WORLD_DIR, exist_ok=True)
    with open(os.path.join(WORLD_DIR, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def load(name, default):
    try:
        with open(os.path.join(WORLD_DIR, name)) as handle:
            return json.load(handle)
    except FileNotFoundError:
        return default


def save(name, value):
    path = os.path.join(WORLD_DIR, name)
    with open(path + ".tmp", "w") as handle:
        json.dump(value, handle, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)


def take_fault(tool, args):
    """Consumes the first fault whose match is a prefix of `tool args`; exits with it."""
    line = " ".join([tool] + args)
    faults = load("faults.json", [])
    for fault in faults:
        if line.startswith(fault["match"]) and (fault.get("node") in (None, "", NODE)):
            if fault.get("times") is not None:
                fault["times"] -= 1
            remaining = [f for f in faults if f.get("times") is None or f["times"] > 0]
            save("faults.json", remaining)
            if fault.get("stdout"):
                sys.stdout.write(fault["stdout"] + "\n")
            die(fault.get("stderr") or "error: injected failure of `%s`" % fault["match"], fault.get("exit", 1))


def option(args, name, default=None):
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return default


def positional(args, skip_values=()):
    result, skip = [], False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg.startswith("-"):
            if arg in skip_values:
                skip = True
            continue
        result.append(arg)
    return result


def new_token():
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    pick = lambda n: "".join(secrets.choice(alphabet) for _ in range(n))
    return "%s.%s" % (pick(6), pick(16))


def node_record(cluster):
    return next((n for n in cluster.get("nodes", []) if n["name"] == NODE), None)


def require_node():
    if not NODE:
        die("kaji node tools: KAJI_NODE is not set (send it as an SSH env variable)", 127)


# ---------------------------------------------------------------- kubeadm

def kubeadm(args):
    require_node()
    if args[:1] == ["init"] and args[1:3] == ["phase", "upload-certs"]:
        cluster = load("cluster.json", None)
        if not cluster or node_record(cluster) is None or node_record(cluster)["role"] != "control-plane":
            die("error execution phase upload-certs: failed to load admin kubeconfig: open /etc/kubernetes/admin.conf: no such file or directory\nTo see the stack trace of this error execute with --v=5 or higher")
        cluster["certificateKey"] = secrets.token_hex(32)
        cluster["certificateKeyExpires"] = time.time() + 7200
        cluster.setdefault("issuedCertificateKeys", []).append(cluster["certificateKey"])
        save("cluster.json", cluster)
        print('[upload-certs] Storing the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace')
        print("[upload-certs] Using certificate key:")
        print(cluster["certificateKey"])
        return
    if args[:1] == ["init"]:
        return kubeadm_init(args[1:])
    if args[:1] == ["join"]:
        return kubeadm_join(args[1:])
    if args[:2] == ["token", "create"]:
        cluster = load("cluster.json", None)
        if not cluster or node_record(cluster) is None or node_record(cluster)["role"] != "control-plane":
            die("failed to load admin kubeconfig: open /etc/kubernetes/admin.conf: no such file or directory")
        token = new_token()
        cluster["tokens"].append(token)
        cluster.setdefault("issuedTokens", []).append(token)
        save("cluster.json", cluster)
        if "--print-join-command" in args:
            line = "kubeadm join %s --token %s --discovery-token-ca-cert-hash sha256:%s" % (
                cluster["endpoint"], token, cluster["caHash"])
            key = option(args, "--certificate-key")
            if key:
                line += " --control-plane --certificate-key %s" % key
            print(line)
        else:
            print(token)
        return
    if args[:2] == ["token", "delete"]:
        cluster = load("cluster.json", None)
        if not cluster or node_record(cluster) is None or node_record(cluster)["role"] != "control-plane":
            die("failed to load admin kubeconfig: open /etc/kubernetes/admin.conf: no such file or directory")
        for wanted in args[2:]:
            token_id = wanted.split(".")[0]
            if not any(t.split(".")[0] == token_id for t in cluster["tokens"]):
                die('bootstrap token "%s" not found' % token_id)
            cluster["tokens"] = [t for t in cluster["tokens"] if t.split(".")[0] != token_id]
            print('bootstrap token "%s" deleted' % token_id)
        save("cluster.json", cluster)
        return
    if args[:2] == ["token", "list"]:
        cluster = load("cluster.json", None) or {"tokens": []}
        print("TOKEN                     TTL         EXPIRES                USAGES                   DESCRIPTION")
        for token in cluster["tokens"]:
            print("%s.<redacted>   23h         -                      authentication,signing   <none>" % token.split(".")[0])
        return
    if args[:3] == ["reset", "phase", "remove-etcd-member"]:
        cluster = load("cluster.json", None)
        if not cluster:
            die("[reset] No kubeadm config found; cannot reach the cluster")
        members = etcd_members(cluster)
        if not any(m["name"] == NODE for m in members):
            print("[reset] No etcd member for %s found; nothing to remove" % NODE)
            return
        if len(members) == 1:
            die("[reset] Failed to remove etcd member: etcdserver: re-configuration failed due to not enough started members")
        cluster["etcdMembers"] = [m for m in members if m["name"] != NODE]
        save("cluster.json", cluster)
        print("[reset] Removing etcd member: %s" % NODE)
        return
    if args[:2] == ["certs", "certificate-key"]:
        print(secrets.token_hex(32))
        return
    if args[:1] == ["reset"]:
        cluster = load("cluster.json", None)
        if cluster:
            cluster["nodes"] = [n for n in cluster["nodes"] if n["name"] != NODE]
            cluster["etcdMembers"] = [m for m in etcd_members(cluster) if m["name"] != NODE]
            save("cluster.json", cluster)
        print("[reset] Deleted contents of the etcd data directory: /var/lib/etcd")
        print("[reset] Deleting contents of directories: [/etc/kubernetes/manifests /var/lib/kubelet /etc/kubernetes/pki]")
        return
    if args[:1] == ["version"]:
        print('kubeadm version: &version.Info{Major:"1", Minor:"33", GitVersion:"%s"}' % K8S_VERSION)
        return
    die("unknown command %r for \"kubeadm\"" % " ".join(args))


def kubeadm_init(args):
    endpoint = option(args, "--control-plane-endpoint")
    if not endpoint:
        die("kaji node tools: this simulation needs --control-plane-endpoint HOST:PORT")
    if ":" not in endpoint:
        endpoint += ":6443"
    cluster = load("cluster.json", None)
    if cluster and node_record(cluster) is not None:
        die("[init] Using Kubernetes version: %s\n[preflight] Running pre-flight checks\n"
            "error execution phase preflight: [preflight] Some fatal errors occurred:\n"
            "\t[ERROR Port-6443]: Port 6443 is in use\n"
            "\t[ERROR FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml]: /etc/kubernetes/manifests/kube-apiserver.yaml already exists\n"
            "[preflight] If you know what you are doing, you can make a check non-fatal with `--ignore-preflight-errors=...`" % K8S_VERSION)
    if cluster:
        die("kaji node tools: world %s already has a cluster at %s" % (WORLD, cluster["endpoint"]))
    token = new_token()
    cluster = {
        "endpoint": endpoint,
        "tokens": [token],
        "caHash": hashlib.sha256(secrets.token_bytes(32)).hexdigest(),
        "certificateKey": secrets.token_hex(32) if "--upload-certs" in args else None,
        "certificateKeyExpires": time.time() + 7200,
        "podNetworkCIDR": option(args, "--pod-network-cidr", ""),
        "cni": False,
        "nodes": [{"name": NODE, "role": "control-plane", "joinedAt": time.time()}],
        "etcdMembers": [new_member(NODE)],
        "issuedTokens": [token],
        "backups": {},
        "secrets": {"argocd/argocd-initial-admin-secret": {"password": base64.b64encode(secrets.token_urlsafe(12).encode()).decode()},
                    "argocd/argocd-secret": {}},
    }
    cluster["issuedCertificateKeys"] = [cluster["certificateKey"]] if cluster["certificateKey"] else []
    apiserver = register_apiserver(endpoint)
    cluster["apiServer"] = {"address": apiserver["address"]} if apiserver else None
    save("cluster.json", cluster)
    write_admin_conf(endpoint, apiserver["caCertificate"] if apiserver else None)
    join = "kubeadm join %s --token %s \\\n\t--discovery-token-ca-cert-hash sha256:%s" % (endpoint, token, cluster["caHash"])
    print("[init] Using Kubernetes version: %s" % K8S_VERSION)
    print("[preflight] Running pre-flight checks")
    print("[certs] Using certificateDir folder \"/etc/kubernetes/pki\"")
    print("[kubeconfig] Writing \"admin.conf\" kubeconfig file")
    print("[control-plane] Creating static Pod manifest for \"kube-apiserver\"")
    print("[upload-certs] Storing the certificates in Secret \"kubeadm-certs\" in the \"kube-system\" Namespace")
    if cluster["certificateKey"]:
        print("[upload-certs] Using certificate key:")
        print(cluster["certificateKey"])
    print("[bootstrap-token] Using token: %s" % token)
    print("[addons] Applied essential addon: CoreDNS")
    print("[addons] Applied essential addon: kube-proxy")
    print("")
    print("Your Kubernetes control-plane has initialized successfully!")
    print("")
    print("To start using your cluster, you need to run the following as a regular user:")
    print("")
    print("  mkdir -p $HOME/.kube")
    print("  sudo cp -i /etc/kubernetes/admin.conf $HOME/.kube/config")
    print("  sudo chown $(id -u):$(id -g) $HOME/.kube/config")
    print("")
    print("You should now deploy a pod network to the cluster.")
    print("Run \"kubectl apply -f [podnetwork].yaml\" with one of the options listed at:")
    print("  https://kubernetes.io/docs/concepts/cluster-administration/addons/")
    print("")
    if cluster["certificateKey"]:
        print("You can now join any number of control-plane node by running the following command on each as a root:")
        print("")
        print("  %s \\\n\t--control-plane --certificate-key %s" % (join, cluster["certificateKey"]))
        print("")
        print("Please note that the certificate-key gives access to cluster sensitive data, keep it secret!")
        print("As a safeguard, uploaded-certs will be deleted in two hours; If necessary, you can use")
        print("\"kubeadm init phase upload-certs --upload-certs\" to reload certs afterward.")
        print("")
    print("Then you can join any number of worker nodes by running the following on each as root:")
    print("")
    print("%s " % join)


def register_apiserver(endpoint):
    """Asks the simulator serving this world (simulator.json) for a kube-apiserver stand-in of `endpoint`;
    returns its info (address, caCertificate), or None when no simulator serves the world."""
    simulator = load("simulator.json", None)
    if not simulator:
        return None
    request = urllib.request.Request(simulator["url"] + "/_fake/apiservers", data=json.dumps({"endpoint": endpoint}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy
    try:
        with opener.open(request, timeout=30) as response:
            return json.load(response)
    except Exception as error:  # the simulator in simulator.json is gone or refused
        die("kaji node tools: could not register %s with the simulator at %s: %s" % (endpoint, simulator["url"], error))


def write_admin_conf(endpoint, ca_pem):
    """Writes the world's admin.conf (mode 600: it holds the admin's client key), as kubeadm does."""
    b64 = lambda text: base64.b64encode(text.encode()).decode()
    ca_line = "    certificate-authority-data: %s\n" % b64(ca_pem) if ca_pem else ""
    text = ("apiVersion: v1\nclusters:\n- cluster:\n%s    server: https://%s\n  name: kubernetes\n"
            "contexts:\n- context:\n    cluster: kubernetes\n    user: kubernetes-admin\n  name: kubernetes-admin@kubernetes\n"
            "current-context: kubernetes-admin@kubernetes\nkind: Config\npreferences: {}\nusers:\n- name: kubernetes-admin\n"
            "  user:\n    client-certificate-data: %s\n    client-key-data: %s\n"
            % (ca_line, endpoint, b64("kaji-sim client certificate"), b64("kaji-sim client key " + secrets.token_hex(8))))
    path = os.path.join(WORLD_DIR, "admin.conf")
    with open(path + ".tmp", "w") as handle:
        os.chmod(path + ".tmp", 0o600)
        handle.write(text)
    os.replace(path + ".tmp", path)


def kubectl_config_view(args):
    """`kubectl config view`: admin.conf, its data shown only with --raw, or one jsonpath of it."""
    try:
        with open(os.path.join(WORLD_DIR, "admin.conf")) as handle:
            text = handle.read()
    except FileNotFoundError:
        die("error: open /etc/kubernetes/admin.conf: no such file or directory")
    output = option(args, "-o") or option(args, "--output") or ""
    if output.startswith("jsonpath="):
        wanted = output[len("jsonpath="):].strip("'\"")
        if wanted != "{.clusters[0].cluster.certificate-authority-data}":
            die("error: the simulated kubectl reads only jsonpath={.clusters[0].cluster.certificate-authority-data}")
        for line in text.splitlines():
            if line.strip().startswith("certificate-authority-data:"):
                sys.stdout.write(line.split(":", 1)[1].strip())
        return
    if "--raw" not in args:
        text = "\n".join(line.split(":", 1)[0] + ": DATA+OMITTED" if "-data:" in line else line
                         for line in text.splitlines()) + "\n"
    sys.stdout.write(text)


def etcd_members(cluster):
    """The etcd members; a cluster.json from before members were kept gets one per control-plane node."""
    if "etcdMembers" not in cluster:
        cluster["etcdMembers"] = [new_member(n["name"]) for n in cluster.get("nodes", []) if n["role"] == "control-plane"]
    return cluster["etcdMembers"]


def new_member(name):
    return {"id": secrets.token_hex(8), "name": name}


def join_configuration(path):
    """Reads `kubeadm join --config FILE` (a JoinConfiguration as JSON) into join arguments."""
    try:
        mode = os.stat(path).st_mode
        with open(path) as handle:
            config = json.load(handle)
    except FileNotFoundError:
        die("unable to read config from \"%s\" : open %s: no such file or directory" % (path, path))
    except json.JSONDecodeError as error:
        die("error converting YAML to JSON: %s" % error)
    if mode & 0o077:
        die("kaji node tools: %s holds join secrets but is readable by group or others (mode %o)" % (path, mode & 0o777))
    if config.get("kind") != "JoinConfiguration":
        die("no JoinConfiguration kind was found in the YAML file")
    discovery = (config.get("discovery") or {}).get("bootstrapToken") or {}
    args = [discovery.get("apiServerEndpoint", ""), "--token", discovery.get("token", "")]
    for ca_hash in discovery.get("caCertHashes") or []:
        args += ["--discovery-token-ca-cert-hash", ca_hash]
    control_plane = config.get("controlPlane")
    if control_plane is not None:
        args.append("--control-plane")
        if control_plane.get("certificateKey"):
            args += ["--certificate-key", control_plane["certificateKey"]]
    return args


def kubeadm_join(args):
    config_path = option(args, "--config")
    if config_path:
        others = [a for a in args if a not in ("--config", config_path) and not a.startswith("--config=")]
        if others:
            die("can not mix '--config' with arguments %s" % others)
        args = join_configuration(config_path)
    targets = positional(args, skip_values=("--token", "--discovery-token-ca-cert-hash", "--certificate-key",
                                             "--apiserver-advertise-address", "--node-name", "--cri-socket"))
    endpoint = targets[0] if targets else ""
    cluster = load("cluster.json", None)
    print("[preflight] Running pre-flight checks")
    if not cluster or cluster["endpoint"] != endpoint:
        die("error execution phase preflight: couldn't validate the identity of the API Server: "
            "Get \"https://%s/api/v1/namespaces/kube-public/configmaps/cluster-info?timeout=10s\": dial tcp %s: connect: connection refused\n"
            "To see the stack trace of this error execute with --v=5 or higher" % (endpoint, endpoint))
    if option(args, "--token") not in cluster["tokens"]:
        die("error execution phase preflight: couldn't validate the identity of the API Server: "
            "could not find a JWS signature in the cluster-info ConfigMap for token ID \"%s\"\n"
            "To see the stack trace of this error execute with --v=5 or higher" % (option(args, "--token", "").split(".")[0]))
    if option(args, "--discovery-token-ca-cert-hash") != "sha256:" + cluster["caHash"]:
        die("error execution phase preflight: couldn't validate the identity of the API Server: "
            "cluster CA found in cluster-info ConfigMap is invalid: none of the public keys \"sha256:%s\" are pinned\n"
            "To see the stack trace of this error execute with --v=5 or higher" % cluster["caHash"])
    if node_record(cluster) is not None:
        die("error execution phase preflight: [preflight] Some fatal errors occurred:\n"
            "\t[ERROR FileAvailable--etc-kubernetes-kubelet.conf]: /etc/kubernetes/kubelet.conf already exists")
    control_plane = "--control-plane" in args
    if control_plane:
        key = option(args, "--certificate-key")
        if key != cluster.get("certificateKey") or time.time() > cluster.get("certificateKeyExpires", 0):
            die("error execution phase control-plane-prepare/download-certs: error downloading certs: "
                "error downloading the secret: Secret \"kubeadm-certs\" was not found in the \"kube-system\" Namespace. "
                "This Secret might have expired. Please, run `kubeadm init phase upload-certs --upload-certs` on a control plane to generate a new one\n"
                "To see the stack trace of this error execute with --v=5 or higher")
    cluster["nodes"].append({"name": NODE, "role": "control-plane" if control_plane else "worker", "joinedAt": time.time()})
    if control_plane:
        etcd_members(cluster).append(new_member(NODE))
    save("cluster.json", cluster)
    print("[preflight] Reading configuration from the cluster...")
    print("[kubelet-start] Starting the kubelet")
    print("[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap...")
    print("")
    print("This node has joined the cluster%s:" % (" and a new control plane instance was created" if control_plane else ""))
    print("* Certificate signing request was sent to apiserver and a response was received.")
    print("* The Kubelet was informed of the new secure connection details.")
    print("")
    print("Run 'kubectl get nodes' on the control-plane to see this node join the cluster.")


# ---------------------------------------------------------------- kubectl

def cluster_for_kubectl():
    require_node()
    cluster = load("cluster.json", None)
    record = node_record(cluster) if cluster else None
    if not cluster or record is None or record["role"] != "control-plane":
        die("The connection to the server localhost:8080 was refused - did you specify the right host or port?")
    return cluster


def age(seconds):
    seconds = int(max(seconds, 0))
    if seconds < 120:
        return "%ds" % seconds
    if seconds < 7200:
        return "%dm" % (seconds // 60)
    return "%dh" % (seconds // 3600)


def kubectl(args):
    namespace = option(args, "-n") or option(args, "--namespace") or "default"
    if positional(args, skip_values=("-o", "--output"))[:2] == ["config", "view"]:
        cluster_for_kubectl()
        return kubectl_config_view(args)
    raw = option(args, "--raw")
    if raw is not None:
        return kubectl_raw(raw)
    words = positional(args, skip_values=("-n", "--namespace", "-o", "--output", "-p", "--patch", "--patch-file", "-f", "--filename",
                                         "--type", "--from-literal", "--for", "--timeout"))
    cluster = cluster_for_kubectl()
    output = option(args, "-o") or option(args, "--output") or ""
    if words[:2] == ["get", "nodes"] or words[:2] == ["get", "node"]:
        return kubectl_get_nodes(cluster, output)
    if words[:1] in (["drain"], ["cordon"], ["uncordon"]) and len(words) > 1:
        node = next((n for n in cluster["nodes"] if n["name"] == words[1]), None)
        if node is None:
            die('Error from server (NotFound): nodes "%s" not found' % words[1])
        node["unschedulable"] = words[0] != "uncordon"
        save("cluster.json", cluster)
        print("node/%s %s" % (words[1], "uncordoned" if words[0] == "uncordon" else "cordoned"))
        if words[0] == "drain":
            node["drained"] = True
            save("cluster.json", cluster)
            print("node/%s drained" % words[1])
        return
    if words[:2] == ["delete", "node"] and len(words) > 2:
        name = words[2]
        if not any(n["name"] == name for n in cluster["nodes"]):
            if "--ignore-not-found" in args:
                return
            die('Error from server (NotFound): nodes "%s" not found' % name)
        cluster["nodes"] = [n for n in cluster["nodes"] if n["name"] != name]
        save("cluster.json", cluster)
        print('node "%s" deleted' % name)
        return
    if words[:1] == ["apply"]:
        source = option(args, "-f") or option(args, "--filename") or "-"
        if source == "-":
            sys.stdin.read()
        cluster["cni"] = True
        save("cluster.json", cluster)
        name = os.path.basename(source).rsplit(".", 1)[0] or "stdin"
        print("configmap/%s-config created" % name)
        print("daemonset.apps/%s created" % name)
        return
    if words[:2] == ["get", "backup"] or words[:2] == ["get", "backups.velero.io"]:
        name = words[2] if len(words) > 2 else ""
        backup = cluster["backups"].get(name)
        if backup is None:
            die('Error from server (NotFound): backups.velero.io "%s" not found' % name)
        if output.startswith("jsonpath"):
            sys.stdout.write(backup["phase"])
        else:
            print(json.dumps({"kind": "Backup", "metadata": {"name": name, "namespace": namespace},
                              "status": {"phase": backup["phase"]}}))
        return
    if words[:2] == ["patch", "secret"]:
        name = words[2] if len(words) > 2 else ""
        key = "%s/%s" % (namespace, name)
        if key not in cluster["secrets"]:
            die('Error from server (NotFound): secrets "%s" not found' % name)
        patch_text = option(args, "-p") or option(args, "--patch")
        patch_file = option(args, "--patch-file")
        if patch_file:
            with open(patch_file) as handle:
                patch_text = handle.read()
        try:
            patch = json.loads(patch_text or "{}")
        except json.JSONDecodeError as error:
            die("error: unable to parse \"%s\": %s" % (option(args, "-p"), error))
        data = cluster["secrets"][key]
        for field, value in (patch.get("stringData") or {}).items():
            data[field] = base64.b64encode(value.encode()).decode()
        for field, value in (patch.get("data") or {}).items():
            data[field] = value
        save("cluster.json", cluster)
        print("secret/%s patched" % name)
        return
    if words[:2] == ["delete", "secret"]:
        name = words[2] if len(words) > 2 else ""
        key = "%s/%s" % (namespace, name)
        if key not in cluster["secrets"]:
            if "--ignore-not-found" in args:
                return
            die('Error from server (NotFound): secrets "%s" not found' % name)
        del cluster["secrets"][key]
        save("cluster.json", cluster)
        print('secret "%s" deleted' % name)
        return
    if words[:2] == ["get", "secret"]:
        name = words[2] if len(words) > 2 else ""
        key = "%s/%s" % (namespace, name)
        if key not in cluster["secrets"]:
            die('Error from server (NotFound): secrets "%s" not found' % name)
        data = cluster["secrets"][key]
        if output.startswith("jsonpath="):
            path = output[len("jsonpath="):].strip("'{}")
            field = path.replace(".data.", "", 1).replace("\\.", ".")
            sys.stdout.write(data.get(field, ""))
        else:
            print(json.dumps({"kind": "Secret", "metadata": {"name": name, "namespace": namespace}, "data": data}))
        return
    if words[:2] == ["create", "configmap"]:
        print("configmap/%s created" % (words[2] if len(words) > 2 else ""))
        return
    if words[:1] == ["version"]:
        print("Client Version: %s\nServer Version: %s" % (K8S_VERSION, K8S_VERSION))
        return
    die('error: the simulated kubectl does not know "%s"' % " ".join(words))


def kubectl_get_nodes(cluster, output):
    now = time.time()
    nodes = cluster["nodes"]
    settings = load("settings.json", {})
    not_ready = set(settings.get("not-ready-nodes", []))
    status = lambda n: ("Ready" if cluster["cni"] and n["name"] not in not_ready else "NotReady") + (",SchedulingDisabled" if n.get("unschedulable") else "")
    role = lambda n: "control-plane" if n["role"] == "control-plane" else "<none>"
    if output == "name":
        for n in nodes:
            print("node/%s" % n["name"])
        return
    if output == "json":
        items = [{"metadata": {"name": n["name"], "labels": {"node-role.kubernetes.io/control-plane": ""} if n["role"] == "control-plane" else {}},
                  "status": {"conditions": [{"type": "Ready", "status": "True" if status(n) == "Ready" else "False"}],
                             "nodeInfo": {"kubeletVersion": K8S_VERSION}}} for n in nodes]
        print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=4))
        return
    width = max([len("NAME")] + [len(n["name"]) for n in nodes]) + 3
    print("%-*s%-11s%-16s%-6s%s" % (width, "NAME", "STATUS", "ROLES", "AGE", "VERSION"))
    for n in nodes:
        print("%-*s%-11s%-16s%-6s%s" % (width, n["name"], status(n), role(n), age(now - n["joinedAt"]), K8S_VERSION))


READYZ_CHECKS = ["ping", "log", "etcd", "etcd-readiness", "informer-sync", "poststarthook/start-apiserver-admission-initializer",
                 "poststarthook/generic-apiserver-start-informers", "poststarthook/start-kube-aggregator-informers",
                 "poststarthook/apiservice-registration-controller", "shutdown"]


def kubectl_raw(path):
    cluster_for_kubectl()
    if not path.startswith("/readyz") and not path.startswith("/livez") and not path.startswith("/healthz"):
        die('Error from server (NotFound): the server could not find the requested resource')
    endpoint = path.split("?")[0].strip("/")
    failing = set(load("settings.json", {}).get("readyz-failing", []))
    verbose = "verbose" in path
    for check in READYZ_CHECKS:
        if check in failing:
            print("[-]%s failed: reason withheld" % check)
        elif verbose or failing:
            print("[+]%s ok" % check)
    if failing:
        print("%s check failed" % endpoint)
        die("Error from server (InternalError): an error on the server (\"[+]ping ok\\n...\") has prevented the request from succeeding")
    print("%s check passed" % endpoint if verbose else "ok")


# ---------------------------------------------------------------- velero

# What a backup or restore in each phase reports (counts, reasons and the messages `describe --details` lists).
VELERO_OUTCOMES = {
    "Completed": {"errors": [], "warnings": []},
    "PartiallyFailed": {"errors": ["app: error backing up persistentvolumeclaims/app/data: volume snapshot failed: timed out"],
                        "warnings": ["app: pods/app/web-0 has no volume snapshotter; skipped its volumes"]},
    "Failed": {"errors": ["Velero: error getting backup storage location: BackupStorageLocation.velero.io \"default\" is unavailable"],
               "warnings": [], "failureReason": "BackupStorageLocation \"default\" is unavailable"},
    "FailedValidation": {"errors": [], "warnings": [],
                         "validationErrors": ["an existing backup storage location was not specified at backup creation time and the default 'default' was not found"]},
}
VELERO_ITEMS = 42


def velero_record(phase, kind, extra):
    outcome = VELERO_OUTCOMES.get(phase, {"errors": [], "warnings": []})
    done = {"Completed": VELERO_ITEMS, "PartiallyFailed": VELERO_ITEMS - len(outcome["errors"]), "Failed": 0}.get(phase, 0)
    record = {"phase": phase, "created": time.time(), "errorMessages": outcome["errors"], "warningMessages": outcome["warnings"],
              "failureReason": outcome.get("failureReason", ""), "validationErrors": outcome.get("validationErrors", []),
              "totalItems": VELERO_ITEMS, "itemsDone": done, "kind": kind}
    record.update(extra)
    return record


def velero_json(name, record):
    kind = record.get("kind", "Backup")
    status = {"phase": record["phase"], "errors": len(record.get("errorMessages", [])),
              "warnings": len(record.get("warningMessages", []))}
    if record.get("failureReason"):
        status["failureReason"] = record["failureReason"]
    if record.get("validationErrors"):
        status["validationErrors"] = record["validationErrors"]
    if "totalItems" in record:
        status["progress"] = {"totalItems": record["totalItems"],
                              ("itemsRestored" if kind == "Restore" else "itemsBackedUp"): record["itemsDone"]}
    metadata = {"name": name, "namespace": "velero"}
    if record.get("labels"):
        metadata["labels"] = record["labels"]
    body = {"apiVersion": "velero.io/v1", "kind": kind, "metadata": metadata, "status": status}
    if kind == "Restore":
        body["spec"] = {"backupName": record.get("backup", "")}
    return body


def velero_describe(name, record, details, noun):
    phase = record["phase"]
    if phase == "PartiallyFailed":
        phase += " (run `velero %s logs %s` for more information)" % (noun, name)
    print("Name:         %s\nNamespace:    velero\nLabels:       velero.io/storage-location=default\n\nPhase:  %s\n" % (name, phase))
    for title, key in (("Errors", "errorMessages"), ("Warnings", "warningMessages")):
        messages = record.get(key, [])
        if not details:
            print("%s:  %d" % (title, len(messages)))
            continue
        print("%s:" % title)
        velero_messages = [m.split(": ", 1)[1] for m in messages if m.startswith("Velero: ")]
        namespaced = [m for m in messages if not m.startswith("Velero: ")]
        print("  Velero:     %s" % ("\n              ".join(velero_messages) if velero_messages else "<none>"))
        print("  Cluster:    <none>")
        if namespaced:
            print("  Namespaces:")
            for message in namespaced:
                namespace, text = message.split(": ", 1)
                print("    %s:  %s" % (namespace, text))
        else:
            print("  Namespaces: <none>")
        print("")
    if record.get("kind") == "Restore":
        print("Backup:  %s\n" % record.get("backup", ""))
    else:
        print("Namespaces:\n  Included:  %s\n  Excluded:  <none>\n\nStorage Location:  %s\n\nTTL:  %s\n"
              % (record.get("namespaces", "*"), record.get("storageLocation", "default"), record.get("ttl", "720h0m0s")))
    print("Total items to be %s:  %d" % ("restored" if record.get("kind") == "Restore" else "backed up", record.get("totalItems", 0)))
    print("Items %s:           %d" % ("restored" if record.get("kind") == "Restore" else "backed up", record.get("itemsDone", 0)))


def velero_labels(args):
    text = option(args, "--labels", "")
    return dict(pair.split("=", 1) for pair in text.split(",") if "=" in pair)


def velero(args):
    cluster = cluster_for_kubectl()
    words = positional(args, skip_values=("--include-namespaces", "--exclude-namespaces", "--from-backup", "-o", "--output",
                                         "--ttl", "--schedule", "--from-schedule", "--storage-location", "-n", "--namespace",
                                         "--labels"))
    settings = load("settings.json", {})
    output = option(args, "-o") or option(args, "--output") or ""
    details = "--details" in args
    restores = cluster.setdefault("restores", {})
    if words[:2] == ["backup", "create"] and len(words) > 2:
        name = words[2]
        if name in cluster["backups"]:
            die('An error occurred: backups.velero.io "%s" already exists' % name)
        phase = settings.get("backup-phase", "Completed")
        cluster["backups"][name] = velero_record(phase, "Backup", {
            "namespaces": option(args, "--include-namespaces", "*"),
            "storageLocation": option(args, "--storage-location", "default"), "ttl": option(args, "--ttl", "720h0m0s"),
            "labels": velero_labels(args)})
        save("cluster.json", cluster)
        print('Backup request "%s" submitted successfully.' % name)
        if "--wait" in args:
            print("Waiting for backup to complete. You may safely press ctrl-c to stop waiting - your backup will continue in the background.")
            print("..")
            print("Backup completed with status: %s. You may check for more information using the commands "
                  "`velero backup describe %s` and `velero backup logs %s`." % (phase, name, name))
        else:
            print("Run `velero backup describe %s` or `velero backup logs %s` for more details." % (name, name))
        return
    if words[:2] == ["backup", "get"]:
        names = words[2:] or sorted(cluster["backups"])
        for name in names:
            if name not in cluster["backups"]:
                die('An error occurred: backups.velero.io "%s" not found' % name)
        if output == "json":
            items = [velero_json(n, cluster["backups"][n]) for n in names]
            print(json.dumps(items[0] if len(items) == 1 else {"kind": "BackupList", "items": items}, indent=2))
            return
        print("NAME                 STATUS      ERRORS   WARNINGS   CREATED                         EXPIRES   STORAGE LOCATION   SELECTOR")
        for name in names:
            backup = cluster["backups"][name]
            created = time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(backup["created"]))
            print("%-20s %-11s %-8d %-10d %-31s %-9s %-18s <none>" % (name, backup["phase"], len(backup.get("errorMessages", [])),
                                                                     len(backup.get("warningMessages", [])), created, "29d", "default"))
        return
    if words[:2] == ["backup", "describe"] and len(words) > 2:
        name = words[2]
        backup = cluster["backups"].get(name)
        if backup is None:
            die('An error occurred: backups.velero.io "%s" not found' % name)
        velero_describe(name, backup, details, "backup")
        return
    if words[:2] == ["restore", "create"]:
        source = option(args, "--from-backup")
        if source not in cluster["backups"]:
            die('An error occurred: backups.velero.io "%s" not found' % source)
        name = words[2] if len(words) > 2 else "%s-%s" % (source, time.strftime("%Y%m%d%H%M%S", time.gmtime()))
        if name in restores:
            die('An error occurred: restores.velero.io "%s" already exists' % name)
        phase = settings.get("restore-phase", "Completed")
        restores[name] = velero_record(phase, "Restore", {"backup": source, "labels": velero_labels(args)})
        save("cluster.json", cluster)
        print('Restore request "%s" submitted successfully.' % name)
        if "--wait" in args:
            print("Waiting for restore to complete. You may safely press ctrl-c to stop waiting - your restore will continue in the background.")
            print(".")
            print("Restore completed with status: %s. You may check for more information using the commands "
                  "`velero restore describe %s` and `velero restore logs %s`." % (phase, name, name))
        else:
            print("Run `velero restore describe %s` or `velero restore logs %s` for more details." % (name, name))
        return
    if words[:2] == ["restore", "get"] and len(words) > 2:
        name = words[2]
        if name not in restores:
            die('An error occurred: restores.velero.io "%s" not found' % name)
        if output == "json":
            print(json.dumps(velero_json(name, restores[name]), indent=2))
            return
        print("NAME   BACKUP   STATUS   ERRORS   WARNINGS")
        restore = restores[name]
        print("%s   %s   %s   %d   %d" % (name, restore["backup"], restore["phase"], len(restore["errorMessages"]), len(restore["warningMessages"])))
        return
    if words[:2] == ["restore", "describe"] and len(words) > 2:
        name = words[2]
        if name not in restores:
            die('An error occurred: restores.velero.io "%s" not found' % name)
        velero_describe(name, restores[name], details, "restore")
        return
    die('An error occurred: the simulated velero does not know "%s"' % " ".join(words))


# ---------------------------------------------------------------- argocd

def argocd(args):
    cluster = cluster_for_kubectl()
    if args[:1] == ["login"]:
        password = option(args, "--password")
        if password is None:
            password = sys.stdin.readline().rstrip("\n")
        data = cluster["secrets"].get("argocd/argocd-secret", {})
        stored = base64.b64decode(data.get("admin.password", "")).decode() if data.get("admin.password") else ""
        if stored:
            ok = check_bcrypt(password, stored)
        else:
            initial = cluster["secrets"].get("argocd/argocd-initial-admin-secret", {}).get("password", "")
            ok = initial and base64.b64decode(initial).decode() == password
        if not ok:
            die("FATA[0000] rpc error: code = Unauthenticated desc = Invalid username or password", 20)
        print("'admin:login' logged in successfully")
        print("Context '%s' updated" % (positional(args, skip_values=("--username", "--password"))[1:2] or ["argocd"])[0])
        return
    if args[:3] == ["admin", "initial-password", "-n"] or args[:2] == ["admin", "initial-password"]:
        initial = cluster["secrets"].get("argocd/argocd-initial-admin-secret")
        if not initial:
            die('FATA[0000] failed to get password: secrets "argocd-initial-admin-secret" not found', 20)
        print(base64.b64decode(initial["password"]).decode())
        print("\n This password must be only used for first time login. We strongly recommend you update the password using `argocd account update-password`.")
        return
    die("FATA[0000] the simulated argocd does not know %r" % " ".join(args), 20)


def check_bcrypt(password, stored):
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import crypt
        return crypt.crypt(password, stored) == stored
    except Exception:
        try:
            import bcrypt
            return bcrypt.checkpw(password.encode(), stored.encode())
        except Exception:
            return stored.startswith("$2")


# ---------------------------------------------------------------- etcdctl

def etcdctl(args):
    cluster = cluster_for_kubectl()
    members = etcd_members(cluster)
    words = positional(args, skip_values=("--endpoints", "--cacert", "--cert", "--key", "-w", "--write-out"))
    if words[:2] == ["member", "list"]:
        if (option(args, "-w") or option(args, "--write-out")) == "json":
            print(json.dumps({"members": [{"ID": int(m["id"], 16), "name": m["name"]} for m in members]}))
            return
        for m in members:
            print("%s, started, %s, https://%s:2380, https://%s:2379, false" % (m["id"], m["name"], m["name"], m["name"]))
        return
    if words[:2] == ["member", "remove"] and len(words) > 2:
        wanted = words[2]
        if not any(m["id"] == wanted for m in members):
            die("Error: etcdserver: member not found")
        if len(members) == 1:
            die("Error: etcdserver: re-configuration failed due to not enough started members")
        cluster["etcdMembers"] = [m for m in members if m["id"] != wanted]
        save("cluster.json", cluster)
        print("Member %s removed from cluster" % wanted)
        return
    die("Error: unknown command %r for \"etcdctl\"" % " ".join(words))


# ---------------------------------------------------------------- kaji-sim-node

def kaji_sim_node(args):
    if args[:1] == ["fail"] and len(args) > 1:
        faults = load("faults.json", [])
        times = option(args, "--times")
        faults.append({"match": args[1], "exit": int(option(args, "--exit", "1")), "stderr": option(args, "--stderr", ""),
                       "stdout": option(args, "--stdout", ""), "times": int(times) if times else 1,
                       "node": option(args, "--node", "")})
        save("faults.json", faults)
        print("fault added: %s" % args[1])
        return
    if args[:1] == ["set"] and len(args) > 2:
        settings = load("settings.json", {})
        if args[1] in ("readyz-failing", "not-ready-nodes"):
            settings[args[1]] = [v for v in args[2].split(",") if v]
        else:
            settings[args[1]] = args[2]
        save("settings.json", settings)
        print("set %s = %s" % (args[1], args[2]))
        return
    if args[:1] == ["backup-phase"] and len(args) > 2:
        cluster = load("cluster.json", None)
        if not cluster or args[1] not in cluster.get("backups", {}):
            die("kaji-sim-node: no backup %r in world %s" % (args[1], WORLD))
        backup = cluster["backups"][args[1]]
        backup.update({k: v for k, v in velero_record(args[2], "Backup", {}).items() if k not in ("created", "kind")})
        save("cluster.json", cluster)
        print("backup %s is now %s" % (args[1], args[2]))
        return
    if args[:1] == ["state"]:
        print(json.dumps({"cluster": load("cluster.json", None), "faults": load("faults.json", []),
                          "settings": load("settings.json", {})}, indent=1, sort_keys=True))
        return
    if args[:1] == ["clear"]:
        for name in ("cluster.json", "faults.json", "settings.json", "admin.conf"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(WORLD_DIR, name))
        print("world %s cleared" % WORLD)
        return
    die("usage: kaji-sim-node fail MATCH [--exit N] [--stderr TEXT] [--times N] [--node NAME] | set KEY VALUE | "
        "backup-phase NAME PHASE | state | clear", 2)


TOOLS = {"kubeadm": kubeadm, "kubectl": kubectl, "velero": velero, "argocd": argocd, "etcdctl": etcdctl, "kaji-sim-node": kaji_sim_node}


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in TOOLS:
        die("usage: kaji_node_sim.py TOOL ARGS...", 2)
    tool, args = sys.argv[1], sys.argv[2:]
    with locked():
        if NODE:
            with open(os.path.join(WORLD_DIR, "commands.log"), "a") as log:
                log.write(json.dumps([NODE, tool] + args) + "\n")
        if tool != "kaji-sim-node":
            take_fault(tool, args)
        TOOLS[tool](args)


if __name__ == "__main__":
    main()
