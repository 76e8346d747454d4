"""deploy/k8s's NetworkPolicies let in and out only what deploy/README.md says.

The manifests are read as kustomize assembles them (the resources of kustomization.yaml), and
the policies are evaluated against the pod labels of the Deployments and Jobs: a selector that
matched nothing, or a rule without ``from`` (which admits every source), would fail here.
No cluster is needed; whether the CNI enforces policies is the cluster's matter.
"""

from __future__ import annotations

from pathlib import Path

import yaml

K8S = Path(__file__).resolve().parent.parent / "deploy" / "k8s"
PRIVATE = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"}


def load(name: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all((K8S / name).read_text()) if doc]


def resources() -> list[dict]:
    kustomization = load("kustomization.yaml")[0]
    return [doc for name in kustomization["resources"] for doc in load(name)]


def pods() -> dict[str, dict]:
    """Each workload's pod labels (and its container ports' names), by workload name."""
    return {
        doc["metadata"]["name"]: doc["spec"]["template"]
        for doc in resources()
        if doc["kind"] in ("Deployment", "Job")
    }


def selects(selector: dict, labels: dict) -> bool:
    expressions = {
        "In": lambda e: labels.get(e["key"]) in e["values"],
        "NotIn": lambda e: labels.get(e["key"]) not in e["values"],
        "Exists": lambda e: e["key"] in labels,
        "DoesNotExist": lambda e: e["key"] not in labels,
    }
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items()) and all(
        expressions[e["operator"]](e) for e in selector.get("matchExpressions", [])
    )


def policies() -> list[dict]:
    return [doc for doc in resources() if doc["kind"] == "NetworkPolicy"]


def rules(labels: dict, direction: str) -> list[dict]:
    """Every ingress or egress rule that applies to pods with ``labels``."""
    key = direction.lower()
    return [
        rule
        for policy in policies()
        if direction in policy["spec"]["policyTypes"]
        and selects(policy["spec"]["podSelector"], labels)
        for rule in policy["spec"].get(key, [])
    ]


def sources(labels: dict) -> set[tuple[str, str]]:
    """(namespace, app name) of every peer allowed in; fails where anyone may come in."""
    assert any(
        "Ingress" in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], labels)
        for p in policies()
    ), f"no policy isolates {labels}: every pod may connect"
    found = set()
    for rule in rules(labels, "Ingress"):
        assert rule.get("from"), f"an ingress rule without from admits everyone: {rule}"
        for peer in rule["from"]:
            namespace = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            found.add((namespace, peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]))
    return found


def test_the_namespace_denies_everything_by_default() -> None:
    deny = [p for p in policies() if p["spec"]["podSelector"] == {}]
    assert len(deny) == 1
    assert set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny[0]["spec"] and "egress" not in deny[0]["spec"]


def test_every_policy_selects_pods_of_the_service() -> None:
    workloads = pods()
    for policy in policies():
        selector = policy["spec"]["podSelector"]
        assert any(selects(selector, pod["metadata"]["labels"]) for pod in workloads.values())


def test_only_the_ingress_controller_and_prometheus_reach_the_receivers() -> None:
    api = pods()["symptom-diary-api"]
    assert sources(api["metadata"]["labels"]) == {
        ("ingress-nginx", "ingress-nginx"),
        ("monitoring", "prometheus"),
    }
    ports = {p["name"] for c in api["spec"]["containers"] for p in c["ports"]}
    for rule in rules(api["metadata"]["labels"], "Ingress"):
        assert {p["port"] for p in rule["ports"]} <= ports  # the named port exists


def test_the_worker_admits_only_prometheus_and_the_jobs_nothing() -> None:
    workloads = pods()
    assert sources(workloads["symptom-diary-worker"]["metadata"]["labels"]) == {
        ("monitoring", "prometheus")
    }
    assert sources(workloads["symptom-diary-migrate"]["metadata"]["labels"]) == set()


def test_every_pod_may_reach_dns_the_database_and_only_public_https() -> None:
    for name, pod in pods().items():
        egress = rules(pod["metadata"]["labels"], "Egress")
        ports = {(p["port"], p.get("protocol", "TCP")) for rule in egress for p in rule["ports"]}
        assert {(53, "UDP"), (5432, "TCP")} <= ports, name
        for rule in egress:
            assert rule.get("to") and rule.get("ports"), f"{name}: an egress rule open to all"
            for peer in rule["to"]:
                block = peer.get("ipBlock", {})
                if block.get("cidr") == "0.0.0.0/0":
                    assert PRIVATE <= set(block.get("except", [])), name
                    assert [p["port"] for p in rule["ports"]] == [443], name


def test_the_database_example_admits_the_service_and_its_own_members() -> None:
    (policy,) = load("networkpolicy-database.example.yaml")
    namespace = load("namespace.yaml")[0]["metadata"]["name"]
    (service, members) = policy["spec"]["ingress"]
    (peer,) = service["from"]
    assert peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] == namespace
    assert all(selects(peer["podSelector"], pod["metadata"]["labels"]) for pod in pods().values())
    assert [p["port"] for p in service["ports"]] == [5432]
    assert members["from"] == [{"podSelector": policy["spec"]["podSelector"]}]
