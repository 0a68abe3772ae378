"""deploy/k8s: the grading Job is valid and fits the formgrader's Deployment."""

from pathlib import Path


def test_the_kubernetes_grading_job_is_valid_yaml_and_fits_the_formgrader():
    import yaml

    k8s = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
    (job,) = yaml.safe_load_all((k8s / "grade-job.yaml").read_text())
    docs = list(yaml.safe_load_all((k8s / "formgrader.yaml").read_text()))
    (deploy,) = [d for d in docs if d["kind"] == "Deployment"]
    claims = {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"}
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    pod, fg = job["spec"]["template"]["spec"], deploy["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] == 0
    (box,) = pod["containers"]
    env = {e["name"]: e["value"] for e in box["env"]}
    assert box["command"][:4] == ["mathdl-grade", "$(ASSIGNMENT)", "--jobs", "$(JOBS)"]
    assert box["resources"]["requests"]["cpu"] == env["JOBS"]  # one core per worker
    memory = int(box["resources"]["requests"]["memory"].removesuffix("Gi"))
    assert memory >= 1 + int(env["JOBS"])
    root = box["command"][box["command"].index("--root") + 1]
    (vol,) = pod["volumes"]
    assert vol["persistentVolumeClaim"]["claimName"] in claims
    fg_mounts = {m["name"]: m["mountPath"] for m in fg["containers"][0]["volumeMounts"]}
    fg_vols = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in fg["volumes"]}
    (mount,) = box["volumeMounts"]
    same = [n for n, c in fg_vols.items() if c == vol["persistentVolumeClaim"]["claimName"]]
    assert same and fg_mounts[same[0]] == mount["mountPath"] and root.startswith(mount["mountPath"])
    assert pod["securityContext"]["runAsUser"] == fg["securityContext"]["runAsUser"]
    (term,) = pod["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert (
        term["labelSelector"]["matchLabels"].items()
        <= deploy["spec"]["template"]["metadata"]["labels"].items()
    )
