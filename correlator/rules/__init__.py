"""The correlation rules, one concern a module, each a plain function or a small index:

* `dedup`        a re-send refreshes the alert and publishes nothing; a resolve or a new
                 occurrence is news.
* `mapping`      which topology node the alert speaks of (docs/formats.md), else unmapped.
* `suppression`  silences and maintenance windows: the alert is kept and counted, opens nothing.
* `flapping`     an alert that flips too often stops resolving/reopening its incident.
* `grouping`     whether two alerting nodes share a cause on the graph (the index the engine
                 asks which open incidents a new alert relates to).
* `rootcause`    rank the nodes by how well their failure explains the others (silent roots).
* `impact`       blast radius of the root cause(s): services, people, sites, cost per hour.
* `priority`     impact x urgency -> priority, and when users must next hear from the desk.

None of them holds state or knows the order it runs in: `correlator.core.pipeline` lists the
stages in order and applies the rules to the engine's state; the lifecycle around them
(hold-down, reopen window, forgetting) is `correlator.core.lifecycle`.
"""
