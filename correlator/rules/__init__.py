"""The correlation rules, one concern a module, run in this order for every alert:

1. `dedup`        a re-send refreshes the alert and publishes nothing; a resolve or a new
                  occurrence is news.
2. `mapping`      which topology node the alert speaks of (CONTRACT §2 chain), else unmapped.
3. `suppression`  silences and maintenance windows: the alert is kept and counted, opens nothing.
4. `flapping`     an alert that flips too often stops resolving/reopening its incident.
5. `grouping`     which open incident it joins (shared cause on the graph), merging incidents
                  that it relates; else a resolved incident on the same root cause is reopened;
                  else a new incident opens.

and then, for every incident those steps touched:

6. `rootcause`    rank the nodes by how well their failure explains the others (silent roots).
7. `impact`       blast radius of the root cause(s): services, people, sites, cost per hour.
8. `priority`     impact x urgency -> priority, resolver group, next status update.

The lifecycle around them (hold-down before resolving, the reopen window, forgetting) lives in
`correlator.core.engine`, which is the only place that holds state. Every stage is a plain function
or a small index over that state, so each can be tested alone.
"""
