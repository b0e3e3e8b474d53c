"""Offline checks of the deploy/ artifacts that kubernetes-validate cannot do; run by validate.sh.

  check_manifests.py configs PROXY DIR...   each ConfigMap's rampart.toml, with the flags of the
                                            Deployment container that mounts it, through
                                            `PROXY check`; each kustomization.yaml's resources
  check_manifests.py workflow FILE...       a GitHub Actions workflow parses and has the pieces
                                            the verifier job relies on

Exit 0 when everything passes, 1 otherwise, each problem on stderr naming file and object.
"""

import os
import shutil
import subprocess
import sys
import tempfile

import yaml

problems = []


def problem(msg):
    problems.append(msg)
    print(f"FAIL: {msg}", file=sys.stderr)


def load_docs(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [d for d in yaml.safe_load_all(f) if d is not None]
    except yaml.YAMLError as e:
        problem(f"{path}: not valid YAML: {e}")
        return []


# ---- kustomization ------------------------------------------------------------------------------


def check_kustomization(directory):
    path = os.path.join(directory, "kustomization.yaml")
    before = len(problems)
    if not os.path.exists(path):
        problem(f"{directory}: no kustomization.yaml")
        return
    docs = load_docs(path)
    if len(docs) != 1:
        problem(f"{path}: expected one YAML document, found {len(docs)}")
        return
    doc = docs[0]
    if doc.get("kind") != "Kustomization":
        problem(f"{path}: kind is {doc.get('kind')!r}, expected Kustomization")
    listed = doc.get("resources") or []
    for res in listed:
        if not os.path.exists(os.path.join(directory, res)):
            problem(f"{path}: resource {res} does not exist")
    on_disk = {
        n
        for n in os.listdir(directory)
        if n.endswith((".yaml", ".yml")) and n != "kustomization.yaml"
    }
    for name in sorted(on_disk - set(listed)):
        problem(f"{path}: {name} is not listed in resources")
    if len(problems) == before:
        print(f"ok: {path}: lists all {len(listed)} manifests of its directory")


# ---- rampart.toml in ConfigMaps ------------------------------------------------------------------

# Flags of the proxy that `check` takes too; the value-taking ones are passed on as written,
# except file paths inside the pod, which are replaced.
VALUE_FLAGS = {"--config", "--listen", "--upstream", "--preset", "--workers", "--tls-cert",
               "--tls-key", "--redirect-http", "--admin"}


def check_help_flags(proxy):
    out = subprocess.run([proxy, "check", "--help"], capture_output=True, text=True, check=True)
    return {w.rstrip(",") for line in out.stdout.splitlines() for w in line.split()
            if w.startswith("--")}


def parse_args(args, where):
    """--flag value / --flag=value pairs -> list of (flag, value or None)."""
    pairs, i = [], 0
    while i < len(args):
        a = str(args[i])
        if "=" in a and a.startswith("--"):
            flag, value = a.split("=", 1)
            pairs.append((flag, value))
        elif a in VALUE_FLAGS:
            if i + 1 >= len(args):
                problem(f"{where}: {a} has no value")
                break
            pairs.append((a, str(args[i + 1])))
            i += 1
        else:
            pairs.append((a, None))
        i += 1
    return pairs


def self_signed(directory):
    """A throwaway certificate and key, so `check` can load what --tls-cert/--tls-key name."""
    cert, key = os.path.join(directory, "tls.crt"), os.path.join(directory, "tls.key")
    try:
        import datetime

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        k = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rampart-validate.invalid")])
        now = datetime.datetime.now(datetime.timezone.utc)
        c = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(k.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName("rampart-validate.invalid")]),
                critical=False,
            )
            .sign(k, hashes.SHA256())
        )
        with open(cert, "wb") as f:
            f.write(c.public_bytes(serialization.Encoding.PEM))
        with open(key, "wb") as f:
            f.write(k.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    except ImportError:
        if not shutil.which("openssl"):
            raise SystemExit("check_manifests.py: need the Python cryptography package or openssl "
                             "to make a test certificate")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj",
                        "/CN=rampart-validate.invalid", "-addext",
                        "subjectAltName=DNS:rampart-validate.invalid",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def containers_mounting(docs, configmap_name):
    """(deployment name, container, mount path) for every container mounting the ConfigMap."""
    for d in docs:
        if d.get("kind") != "Deployment":
            continue
        spec = d["spec"]["template"]["spec"]
        volumes = {v["name"] for v in spec.get("volumes", [])
                   if v.get("configMap", {}).get("name") == configmap_name}
        for c in spec.get("containers", []):
            for m in c.get("volumeMounts", []):
                if m["name"] in volumes:
                    yield d["metadata"]["name"], c, m["mountPath"]


def check_configs(proxy, directory, known_flags, tmp):
    docs = []
    for name in sorted(os.listdir(directory)):
        if name.endswith((".yaml", ".yml")) and name != "kustomization.yaml":
            docs.extend((name, d) for d in load_docs(os.path.join(directory, name)))
    all_docs = [d for _, d in docs]
    cert = key = None
    checked = 0
    for fname, d in docs:
        if d.get("kind") != "ConfigMap" or "rampart.toml" not in (d.get("data") or {}):
            continue
        cm = d["metadata"]["name"]
        where = f"{os.path.join(directory, fname)}: ConfigMap {cm}"
        toml = os.path.join(tmp, f"{cm}.rampart.toml")
        with open(toml, "w", encoding="utf-8") as f:
            f.write(d["data"]["rampart.toml"])
        users = list(containers_mounting(all_docs, cm))
        if not users:
            problem(f"{where}: no Deployment container mounts it")
            users = [(None, {"args": ["--config", "rampart.toml"]}, "")]
        for deployment, container, mount in users:
            argv = [proxy, "check"]
            dropped = []
            saw_config = False
            for flag, value in parse_args(container.get("args", []), where):
                if flag == "--config":
                    saw_config = True
                    if deployment and value != f"{mount.rstrip('/')}/rampart.toml":
                        problem(f"{where}: Deployment {deployment} passes --config {value}, "
                                f"but the ConfigMap is mounted at {mount}")
                    value = toml
                elif flag in ("--tls-cert", "--tls-key"):
                    if cert is None:
                        cert, key = self_signed(tmp)
                    value = cert if flag == "--tls-cert" else key
                if flag not in known_flags:
                    # A flag newer than the binary doing the check: the running proxy takes
                    # it, the offline check cannot.
                    dropped.append(flag)
                    continue
                argv.append(flag)
                if value is not None:
                    argv.append(value)
            if deployment and not saw_config:
                problem(f"{where}: Deployment {deployment} mounts it but passes no --config")
            shown = " ".join(a if a != toml else f"<{cm}:rampart.toml>" for a in argv[1:])
            r = subprocess.run(argv, capture_output=True, text=True)
            if r.returncode != 0:
                problem(f"{where}: `rampart-proxy {shown}` exited {r.returncode}:\n"
                        + (r.stderr or r.stdout).replace(toml, "rampart.toml"))
            else:
                note = f" (not checked offline: {' '.join(dropped)})" if dropped else ""
                print(f"ok: {where}: rampart-proxy {shown}{note}")
            checked += 1
    if checked == 0:
        problem(f"{directory}: no ConfigMap holding rampart.toml")


# ---- GitHub Actions workflow ---------------------------------------------------------------------


def check_workflow(path):
    before = len(problems)
    docs = load_docs(path)
    if len(docs) != 1:
        if len(problems) == before:
            problem(f"{path}: expected one YAML document, found {len(docs)}")
        return
    doc = docs[0]
    # YAML 1.1 reads the key `on` as the boolean true.
    on = doc.get("on", doc.get(True))
    if not on:
        problem(f"{path}: no `on:` triggers")
    jobs = doc.get("jobs") or {}
    if not jobs:
        problem(f"{path}: no jobs")
    uploads = probes = 0
    for job_name, job in jobs.items():
        perms = job.get("permissions") or doc.get("permissions") or {}
        for step in job.get("steps", []):
            uses, run = step.get("uses", ""), step.get("run", "")
            if uses.startswith("github/codeql-action/upload-sarif@"):
                uploads += 1
                if "always()" not in str(step.get("if", "")):
                    problem(f"{path}: jobs.{job_name}: upload-sarif runs only on success "
                            "(needs if: always())")
                if perms.get("security-events") != "write":
                    problem(f"{path}: jobs.{job_name}: upload-sarif needs "
                            "permissions: security-events: write")
                if step.get("with", {}).get("sarif_file") != "rampart.sarif":
                    problem(f"{path}: jobs.{job_name}: upload-sarif does not upload rampart.sarif")
            if "rampart-verify probe" in run:
                probes += 1
                for part in ("--format sarif", "--output rampart.sarif", "--fail-on"):
                    if part not in run:
                        problem(f"{path}: jobs.{job_name}: the probe step lacks {part}")
                if step.get("continue-on-error"):
                    problem(f"{path}: jobs.{job_name}: continue-on-error on the probe would "
                            "hide findings")
    if uploads != 1 or probes != 1:
        problem(f"{path}: expected one probe step and one upload-sarif step, "
                f"found {probes} and {uploads}")
    if len(problems) == before:
        print(f"ok: {path}: parses; probe writes SARIF, upload-sarif runs always()")


def main(argv):
    if len(argv) >= 3 and argv[1] == "configs":
        proxy = argv[2]
        known = check_help_flags(proxy)
        with tempfile.TemporaryDirectory(prefix="rampart-validate.") as tmp:
            for directory in argv[3:]:
                check_kustomization(directory)
                check_configs(proxy, directory, known, tmp)
    elif len(argv) >= 2 and argv[1] == "workflow":
        for path in argv[2:]:
            check_workflow(path)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
