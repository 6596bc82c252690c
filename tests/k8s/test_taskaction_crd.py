"""The TaskAction CRD through a real API server: install, CRUD, status subresource, validation."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from flyte_jupyter.backend.plugins.k8s import crd as _crd

pytestmark = pytest.mark.k8s


def _ta(name: str) -> dict:
    return {"apiVersion": _crd.API_VERSION, "kind": _crd.KIND, "metadata": {"name": name},
            "spec": {"runName": "r1", "actionName": "a0", "project": "p", "domain": "d",
                     "task": {"image": "img", "args": ["x"]}}}


def test_install_is_idempotent_and_serves_taskactions(api_client, namespace):
    _crd.install_crd(api_client)
    _crd.install_crd(api_client)  # second start of a backend: no error, nothing changes
    co = client.CustomObjectsApi(api_client)
    created = co.create_namespaced_custom_object(_crd.GROUP, _crd.VERSION, namespace, _crd.PLURAL, _ta("r1-a0"))
    assert created["spec"]["attempt"] == 1  # defaults from the schema
    assert created["spec"]["abort"] is False
    got = co.get_namespaced_custom_object(_crd.GROUP, _crd.VERSION, namespace, _crd.PLURAL, "r1-a0")
    assert got["spec"]["task"] == {"image": "img", "args": ["x"]}
    items = co.list_namespaced_custom_object(_crd.GROUP, _crd.VERSION, namespace, _crd.PLURAL)["items"]
    assert [i["metadata"]["name"] for i in items] == ["r1-a0"]
    co.delete_namespaced_custom_object(_crd.GROUP, _crd.VERSION, namespace, _crd.PLURAL, "r1-a0")
    with pytest.raises(ApiException) as e:
        co.get_namespaced_custom_object(_crd.GROUP, _crd.VERSION, namespace, _crd.PLURAL, "r1-a0")
    assert e.value.status == 404


def test_status_is_a_subresource(api_client, namespace):
    _crd.install_crd(api_client)
    co = client.CustomObjectsApi(api_client)
    co.create_namespaced_custom_object(_crd.GROUP, _crd.VERSION, namespace, _crd.PLURAL, _ta("r1-a1"))
    # status written through the main resource is ignored ...
    co.patch_namespaced_custom_object(_crd.GROUP, _crd.VERSION, namespace, _crd.PLURAL, "r1-a1",
                                      {"status": {"phase": "RUNNING"}})
    got = co.get_namespaced_custom_object(_crd.GROUP, _crd.VERSION, namespace, _crd.PLURAL, "r1-a1")
    assert "status" not in got or got["status"].get("phase") != "RUNNING"
    # ... and accepted through /status, which leaves the spec alone
    co.patch_namespaced_custom_object_status(_crd.GROUP, _crd.VERSION, namespace, _crd.PLURAL, "r1-a1",
                                             {"status": {"phase": "RUNNING", "attempt": 1, "podName": "p"}})
    got = co.get_namespaced_custom_object(_crd.GROUP, _crd.VERSION, namespace, _crd.PLURAL, "r1-a1")
    assert got["status"] == {"phase": "RUNNING", "attempt": 1, "podName": "p"}
    assert got["spec"]["runName"] == "r1"


def test_schema_rejects_bad_objects(api_client, namespace):
    _crd.install_crd(api_client)
    co = client.CustomObjectsApi(api_client)
    bad = _ta("r1-bad")
    del bad["spec"]["runName"]
    with pytest.raises(ApiException) as e:
        co.create_namespaced_custom_object(_crd.GROUP, _crd.VERSION, namespace, _crd.PLURAL, bad)
    assert e.value.status == 422 and "runName" in e.value.body
    co.create_namespaced_custom_object(_crd.GROUP, _crd.VERSION, namespace, _crd.PLURAL, _ta("r1-ph"))
    with pytest.raises(ApiException) as e:
        co.patch_namespaced_custom_object_status(_crd.GROUP, _crd.VERSION, namespace, _crd.PLURAL, "r1-ph",
                                                 {"status": {"phase": "DANCING"}})
    assert e.value.status == 422
