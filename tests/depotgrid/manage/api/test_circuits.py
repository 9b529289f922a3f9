import httpx

from tests.depotgrid.manage.api.helpers import (
    create_charger,
    create_circuit,
    create_depot,
    errors_by_field,
)


def test_capacities_default_to_the_rating(api: httpx.Client) -> None:
    depot = create_depot(api)
    circuit = create_circuit(api, depot["id"], rating=630)
    assert circuit["available_capacity_kw"] == 630
    assert circuit["safe_default_capacity_kw"] == 630
    assert circuit["parent_circuit_id"] is None


def test_siblings_are_ordered_by_creation_unless_positioned(api: httpx.Client) -> None:
    depot = create_depot(api)
    first = create_circuit(api, depot["id"], "B first")
    second = create_circuit(api, depot["id"], "A second")
    assert (first["position"], second["position"]) == (0, 1)
    listed = api.get(f"/api/depots/{depot['id']}/circuits").json()["items"]
    assert [c["name"] for c in listed] == ["B first", "A second"]


def test_parent_in_another_depot_is_422_naming_parent_and_stores_nothing(api: httpx.Client) -> None:
    here, there = create_depot(api, "Here"), create_depot(api, "There")
    foreign = create_circuit(api, there["id"], "Foreign")
    response = api.post(
        f"/api/depots/{here['id']}/circuits",
        json={"name": "Child", "max_capacity_kw": 10, "parent_circuit_id": foreign["id"]},
    )
    assert response.status_code == 422
    assert "another depot" in errors_by_field(response)["parent_circuit_id"]
    assert api.get(f"/api/depots/{here['id']}/circuits").json()["total"] == 0
    assert api.get(f"/api/depots/{here['id']}").json()["version"] == 1


def test_reparent_into_another_depot_is_422_and_changes_nothing(api: httpx.Client) -> None:
    here, there = create_depot(api, "Here"), create_depot(api, "There")
    circuit = create_circuit(api, here["id"], "Mine")
    foreign = create_circuit(api, there["id"], "Foreign")
    response = api.patch(
        f"/api/circuits/{circuit['id']}", json={"parent_circuit_id": foreign["id"]}
    )
    assert response.status_code == 422
    assert "parent_circuit_id" in errors_by_field(response)
    assert api.get(f"/api/circuits/{circuit['id']}").json() == circuit


def test_reparent_that_makes_a_cycle_is_422_and_changes_nothing(api: httpx.Client) -> None:
    depot = create_depot(api)
    top = create_circuit(api, depot["id"], "Top")
    middle = create_circuit(api, depot["id"], "Middle", parent=top["id"], rating=300)
    leaf = create_circuit(api, depot["id"], "Leaf", parent=middle["id"], rating=100)
    for new_parent in (leaf["id"], top["id"]):
        response = api.patch(f"/api/circuits/{top['id']}", json={"parent_circuit_id": new_parent})
        assert response.status_code == 422
        assert "cycle" in errors_by_field(response)["parent_circuit_id"]
    assert api.get(f"/api/circuits/{top['id']}").json() == top
    history = api.get(f"/api/depots/{depot['id']}/history").json()
    assert history["total"] == 4


def test_reparent_to_a_sibling_branch_works(api: httpx.Client) -> None:
    depot = create_depot(api)
    top = create_circuit(api, depot["id"], "Top")
    a = create_circuit(api, depot["id"], "A", parent=top["id"], rating=200)
    b = create_circuit(api, depot["id"], "B", parent=top["id"], rating=200)
    response = api.patch(f"/api/circuits/{b['id']}", json={"parent_circuit_id": a["id"]})
    assert response.status_code == 200
    assert response.json()["parent_circuit_id"] == a["id"]
    detached = api.patch(f"/api/circuits/{b['id']}", json={"parent_circuit_id": None})
    assert detached.json()["parent_circuit_id"] is None


def test_unknown_parent_is_422(api: httpx.Client) -> None:
    depot = create_depot(api)
    response = api.post(
        f"/api/depots/{depot['id']}/circuits",
        json={"name": "X", "max_capacity_kw": 1, "parent_circuit_id": "no-such-circuit"},
    )
    assert response.status_code == 422
    assert "does not exist" in errors_by_field(response)["parent_circuit_id"]


def test_negative_and_over_rating_capacities_are_each_named(api: httpx.Client) -> None:
    depot = create_depot(api)
    response = api.post(
        f"/api/depots/{depot['id']}/circuits",
        json={
            "name": "X",
            "max_capacity_kw": -1,
            "available_capacity_kw": 5,
            "safe_default_capacity_kw": 3,
        },
    )
    assert response.status_code == 422
    fields = errors_by_field(response)
    assert fields["max_capacity_kw"] == "must be zero or more"
    assert "above the circuit rating" in fields["available_capacity_kw"]
    assert "above the circuit rating" in fields["safe_default_capacity_kw"]


