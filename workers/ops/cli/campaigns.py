"""``hookrelay stats`` and ``hookrelay campaign``: what the store followed, and
pause/resume/archive on the platform."""

from __future__ import annotations

import json

import click

from schemas.events import CAMPAIGN_KINDS, CONTROL_ACTIONS, STARTABLE_PLATFORMS
from workers.campaigns.campaign import Campaign
from workers.campaigns.control import CampaignControl
from workers.campaigns.hook_urls import HookUrls
from workers.core.connections import redis_client
from workers.core.platform_settings import platform_off_reason
from workers.core.readable import readable_time
from workers.ops.cli import platform_campaigns
from workers.ops.cli.common import settings, store, table
from workers.platforms.crm import CrmClient
from workers.platforms.errors import PlatformError
from workers.ratelimit.limiter import platform_limiter


@click.command(short_help="Print a campaign's latest statistics.")
@click.argument("platform")
@click.argument("campaign_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print what the API answers instead.")
def stats(platform: str, campaign_id: int, as_json: bool) -> None:
    """Print a campaign's latest totals and time series, source by source."""
    summary = store().summary(platform, campaign_id)
    if summary is None:
        raise click.ClickException(f"no statistics for {platform} campaign {campaign_id} yet")
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    campaign = summary["campaign"]
    click.echo(
        f"{platform} campaign {campaign_id} ({campaign['kind']}, {campaign['state']}), "
        f"fetched {readable_time(summary['fetched_at']) if summary['fetched_at'] else 'never'}"
    )
    rows = [
        (source, subject, metric, "total", value)
        for source, subjects in summary["totals"].items()
        for subject, metrics in subjects.items()
        for metric, value in metrics.items()
    ]
    rows += [
        (source, subject, metric, interval, value)
        for source, subjects in summary["series"].items()
        for subject, metrics in subjects.items()
        for metric, points in metrics.items()
        for interval, value in points
    ]
    table(("source", "subject", "metric", "interval", "value"), rows)
    for source, count in summary["log_rows"].items():
        click.echo(f"{source}: {count} raw rows")


@click.group(short_help="List campaigns; pause, resume, archive one.")
def campaign() -> None:
    """List followed campaigns; pause, resume or archive one on its platform."""


@campaign.command("list", short_help="List followed campaigns, or the platform's (--kind).")
@click.option("--limit", default=20, show_default=True, help="How many, newest first.")
@click.option("--kind", type=click.Choice(CAMPAIGN_KINDS), help="The platform's campaigns instead.")
@platform_campaigns.receiver_options
def campaign_list(limit: int, kind: str | None, url: str | None, key: str | None) -> None:
    """Campaigns hookrelay started or follows, newest first; with --kind, the S2S
    platform's campaigns of that kind (through the receiver)."""
    if kind is not None:
        platform_campaigns.platform_list(kind, url, key)
        return
    runs = store().runs(limit)
    if not runs:
        click.echo(
            "no campaigns yet: a campaign_start event, or the first post-send hook of a "
            "campaign, adds one"
        )
        return
    table(
        ("platform", "id", "kind", "state", "created", "started"),
        [
            (
                r.platform,
                r.campaign_id,
                r.kind,
                r.state,
                readable_time(r.created_at),
                readable_time(r.started_at),
            )
            for r in runs
        ],
    )


@campaign.command("hook-url", short_help="Print the hook URL to give a campaign.")
@click.argument("platform", type=click.Choice(STARTABLE_PLATFORMS))
@click.argument("campaign_id", type=int)
@click.option("--kind", type=click.Choice(CAMPAIGN_KINDS), default=CAMPAIGN_KINDS[0])
def campaign_hook_url(platform: str, campaign_id: int, kind: str) -> None:
    """Print the hook_url_template to give a campaign: this receiver's hook URL with the
    campaign's token, so its hooks are accepted with or without Basic auth."""
    given = settings()
    missing = [
        name
        for name, value in (
            ("HOOKRELAY_PUBLIC_URL", given.public_url),
            ("HOOKRELAY_HOOK_KEYS", given.hook_keys),
        )
        if not value
    ]
    if missing or given.public_url is None:
        raise click.ClickException(f"set {' and '.join(missing)} first (docs/configuration.md)")
    urls = HookUrls(given.public_url, given.hook_keys, given.hook_placeholder)
    click.echo(urls.template(Campaign(platform, campaign_id, kind)))


def _campaign_action(action: str) -> click.Command:
    @click.argument("platform", type=click.Choice(STARTABLE_PLATFORMS))
    @click.argument("campaign_id", type=int)
    @click.option("--kind", type=click.Choice(CAMPAIGN_KINDS), help="Default: as started.")
    def command(platform: str, campaign_id: int, kind: str | None) -> None:
        given = settings()
        if given.crm is None:
            raise click.ClickException(platform_off_reason(platform).removesuffix(", then replay"))
        limiter = platform_limiter(redis_client(given), given, platform)
        control = CampaignControl(CrmClient(given.crm, limiter=limiter), store(given))
        kind = control.kind_of(campaign_id, kind)
        try:
            control.apply(kind, campaign_id, action)
        except PlatformError as error:
            raise click.ClickException(f"{action} failed: {error}") from None
        click.echo(f"{action}: done ({platform} {kind} campaign {campaign_id})")

    command.__doc__ = f"{action.capitalize()} a campaign on its platform, now."
    return campaign.command(action)(command)


for _action in CONTROL_ACTIONS:
    _campaign_action(_action)


for _command in platform_campaigns.COMMANDS:
    campaign.add_command(_command)
