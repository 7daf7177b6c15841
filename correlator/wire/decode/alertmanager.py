"""Alertmanager (and Grafana unified alerting) webhooks, and single Prometheus alert objects.

Two shapes:

* **webhook** (`format="alertmanager-webhook"`): Alertmanager's `webhook_config` body,
  ``{"version": "4", "groupKey": ..., "truncatedAlerts": 0, "status": ..., "alerts": [...]}``.
  One Alert per element of `alerts[]`; the group-level fields (`groupLabels`, `commonLabels`,
  `externalURL`, `receiver`, ...) repeat what the alerts carry and are not needed. `version` is
  not checked, and unknown fields are ignored, so Grafana's additions (`orgId`, `state`,
  `title`, `message`, `values`, `valueString`, `silenceURL`, `dashboardURL`, `panelURL`,
  `imageURL`) and newer Alertmanager fields pass through. `truncatedAlerts > 0` means the sender
  dropped alerts it did not send us; nothing here can recover them.
* **single alert** (`format="alertmanager-alert"`): one element of `alerts[]`, or the body of
  Alertmanager's `POST /api/v2/alerts` (what Prometheus sends), which has no `status`.

Per alert:

* `labels` is required (an object). Values must be strings; numbers and booleans are taken
  as text, nulls dropped, nested values refused (`invalid_field`).
* `status` "firing" | "resolved" (any case). Without `status`, Alertmanager's own rule
  applies: the alert is resolved when `endsAt` is set and not after the moment we received
  it, else firing (Prometheus sends firing alerts with an `endsAt` in the future as an
  expiry, and resolved ones with the time they stopped). Comparing with `received_at`, not
  the wall clock, keeps `replay` deterministic.
* `startsAt` missing or Go's zero time -> `received_at` (Alertmanager does the same with
  "now"). A firing alert has `ends_at=None` whatever its `endsAt` says: for a firing alert
  that field is an expiry, not an end. A resolved alert's `ends_at` is its `endsAt`, or
  `received_at` if it has none; an `endsAt` before `startsAt` is refused, as Alertmanager
  refuses it.
* `fingerprint` as given; if missing, Alertmanager's own fingerprint of the label set.
* name = `labels.alertname` (else "alert"); severity = `labels.severity`, normalised;
  summary = annotation `summary`, else `description`, else `message`, else the name.
* source = "grafana" when Grafana's fields are present (`orgId` on the webhook, or
  `silenceURL`/`dashboardURL`/`panelURL`/`values`/`valueString`/`imageURL` on the alert),
  else "alertmanager".

Fields that drive correlation (labels, status, timestamps, fingerprint) are strict; purely
informational ones (`generatorURL`) that are malformed are dropped instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from correlator.core.model import Alert, AlertStatus, normalise_severity
from correlator.wire.decode._common import (
    MAX_SUMMARY,
    MAX_TEXT,
    bounded_text,
    describe,
    invalid,
    labels_fingerprint,
    parse_time,
    show,
    string_map,
)

WEBHOOK_FORMAT: Final = "alertmanager-webhook"
ALERT_FORMAT: Final = "alertmanager-alert"

#: Per-alert keys only Grafana's webhook carries.
GRAFANA_ALERT_KEYS: Final = frozenset(
    {"silenceURL", "dashboardURL", "panelURL", "values", "valueString", "imageURL"}
)


def decode_webhook(obj: dict[str, Any], received_at: datetime) -> list[Alert]:
    """Every alert of an Alertmanager/Grafana webhook body, in the order sent."""
    alerts = obj.get("alerts")
    if not isinstance(alerts, list):
        raise invalid("alerts", f"expected an array of alerts, got {describe(alerts)}")
    grafana = "orgId" in obj
    out: list[Alert] = []
    for i, item in enumerate(alerts):
        prefix = f"alerts[{i}]."
        if not isinstance(item, dict):
            raise invalid(f"alerts[{i}]", f"expected an alert object, got {describe(item)}")
        out.append(_alert(item, prefix, received_at, WEBHOOK_FORMAT, grafana))
    return out


def decode_alert(obj: dict[str, Any], received_at: datetime) -> list[Alert]:
    """One Alertmanager/Prometheus alert object."""
    return [_alert(obj, "", received_at, ALERT_FORMAT, False)]


def _status(raw: object, prefix: str, ends: datetime | None, received_at: datetime) -> AlertStatus:
    if raw is None:
        return "resolved" if ends is not None and ends <= received_at else "firing"
    if isinstance(raw, str):
        low = raw.lower()
        if low == "firing":
            return "firing"
        if low == "resolved":
            return "resolved"
    raise invalid(prefix + "status", f"expected 'firing' or 'resolved', got {show(raw)}")


def _alert(
    item: dict[str, Any], prefix: str, received_at: datetime, fmt: str, grafana: bool
) -> Alert:
    raw_labels = item.get("labels")
    if not isinstance(raw_labels, dict):
        problem = "missing" if raw_labels is None else f"got {describe(raw_labels)}"
        raise invalid(prefix + "labels", f"an alert needs an object of labels ({problem})")
    labels = string_map(raw_labels, prefix + "labels", "label")
    annotations = string_map(item.get("annotations"), prefix + "annotations", "annotation")

    starts = parse_time(item.get("startsAt"), prefix + "startsAt")
    ends = parse_time(item.get("endsAt"), prefix + "endsAt")
    status = _status(item.get("status"), prefix, ends, received_at)

    if status == "firing":
        if starts is None:
            starts = received_at
        ends = None
    else:
        if ends is None:
            ends = received_at if starts is None or received_at >= starts else starts
        elif starts is not None and ends < starts:
            raise invalid(
                prefix + "endsAt",
                f"the alert ends ({ends.isoformat()}) before it starts ({starts.isoformat()})",
            )
        if starts is None:
            starts = ends if ends < received_at else received_at

    fingerprint = item.get("fingerprint")
    if fingerprint is None or fingerprint == "":
        fingerprint = labels_fingerprint(labels)
    elif not isinstance(fingerprint, str):
        raise invalid(prefix + "fingerprint", f"expected a string, got {describe(fingerprint)}")

    name = labels.get("alertname") or "alert"
    summary = bounded_text(
        annotations.get("summary")
        or annotations.get("description")
        or annotations.get("message")
        or name,
        MAX_SUMMARY,
    )
    generator_url = item.get("generatorURL")
    if not isinstance(generator_url, str) or not generator_url or len(generator_url) > MAX_TEXT:
        generator_url = None
    is_grafana = grafana or not GRAFANA_ALERT_KEYS.isdisjoint(item)

    # Plain construction, not `model_construct`: with pydantic-core validating in Rust, the
    # validated path measured faster (2.2 µs against 2.9 µs for this model) and stays safe.
    return Alert(
        fingerprint=fingerprint,
        name=name,
        status=status,
        severity=normalise_severity(labels.get("severity")),
        summary=summary,
        source="grafana" if is_grafana else "alertmanager",
        format=fmt,
        labels=labels,
        annotations=annotations,
        starts_at=starts,
        ends_at=ends,
        generator_url=generator_url,
        node=None,
    )
