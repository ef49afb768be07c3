from __future__ import annotations

from django.apps import AppConfig


class BotrunnerConfig(AppConfig):
    name = "botrunner"
    verbose_name = "Discord bot"

    def ready(self) -> None:
        from botrunner.heartbeat import check_bot
        from predictmarket.health import register_check
        from predictmarket.outbox_status import register_outbox_consumer

        register_check("bot", check_bot)
        # botrunner.outbox_consumer.CONSUMER and RESULTS_CONSUMER (not imported: that
        # brings nextcord into every process).
        register_outbox_consumer("discord")
        register_outbox_consumer("discord-result-dms")
