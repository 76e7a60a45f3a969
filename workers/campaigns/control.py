"""Pause, resume and archive a campaign on its platform, and keep its run's state in
step, so ``hookrelay campaign list`` says what the platform was last told."""

from __future__ import annotations

from workers.campaigns.store import Store
from workers.platforms.crm import CrmClient
from workers.platforms.unconfigured import Unconfigured

#: A campaign run's state after each action succeeded.
STATE_AFTER = {"pause": "paused", "resume": "started", "archive": "archived"}


class CampaignControl:
    def __init__(self, crm: CrmClient | Unconfigured, store: Store) -> None:
        self._crm = crm
        self._store = store

    def kind_of(self, campaign_id: int, given: str | None) -> str:
        """The kind to address: the one given, else the one it was started with."""
        run = self._store.run("crm", campaign_id)
        return given or (run.kind if run else "mailing")

    def apply(self, kind: str, campaign_id: int, action: str) -> None:
        """Call the platform; once it accepted, record the new state (a campaign
        hookrelay does not follow has no run to update)."""
        self._crm.campaign_action(kind, campaign_id, action)
        self._store.set_state("crm", campaign_id, STATE_AFTER[action])
