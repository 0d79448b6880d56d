"""Governance: reveal with justification, access-anomaly flags, and their policy settings.

The proxy calls :class:`Revealer` (``POST /_redactor/reveal``), :class:`AnomalyDetector`
(every request), and the helpers in :mod:`.tickets` to find a ticket and its state.
Settings live in the policy's ``governance`` section (:class:`GovernancePolicy`).
"""

from __future__ import annotations

from .anomaly import AccessEvent, AnomalyDetector, AnomalyFlag
from .reveal import RevealDecision, RevealOutcome, RevealPolicy, RevealRequest, Revealer
from .settings import (AnomalySettings, GovernancePolicy, RehydrateRoute, RehydrateSettings,
                       RevealBurstSettings, RevealSettings, ShiftHours, TicketFields,
                       VaultSettings, VolumeSettings)
from .tickets import TicketState, json_get, rehydrate_ticket, ticket_id_from_path, ticket_state

__all__ = [
    "AccessEvent",
    "AnomalyDetector",
    "AnomalyFlag",
    "AnomalySettings",
    "GovernancePolicy",
    "RehydrateRoute",
    "RehydrateSettings",
    "RevealBurstSettings",
    "RevealDecision",
    "RevealOutcome",
    "RevealPolicy",
    "RevealRequest",
    "RevealSettings",
    "Revealer",
    "ShiftHours",
    "TicketFields",
    "TicketState",
    "VaultSettings",
    "VolumeSettings",
    "json_get",
    "rehydrate_ticket",
    "ticket_id_from_path",
    "ticket_state",
]
