"""Estates of other shapes than the layered one of `tests.support.topology_generator`.

* `enterprise_topology`: two data centres with shared infrastructure (one core switch stack
  without redundancy, one redundant core pair, distribution switches, storage arrays, hypervisor
  clusters whose hosts share an array, virtual machines, DNS and directory servers in redundant
  pairs across the data centres), application services and databases on the VMs, and offices on
  WAN links (some with a backup circuit) with their own switch and file server.
* `retail_topology`: a retail chain: a head-office data centre and a disaster-recovery one, and
  many small stores, each on one WAN circuit (some with a mobile backup), with a router, a
  switch, a store server, tills and handheld scanners that call the central point-of-sale,
  payment and stock services.

Both are deterministic in `seed` and differ in fan-out, depth and redundancy from the layered
estate the engine was first measured on.
"""

from __future__ import annotations

from random import Random
from typing import Any

from topology.schema import AnyOf, Link, Node, Site, Team, TopologyDocument, User

Dep = str | AnyOf


def _any(*members: str) -> AnyOf:
    return AnyOf(any_of=tuple(members), min_healthy=1)


class _Builder:
    def __init__(self) -> None:
        self.sites: list[Site] = []
        self.links: list[Link] = []
        self.nodes: list[Node] = []
        self.users: list[User] = []
        self.teams: dict[str, Team] = {}

    def team(self, team_id: str) -> str:
        self.teams.setdefault(team_id, Team(id=team_id, name=team_id.replace("-", " ").title()))
        return team_id

    def node(
        self, node_id: str, kind: str, owner: str, site: str | None, *deps: Dep, **kw: Any
    ) -> str:
        team = self.team(owner)
        self.nodes.append(Node(id=node_id, kind=kind, owner=team, site=site, depends_on=deps, **kw))
        return node_id

    def link(self, link_id: str, a: str, b: str) -> None:
        self.links.append(Link(id=link_id, between=(a, b), owner=self.team("network-ops")))

    def document(self) -> TopologyDocument:
        return TopologyDocument(
            sites=tuple(self.sites),
            links=tuple(self.links),
            teams=tuple(self.teams.values()),
            nodes=tuple(self.nodes),
            users=tuple(self.users),
        )