def test_non_numeric_and_infinite_capacity_are_422(api: httpx.Client) -> None:
    depot = create_depot(api)
    url = f"/api/depots/{depot['id']}/circuits"
    assert api.post(url, json={"name": "X", "max_capacity_kw": "lots"}).status_code == 422
    response = api.post(
        url,
        content=b'{"name": "X", "max_capacity_kw": Infinity}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422


def test_lowering_rating_below_a_set_available_capacity_is_refused(api: httpx.Client) -> None:
    depot = create_depot(api)
    circuit = create_circuit(api, depot["id"], rating=400, available_capacity_kw=300)
    assert circuit["available_capacity_source"] == "OPERATOR"
    response = api.patch(f"/api/circuits/{circuit['id']}", json={"max_capacity_kw": 100})
    assert response.status_code == 422
    assert set(errors_by_field(response)) == {"available_capacity_kw", "safe_default_capacity_kw"}
    ok = api.patch(
        f"/api/circuits/{circuit['id']}",
        json={"max_capacity_kw": 100, "available_capacity_kw": 100, "safe_default_capacity_kw": 80},
    )
    assert ok.status_code == 200


def test_available_capacity_never_set_follows_the_rating(api: httpx.Client) -> None:
    depot = create_depot(api)
    circuit = create_circuit(api, depot["id"], rating=400, safe_default_capacity_kw=100)
    assert circuit["available_capacity_source"] == "RATING"
    moved = api.patch(f"/api/circuits/{circuit['id']}", json={"max_capacity_kw": 250}).json()
    assert (moved["available_capacity_kw"], moved["available_capacity_source"]) == (250, "RATING")
    set_by_hand = api.patch(
        f"/api/circuits/{circuit['id']}", json={"available_capacity_kw": 200}
    ).json()
    assert set_by_hand["available_capacity_source"] == "OPERATOR"
    again = api.patch(f"/api/circuits/{circuit['id']}", json={"max_capacity_kw": 300}).json()
    assert again["available_capacity_kw"] == 200


def test_deleting_a_circuit_with_children_or_chargers_is_409_naming_them(api: httpx.Client) -> None:
    depot = create_depot(api)
    top = create_circuit(api, depot["id"], "Top")
    create_circuit(api, depot["id"], "Bay A", parent=top["id"], rating=100)
    create_charger(api, depot["id"], top["id"], "CP-TOP")
    response = api.delete(f"/api/circuits/{top['id']}")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "CIRCUIT_NOT_EMPTY"
    assert "Bay A" in body["message"] and "CP-TOP" in body["message"]
    assert [c["name"] for c in body["details"]["child_circuits"]] == ["Bay A"]
    assert [c["name"] for c in body["details"]["chargers"]] == ["CP-TOP"]
    assert api.get(f"/api/circuits/{top['id']}").status_code == 200


def test_leaf_circuit_deletes(api: httpx.Client) -> None:
    depot = create_depot(api)
    circuit = create_circuit(api, depot["id"])
    assert api.delete(f"/api/circuits/{circuit['id']}").status_code == 204
    assert api.get(f"/api/circuits/{circuit['id']}").status_code == 404


def test_circuit_list_filters_by_parent(api: httpx.Client) -> None:
    depot = create_depot(api)
    top = create_circuit(api, depot["id"], "Top")
    create_circuit(api, depot["id"], "Child", parent=top["id"], rating=10)
    listed = api.get(
        f"/api/depots/{depot['id']}/circuits", params={"parent_circuit_id": top["id"]}
    ).json()
    assert [c["name"] for c in listed["items"]] == ["Child"]


def test_circuits_of_unknown_depot_is_404(api: httpx.Client) -> None:
    assert api.get("/api/depots/nope/circuits").status_code == 404
    response = api.post("/api/depots/nope/circuits", json={"name": "X", "max_capacity_kw": 1})
    assert response.status_code == 404


def test_concurrent_crossing_reparents_never_both_succeed(api: httpx.Client) -> None:
    """A under B and B under A at the same moment: the depot lock lets only one win."""
    from concurrent.futures import ThreadPoolExecutor

    depot = create_depot(api)
    for _ in range(5):
        a = create_circuit(api, depot["id"], "A")
        b = create_circuit(api, depot["id"], "B")
        with ThreadPoolExecutor(2) as pool:
            results = list(
                pool.map(
                    lambda pair: (
                        api.patch(
                            f"/api/circuits/{pair[0]}", json={"parent_circuit_id": pair[1]}
                        ).status_code
                    ),
                    [(a["id"], b["id"]), (b["id"], a["id"])],
                )
            )
        assert sorted(results) == [200, 422]
        tree = api.get(f"/api/depots/{depot['id']}/tree").json()
        assert len(tree["circuits"]) == 1
        top = tree["circuits"][0]
        api.patch(f"/api/circuits/{top['children'][0]['id']}", json={"parent_circuit_id": None})
        api.delete(f"/api/circuits/{a['id']}")
        api.delete(f"/api/circuits/{b['id']}")
