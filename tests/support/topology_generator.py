"""Deterministic synthetic organisations, for tests and benchmarks at 1k..100k nodes.

`generate_topology(n_services, seed)` builds a layered org: data centres and offices joined by
WAN links (one office has a parallel backup circuit), redundant core switches, top-of-rack
switches, hosts, databases with replicas, services (some behind web pools in `any_of` groups,
some calling services in the other data centre), site-less business services with partitioning
domains, user groups with head counts at the offices, a user directory, and teams owning
everything. The result has about 2.7 x `n_services` nodes (plus links); size benchmarks by
`len(Topology.from_document(doc))`, not by `n_services`.
"""

from __future__ import annotations

from itertools import pairwise
from random import Random

from topology.schema import AnyOf, Link, Node, Site, Team, TopologyDocument, User

HOSTS_PER_RACK = 20
SERVICES_PER_TEAM = 25
SERVICES_PER_BUSINESS_SERVICE = 20
SERVICES_PER_USER_GROUP = 50
CALL_WINDOW = 200
"""Services call services created shortly before them: keeps the call graph local and acyclic."""


def generate_topology(n_services: int, seed: int, sites: int = 4) -> TopologyDocument:
    rng = Random(seed)
    n_dc = max(1, sites // 2)
    n_office = max(1, sites - n_dc)
    dcs = [f"dc-{i}" for i in range(n_dc)]
    offices = [f"office-{i}" for i in range(n_office)]

    site_models = [
        Site(id=dc, name=f"Data centre {i}", kind="datacentre") for i, dc in enumerate(dcs)
    ]
    site_models += [Site(id=o, name=f"Office {i}", kind="office") for i, o in enumerate(offices)]

    links: list[Link] = []

    def link(link_id: str, a: str, b: str) -> None:
        links.append(Link(id=link_id, between=(a, b), owner="network-ops", name=f"{a} - {b}"))

    for a, b in pairwise(dcs):
        link(f"wan-{a}-{b}", a, b)
    for i, office in enumerate(offices):
        link(f"wan-{office}-{dcs[i % n_dc]}", office, dcs[i % n_dc])
    link(f"wan-{offices[0]}-{dcs[0]}-backup", offices[0], dcs[0])  # a parallel circuit

    n_teams = max(1, n_services // SERVICES_PER_TEAM)
    teams = [
        Team(id="network-ops", name="Network operations", contact="netops@example.com"),
        Team(id="platform", name="Platform", contact="platform@example.com"),
        Team(id="dba", name="Databases", contact="dba@example.com"),
        Team(id="service-desk", name="Service desk", contact="desk@example.com"),
    ]
    teams += [
        Team(id=f"team-{k}", name=f"App team {k}", contact=f"team-{k}@example.com")
        for k in range(n_teams)
    ]

    nodes: list[Node] = []
    for dc in dcs:
        for side in ("a", "b"):
            nodes.append(
                Node(
                    id=f"{dc}-core-{side}",
                    kind="network",
                    site=dc,
                    owner="network-ops",
                    criticality="critical",
                )
            )

    hosts_by_dc: dict[str, list[str]] = {dc: [] for dc in dcs}
    for i in range(max(2 * n_dc, n_services // 2)):
        dc = dcs[i % n_dc]
        rack = len(hosts_by_dc[dc]) // HOSTS_PER_RACK
        tor = f"{dc}-tor-{rack}"
        if len(hosts_by_dc[dc]) % HOSTS_PER_RACK == 0:
            core = AnyOf(any_of=(f"{dc}-core-a", f"{dc}-core-b"), min_healthy=1)
            nodes.append(
                Node(id=tor, kind="network", site=dc, owner="network-ops", depends_on=(core,))
            )
        host = f"host-{i}"
        hosts_by_dc[dc].append(host)
        nodes.append(
            Node(
                id=host,
                kind="host",
                site=dc,
                owner="platform",
                depends_on=(tor,),
                aliases=(f"{host}.example.net",),
            )
        )

    dbs_by_dc: dict[str, list[str]] = {dc: [] for dc in dcs}
    replicas: list[str] = []
    for i in range(max(n_dc, n_services // 5)):
        dc = dcs[i % n_dc]
        primary, standby = (
            rng.sample(hosts_by_dc[dc], 2)
            if len(hosts_by_dc[dc]) > 1
            else (hosts_by_dc[dc][0],) * 2
        )
        nodes.append(
            Node(
                id=f"db-{i}",
                kind="database",
                site=dc,
                owner="dba",
                criticality="high",
                depends_on=(primary,),
            )
        )
        nodes.append(
            Node(id=f"db-{i}-replica", kind="database", site=dc, owner="dba", depends_on=(standby,))
        )
        dbs_by_dc[dc].append(f"db-{i}")
        replicas.append(f"db-{i}-replica")

    services: list[str] = []
    service_dc: dict[str, str] = {}
    for i in range(n_services):
        dc = rng.choice(dcs)
        svc = f"svc-{i}"
        owner = f"team-{i % n_teams}"
        depends: list[str | AnyOf] = []
        if rng.random() < 0.3:
            size = rng.choice((2, 3))
            pool = [f"{svc}-web-{k}" for k in range(size)]
            for web in pool:
                nodes.append(
                    Node(
                        id=web,
                        kind="service",
                        site=dc,
                        owner=owner,
                        depends_on=(rng.choice(hosts_by_dc[dc]),),
                    )
                )
            depends.append(AnyOf(any_of=tuple(pool), min_healthy=size - 1))
        else:
            depends.append(rng.choice(hosts_by_dc[dc]))
        if rng.random() < 0.7:
            db_dc = dc if rng.random() < 0.8 else rng.choice(dcs)
            depends.append(rng.choice(dbs_by_dc[db_dc]))
        window = services[-CALL_WINDOW:]
        for callee in rng.sample(window, min(len(window), rng.choice((0, 1, 1, 2)))):
            if callee not in depends:
                depends.append(callee)
        nodes.append(
            Node(
                id=svc,
                kind="service",
                site=dc,
                owner=owner,
                criticality=rng.choice(("low", "medium", "medium", "high")),
                match=({"job": svc},),
                aliases=(f"{svc}.example.com",),
                depends_on=tuple(depends),
            )
        )
        services.append(svc)
        service_dc[svc] = dc

    business: list[str] = []
    n_business = max(1, n_services // SERVICES_PER_BUSINESS_SERVICE)
    for j in range(n_business):
        start = rng.randrange(0, max(1, len(services) - 50))
        parts = rng.sample(services[start : start + 50], min(len(services), rng.randint(2, 5)))
        depends_bs: list[str | AnyOf] = list(dict.fromkeys(parts))
        if rng.random() < 0.2:
            depends_bs.append(rng.choice(replicas))  # a reporting service reading a replica
        bs = f"bs-{j}"
        nodes.append(
            Node(
                id=bs,
                kind="business_service",
                name=f"Business service {j}",
                owner=f"team-{j % n_teams}",
                criticality=rng.choice(("medium", "high", "critical")),
                domain=f"domain-{j % max(1, n_business // 10)}",
                depends_on=tuple(depends_bs),
            )
        )
        business.append(bs)

    for office in offices:
        nodes.append(
            Node(
                id=f"{office}-lan",
                kind="network",
                site=office,
                owner="network-ops",
                criticality="high",
            )
        )

    users: list[User] = []
    for k in range(max(1, n_services // SERVICES_PER_USER_GROUP)):
        office = offices[k % n_office]
        group = f"ug-{k}"
        used = rng.sample(business, min(len(business), rng.randint(2, 6)))
        nodes.append(
            Node(
                id=group,
                kind="user_group",
                name=f"User group {k}",
                owner="service-desk",
                site=office,
                users=rng.randint(10, 300),
                cost_per_user_hour=rng.choice((None, 50.0, 85.0)),
                depends_on=(f"{office}-lan", *used),
            )
        )
        users += [User(id=f"user-{k}-{m}", name=f"User {k}.{m}", groups=(group,)) for m in range(3)]

    return TopologyDocument(
        sites=tuple(site_models),
        links=tuple(links),
        teams=tuple(teams),
        nodes=tuple(nodes),
        users=tuple(users),
    )