def enterprise_topology(seed: int, offices: int = 6, apps: int = 60) -> TopologyDocument:
    rng = Random(f"enterprise:{seed}")
    b = _Builder()
    dcs = ("dc-a", "dc-b")
    for dc in dcs:
        b.sites.append(Site(id=dc, kind="datacentre"))
    b.link("wan-dc-a-dc-b", "dc-a", "dc-b")
    vms: dict[str, list[str]] = {dc: [] for dc in dcs}
    hypervisors: dict[str, list[str]] = {dc: [] for dc in dcs}
    for dc in dcs:
        if dc == "dc-a":  # one switch stack: a single point of failure for the whole site
            core: Dep = b.node(f"{dc}-core", "network", "network-ops", dc, criticality="critical")
        else:
            pair = [b.node(f"{dc}-core-{s}", "network", "network-ops", dc) for s in "12"]
            core = _any(*pair)
        dists = [b.node(f"{dc}-dist-{k}", "network", "network-ops", dc, core) for k in range(3)]
        arrays = [
            b.node(f"{dc}-array-{k}", "storage", "storage", dc, dists[k % 3], criticality="high")
            for k in range(2)
        ]
        for c in range(rng.randint(2, 3)):
            array = arrays[c % 2]
            for h in range(rng.randint(3, 6)):
                hv = b.node(f"{dc}-esx-{c}-{h}", "host", "platform", dc, rng.choice(dists), array)
                hypervisors[dc].append(hv)
                for v in range(rng.randint(2, 4)):
                    vms[dc].append(b.node(f"{hv}-vm-{v}", "vm", "platform", dc, hv))
        for k in range(2):
            b.node(f"{dc}-dbhost-{k}", "host", "dba", dc, rng.choice(dists), arrays[k])
    dns = _any(
        b.node("dns-1", "service", "infra", "dc-a", vms["dc-a"][0]),
        b.node("dns-2", "service", "infra", "dc-b", vms["dc-b"][0]),
    )
    ad = _any(
        b.node("ad-1", "service", "infra", "dc-a", vms["dc-a"][1]),
        b.node("ad-2", "service", "infra", "dc-b", vms["dc-b"][1]),
    )
    dbs: dict[str, list[str]] = {dc: [] for dc in dcs}
    for dc in dcs:
        for k in range(2):
            for d in range(rng.randint(2, 4)):
                db = b.node(f"{dc}-db-{k}-{d}", "database", "dba", dc, f"{dc}-dbhost-{k}")
                dbs[dc].append(db)
    used = {vms["dc-a"][0], vms["dc-a"][1], vms["dc-b"][0], vms["dc-b"][1]}
    free = {dc: [v for v in vms[dc] if v not in used] for dc in dcs}
    services: list[str] = []
    for i in range(apps):
        dc = rng.choice(dcs)
        team = f"app-{i % 8}"
        deps: list[Dep] = []
        if rng.random() < 0.3 and len(free[dc]) >= 2:
            pool = rng.sample(free[dc], 2)
            deps.append(_any(*pool))
        else:
            deps.append(rng.choice(free[dc]))
        if rng.random() < 0.6:
            deps.append(rng.choice(dbs[dc]))
        if rng.random() < 0.8:
            deps.append(dns)
        if rng.random() < 0.4:
            deps.append(ad)
        for callee in rng.sample(services[-15:], min(len(services[-15:]), rng.choice((0, 0, 1)))):
            deps.append(callee)
        services.append(
            b.node(
                f"app-{i}",
                "service",
                team,
                dc,
                *deps,
                criticality=rng.choice(("low", "medium", "high")),
            )
        )
    business = []
    for j in range(max(2, apps // 6)):
        parts = rng.sample(services, rng.randint(2, 4))
        business.append(
            b.node(
                f"bs-{j}",
                "business_service",
                f"app-{j % 8}",
                None,
                *parts,
                criticality=rng.choice(("medium", "high")),
            )
        )
    for o in range(offices):
        site = f"office-{o}"
        b.sites.append(Site(id=site, kind="office"))
        home = dcs[o % 2]
        b.link(f"wan-{site}", site, home)
        if o % 3 == 0:
            b.link(f"wan-{site}-backup", site, home)
        sw = b.node(f"{site}-sw", "network", "network-ops", site)
        fs = b.node(f"{site}-files", "host", "platform", site, sw, ad)
        b.node(f"{site}-print", "host", "platform", site, sw)
        for g in range(rng.randint(1, 3)):
            group = f"{site}-staff-{g}"
            b.node(
                group,
                "user_group",
                "desk",
                site,
                sw,
                fs,
                *rng.sample(business, rng.randint(1, 3)),
                users=rng.randint(20, 250),
            )
            b.users.append(User(id=f"{group}-u", groups=(group,)))
    return b.document()


def retail_topology(seed: int, stores: int = 30) -> TopologyDocument:
    rng = Random(f"retail:{seed}")
    b = _Builder()
    for dc in ("hq-dc", "dr-dc"):
        b.sites.append(Site(id=dc, kind="datacentre"))
    b.link("wan-hq-dr", "hq-dc", "dr-dc")
    core = b.node("hq-core", "network", "network-ops", "hq-dc", criticality="critical")
    fw = b.node("hq-fw", "network", "network-ops", "hq-dc", core, criticality="critical")
    array = b.node("hq-array", "storage", "storage", "hq-dc", core, criticality="high")
    hosts = [b.node(f"hq-host-{k}", "host", "platform", "hq-dc", core, array) for k in range(10)]
    dr_core = b.node("dr-core", "network", "network-ops", "dr-dc")
    dr_hosts = [b.node(f"dr-host-{k}", "host", "platform", "dr-dc", dr_core) for k in range(3)]
    dns = _any(
        b.node("dns-hq", "service", "infra", "hq-dc", hosts[0]),
        b.node("dns-dr", "service", "infra", "dr-dc", dr_hosts[0]),
    )
    stock_db = b.node("stock-db", "database", "dba", "hq-dc", hosts[1], criticality="high")
    b.node("stock-db-replica", "database", "dba", "dr-dc", dr_hosts[1])
    orders_db = b.node("orders-db", "database", "dba", "hq-dc", hosts[2])

    def pool(name: str, *deps: Dep, size: int = 2) -> AnyOf:
        members = [
            b.node(
                f"{name}-{k}",
                "service",
                "retail-apps",
                "hq-dc",
                hosts[3 + (k + len(name)) % 7],
                *deps,
            )
            for k in range(size)
        ]
        return _any(*members)

    pos = b.node(
        "pos-backend",
        "service",
        "retail-apps",
        "hq-dc",
        pool("pos-api", stock_db, dns),
        criticality="high",
    )
    pay = b.node(
        "payments", "service", "payments", "hq-dc", pool("pay-gw", fw, dns), criticality="critical"
    )
    stock = b.node("stock-service", "service", "retail-apps", "hq-dc", hosts[9], stock_db, dns)
    shop = b.node(
        "web-shop",
        "service",
        "ecommerce",
        "hq-dc",
        pool("shop-web", orders_db, pay),
        criticality="high",
    )
    b.node("erp", "service", "erp", "hq-dc", hosts[8], orders_db, stock_db)
    checkout = b.node(
        "bs-checkout", "business_service", "retail-apps", None, pos, pay, criticality="critical"
    )
    stock_bs = b.node("bs-stock", "business_service", "retail-apps", None, stock)
    online = b.node("bs-online", "business_service", "ecommerce", None, shop)
    for s in range(stores):
        site = f"store-{s}"
        b.sites.append(Site(id=site, kind="store"))
        b.link(f"wan-{site}", site, "hq-dc")
        if rng.random() < 0.4:
            b.link(f"wan-{site}-lte", site, "hq-dc")
        router = b.node(f"{site}-router", "network", "network-ops", site)
        sw = b.node(f"{site}-sw", "network", "network-ops", site, router)
        server = b.node(f"{site}-server", "host", "store-it", site, sw)
        b.node(f"{site}-store-app", "service", "store-it", site, server, stock)
        for t in range(rng.randint(3, 7)):
            b.node(f"{site}-till-{t}", "pos", "store-it", site, sw, pos, pay)
        ap = b.node(f"{site}-wifi", "network", "network-ops", site, sw)
        for h in range(rng.randint(1, 4)):
            b.node(f"{site}-scanner-{h}", "device", "store-it", site, ap, stock)
        group = f"{site}-staff"
        b.node(group, "user_group", "desk", site, sw, checkout, stock_bs, users=rng.randint(8, 60))
        b.users.append(User(id=f"{group}-u", groups=(group,)))
    b.sites.append(Site(id="hq-office", kind="office"))
    b.link("lan-hq-office", "hq-office", "hq-dc")
    b.node("hq-office-sw", "network", "network-ops", "hq-office")
    b.node(
        "hq-buyers", "user_group", "desk", "hq-office", "hq-office-sw", stock_bs, online, users=120
    )
    return b.document()
